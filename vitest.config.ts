import { defineConfig } from 'vitest/config';

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
    // As for the CLI processes tests start (test/helpers/cli.ts TEST_NODE_FLAGS): V8's optimising tier
    // costs each worker seconds of CPU compiling PGlite's WebAssembly, more than a test file gains.
    execArgv: ['--liftoff-only'],
  },
});
