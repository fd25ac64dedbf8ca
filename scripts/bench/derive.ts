/**
 * Derivation benchmark: identifiers normalised and digested per second for each type, beside raw
 * HMAC-SHA256 of the same input strings in the same run; and batch signing / verification in items
 * per second, beside raw HMAC of the same items. Single-threaded: every figure is per core.
 *
 *   npm run bench:derive -- [--seconds S] [--json]
 *
 * Inputs: the valid inputs of the published vectors (test/vectors/identifiers.json), cycled.
 * Goals (issue 3): email, url, domain, ip >= 200,000/s per core; phone >= 50,000/s.
 */
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { IDENTIFIER_TYPES, type IdentifierType } from '../../node/records/model.ts';
import { normalize } from '../../node/indicators/normalize/index.ts';
import { deriveDigest, epochKey } from '../../node/indicators/derive.ts';
import { loadVectors } from '../../test/helpers/vectors.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '0.5' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  process.stdout.write('Usage: npm run bench:derive -- [--seconds S] [--json]\n');
  process.exit(0);
}
const SECONDS = Number(values.seconds);
if (!(SECONDS > 0)) {
  process.stderr.write('--seconds must be a positive number\n');
  process.exit(2);
}

const GOALS: Partial<Record<IdentifierType, number>> = { email: 200_000, url: 200_000, domain: 200_000, ip: 200_000, phone: 50_000 };
// The baseline HMACs with the same prepared key object as the derivation.
const KEY = epochKey(randomBytes(32));

/** Calls `fn(i)` for about SECONDS after a warm-up; returns calls per second. */
function rate(fn: (i: number) => void): number {
  for (let i = 0; i < 2000; i++) fn(i);
  let n = 0;
  const start = performance.now();
  const until = start + SECONDS * 1000;
  while (performance.now() < until) {
    for (let k = 0; k < 256; k++) fn(n++);
  }
  return n / ((performance.now() - start) / 1000);
}

interface Figure {
  name: string;
  value: number;
  unit: string;
  baseline: number;
  baselineName: string;
  goal: number | null;
  pass: boolean | null;
}
const figures: Figure[] = [];

const vectors = loadVectors();
for (const type of IDENTIFIER_TYPES) {
  const inputs = (vectors[type]?.valid ?? []).map((v) => ({ input: v.input, region: v.region }));
  if (inputs.length === 0) continue;
  const value = rate((i) => {
    const x = inputs[i % inputs.length]!;
    deriveDigest(KEY, type, normalize(type, x.input, { region: x.region }));
  });
  const baseline = rate((i) => {
    createHmac('sha256', KEY).update(inputs[i % inputs.length]!.input).digest();
  });
  const goal = GOALS[type] ?? null;
  figures.push({ name: `normalise+digest ${type}`, value, unit: 'identifiers/s', baseline, baselineName: 'raw HMAC-SHA256', goal, pass: goal === null ? null : value >= goal });
}

await benchBatches();

async function benchBatches(): Promise<void> {
  let batch: typeof import('../../node/indicators/batch.ts');
  try {
    batch = await import('../../node/indicators/batch.ts');
  } catch {
    return;
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const items = Array.from({ length: 1000 }, (_, i) => ({
    type: 'email' as const,
    digest: deriveDigest(KEY, 'email', `seller${i}@example.com`),
    op: 'add' as const,
    ref: randomBytes(16).toString('base64url'),
    categories: ['COUNTERFEIT' as const],
    status: 'SUSPECTED' as const,
    confidence: 60,
    firstSeen: '2026-11-25',
    expiresAt: '2027-11-25T00:00:00Z',
  }));
  const b = { v: 1 as const, alliance: 'bench', origin: 'member-a', kid: 'k1', epoch: 1, seq: 1, prev: null, createdAt: '2026-11-25T00:00:00Z', items };
  const jws = await batch.signBatch(b, { privateKey, kid: 'k1' });
  const N = 20;
  let t = performance.now();
  for (let i = 0; i < N; i++) await batch.signBatch(b, { privateKey, kid: 'k1' });
  const signRate = (N * items.length) / ((performance.now() - t) / 1000);
  t = performance.now();
  for (let i = 0; i < N; i++) await batch.verifyBatch(jws, { alliance: 'bench', resolveKey: () => publicKey });
  const verifyRate = (N * items.length) / ((performance.now() - t) / 1000);
  const itemJson = items.map((x) => JSON.stringify(x));
  const hmacRate = rate((i) => {
    createHmac('sha256', KEY).update(itemJson[i % itemJson.length]!).digest();
  });
  figures.push({ name: 'batch sign (1,000 items, Ed25519)', value: signRate, unit: 'items/s', baseline: hmacRate, baselineName: 'raw HMAC-SHA256 per item', goal: null, pass: null });
  figures.push({ name: 'batch verify (1,000 items, Ed25519)', value: verifyRate, unit: 'items/s', baseline: hmacRate, baselineName: 'raw HMAC-SHA256 per item', goal: null, pass: null });
}

if (values.json) {
  process.stdout.write(`${JSON.stringify({ machine: { node: process.version, cpus: navigator.hardwareConcurrency }, figures }, null, 2)}\n`);
} else {
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const rows = figures.map((f) => [f.name, fmt(f.value), fmt(f.baseline), `${Math.round((100 * f.value) / f.baseline)}%`, f.goal === null ? '' : `>= ${fmt(f.goal)}`, f.pass === null ? '' : f.pass ? 'pass' : 'FAIL']);
  const head = ['figure', 'per second', 'baseline (raw HMAC)', 'of baseline', 'goal', 'result'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  process.stdout.write(`derivation, ${process.version}, one core\n${line(head)}\n${rows.map(line).join('\n')}\n`);
}
process.exitCode = figures.some((f) => f.pass === false) ? 1 : 0;
