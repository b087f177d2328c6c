// /dev/shm inspection for tests: what exists, and waiting for it to go.
import fs from 'node:fs';

export const exists = (name: string): boolean => fs.existsSync(`/dev/shm/${name}`);
export const semExists = (name: string): boolean => fs.existsSync(`/dev/shm/sem.${name}`);

/** Ours: the names multiproc generates, and those the tests make up. */
export function ourObjects(): string[] {
  return fs.readdirSync('/dev/shm').filter((e) => /^(sem\.)?mp-/.test(e));
}

/** Resolves once `check()` is true; rejects after `limitMs` (a generous bound, not a timing claim). */
export async function waitUntil(check: () => boolean, what: string, limitMs = 30_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  for (let delay = 5; !check(); delay = Math.min(delay * 2, 100)) {
    if (Date.now() > deadline) throw new Error(`gave up waiting until ${what} (${limitMs} ms)`);
    await new Promise((r) => setTimeout(r, delay));
  }
}
