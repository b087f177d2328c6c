// /dev/shm inspection for tests: what exists, and waiting for it to go.
import fs from 'node:fs';
import { listSharedObjects } from '../../dist/index.js';

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

const cmdline = (pid: number): string => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim().slice(0, 160);
  } catch {
    return 'gone';
  }
};

/** What each object is and who still holds it: enough to tell which test left it. */
export function describeObjects(names: string[]): string {
  const info = new Map(listSharedObjects().map((o) => [o.name, o]));
  return names
    .map((name) => {
      const o = info.get(name);
      if (!o) return `${name} (gone by now)`;
      const holders = o.openBy.map((pid) => `${pid}: ${cmdline(pid)}`).join('; ') || 'none';
      return `${name} (${o.type}, ${o.size} bytes, modified ${o.modified.toISOString()}, tracker ${o.trackerPid} ${o.trackerAlive ? 'alive' : 'dead'}, open by ${holders})`;
    })
    .join('\n  ');
}
