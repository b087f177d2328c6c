import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each test file in its own process: the addon, its waiter threads and
    // the resource tracker are per process, as in real programs.
    pool: 'forks',
    // gc() lets the per-file leak check collect what tests dropped: objects
    // that own shared memory unlink it when they are collected.
    execArgv: ['--expose-gc'],
    maxWorkers: 2,
    // A loaded 2-core machine: tests wait on events with generous limits.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    setupFiles: ['test/helpers/setup.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
  },
});
