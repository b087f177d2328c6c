// CPython peers: run a small Python program that measures itself and prints
// JSON on its last line. Skipped (null) where python3 is absent.
import { spawnSync } from 'node:child_process';

let available;
export function hasPython() {
  if (available === undefined) {
    available = spawnSync('python3', ['-c', 'import multiprocessing'], { stdio: 'ignore' }).status === 0;
  }
  return available;
}

/** Runs `code` with argv; returns its parsed last stdout line, or null without python3. */
export function runPython(code, args = [], timeoutMs = 300_000) {
  if (!hasPython()) return null;
  const r = spawnSync('python3', ['-c', code, ...args.map(String)], { encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`python3 failed (${r.status ?? r.signal}): ${r.stderr.trim().split('\n').pop()}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

/** A benchmark's result from a Python program's samples: { samples }, or { skipped } without python3. */
export function pythonSamples(code, args = [], timeoutMs) {
  const samples = runPython(code, args, timeoutMs);
  return samples ? { samples } : { skipped: 'python3 with multiprocessing is not installed' };
}
