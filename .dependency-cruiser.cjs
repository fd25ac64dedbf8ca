/**
 * The layering of the node (docs/architecture.md, "Layers"), as rules that `npm test` checks
 * (`npm run check:deps`): dependencies point down this list, never up; folders of one layer do not
 * import each other except where listed; no module cycles; scripts/ does not import test/.
 */
const LAYERS = [
  // 0: what everything may use
  ['errors', '^node/errors\\.ts$', 0],
  // 1: pure foundations, importing nothing of the node but errors
  ['encoding', '^node/encoding/', 1],
  ['identifiers', '^node/identifiers/', 1],
  // 2: settings and process helpers (atomic-file: every layer above writes its files through it)
  ['config', '^node/(config|log|ports|listen-record|periodic|atomic-file)\\.ts$', 2],
  // 3: the database seam
  ['storage', '^node/storage/', 3],
  // 4: modules that own tables
  ['records', '^node/records/', 4],
  ['membership', '^node/membership/', 4],
  ['audit', '^node/audit/', 4],
  ['accounts', '^node/accounts/', 4],
  // 5: services over them
  ['indicators', '^node/indicators/', 5],
  ['matching', '^node/matching/', 5],
  ['lookup', '^node/lookup/', 5],
  ['collaboration', '^node/collaboration/', 5],
  // 6: transports
  ['p2p', '^node/p2p/', 6],
  ['api', '^node/api/', 6],
  // 7: the composition root
  ['node', '^node/node\\.ts$', 7],
  // 8: entry points
  ['cli', '^node/cli/', 8],
  ['demo', '^node/demo/', 8],
];

/** Same-layer imports that are part of the design: [from, to]. Everything else across folders of a layer is refused. */
const ALLOWED_ACROSS = [
  ['identifiers', 'encoding'],
  ['records', 'audit'],
  ['api', 'p2p'],
  ['matching', 'indicators'],
  ['lookup', 'indicators'],
  ['lookup', 'matching'],
  ['collaboration', 'indicators'],
  ['collaboration', 'matching'],
  ['cli', 'demo'],
];

const forbidden = [];
for (const [from, fromPath, fromLayer] of LAYERS) {
  for (const [to, toPath, toLayer] of LAYERS) {
    if (from === to) continue;
    const upward = toLayer > fromLayer;
    const across = toLayer === fromLayer && !ALLOWED_ACROSS.some(([a, b]) => a === from && b === to);
    if (!upward && !across) continue;
    forbidden.push({
      name: upward ? `no-upward-${from}-to-${to}` : `no-across-${from}-to-${to}`,
      comment: upward ? `${from} (layer ${fromLayer}) may not import ${to} (layer ${toLayer}): dependencies point down` : `${from} and ${to} are of one layer and do not import each other`,
      severity: 'error',
      from: { path: fromPath },
      to: { path: toPath },
    });
  }
}

module.exports = {
  forbidden: [
    ...forbidden,
    {
      name: 'no-circular',
      comment: 'no module cycles, type-only imports included: each cycle is a knot that makes layers meaningless',
      severity: 'error',
      from: { path: '^node/' },
      to: { circular: true },
    },
    {
      name: 'scripts-not-test',
      comment: 'scripts/ (benches, deployment) does not import test/: what both need lives in node/ or scripts/',
      severity: 'error',
      from: { path: '^scripts/' },
      to: { path: '^test/' },
    },
    {
      name: 'node-not-outside',
      comment: 'the product does not import test/ or scripts/',
      severity: 'error',
      from: { path: '^node/' },
      to: { path: '^(test|scripts)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^console/' },
  },
};
