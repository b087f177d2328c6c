// After the whole run, nothing of ours may be left in /dev/shm: every test
// cleans up what it creates, and the trackers of the test processes (which
// have all exited by now) remove the rest within moments.
import fs from 'node:fs';
import { listSharedObjects } from '../../dist/index.js';
import { ourObjects, waitUntil } from './shm';

const cmdline = (pid: number): string => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim().slice(0, 160);
  } catch {
    return 'gone';
  }
};

// What each leftover is and who still holds it: enough to tell which test left it.
function describeLeftovers(names: string[]): string {
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

export default function setup(): () => Promise<void> {
  const before = new Set(ourObjects());
  return async () => {
    const leftovers = (): string[] => ourObjects().filter((e) => !before.has(e));
    try {
      await waitUntil(() => leftovers().length === 0, '/dev/shm holds nothing new of ours', 10_000);
    } catch {
      // vitest prints an error thrown here ("error during close") but exits 0: the run must fail.
      process.exitCode = 1;
      throw new Error(`the test run left objects in /dev/shm:\n  ${describeLeftovers(leftovers())}`);
    }
  };
}
