// Where the bench lives and what it measures with: its folders, the CPUs, the addon.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = path.resolve(BENCH_DIR, '..');
export const RESULTS_DIR = path.join(BENCH_DIR, 'results');
export const SCRATCH_DIR = path.join(BENCH_DIR, '.scratch');

/**
 * CPUs of the machine. Not os.availableParallelism(): that follows this
 * thread's affinity, which the pinned benchmarks change while they run.
 */
export const CPUS = os.cpus().length;

/** The addon, loaded the way the package loads it (dist/binding/native.js). */
export function loadNative() {
  const file = path.join(REPO_ROOT, 'dist', 'binding', 'native.js');
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: run \`npm run build:ts\` (and \`npm run build:native\`) first`);
  }
  return require(file).native;
}
