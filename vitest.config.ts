import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // PGlite instances and child processes are heavy; two workers match the 2-core machines CI runs on.
    pool: 'forks',
    maxWorkers: 2,
  },
});
