import { defineConfig } from 'vitest/config';
import { TEST_NODE_FLAGS } from './test/helpers/node-flags.ts';

// Two tiers (docs/development.md, "Tests"): `unit` runs in-process against real storage (PGlite,
// PostgreSQL) and the API on loopback, no child processes and no networks of nodes; `e2e` starts
// processes, alliances of nodes, browsers. `npm run test:unit` is the loop to work in.
const shared = {
  globalSetup: ['test/global-setup.ts'],
  // Generous: a command that creates an embedded database takes 5-15 s on a busy 2-core machine.
  testTimeout: 60_000,
  hookTimeout: 120_000,
  // PGlite instances and child processes are heavy; two workers match the 2-core machines CI runs on.
  pool: 'forks' as const,
  maxWorkers: 2,
  // V8 flags only (test/helpers/node-flags.ts says why).
  execArgv: TEST_NODE_FLAGS,
};

export default defineConfig({
  test: {
    projects: [
      // Unit files share a worker's module cache: no file changes process-wide state that another
      // reads, and loading the node's modules once per worker instead of once per file is most of
      // the tier's time.
      { test: { ...shared, name: 'unit', include: ['test/unit/**/*.test.ts'], isolate: false } },
      { test: { ...shared, name: 'e2e', include: ['test/e2e/**/*.test.ts'] } },
    ],
  },
});
