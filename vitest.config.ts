import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each test file in its own process: the addon, its waiter threads and
    // the resource tracker are per process, as in real programs.
    pool: 'forks',
    maxWorkers: 2,
    // A loaded 2-core machine: tests wait on events with generous limits.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    setupFiles: ['test/helpers/setup.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
  },
});
