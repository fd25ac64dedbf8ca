import { defineConfig } from 'vitest/config';
import { TEST_NODE_FLAGS } from './test/helpers/node-flags.ts';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Generous: a command that creates an embedded database takes 5-15 s on a busy 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // PGlite instances and child processes are heavy; two workers match the 2-core machines CI runs on.
    pool: 'forks',
    maxWorkers: 2,
    // V8 flags only (test/helpers/node-flags.ts says why).
    execArgv: TEST_NODE_FLAGS,
  },
});
