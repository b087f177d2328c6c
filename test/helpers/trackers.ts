// A program's resource trackers seen from outside (native/core/tracker.h):
// which of its tracker processes are active and which are backups, and
// what of its objects is still in /dev/shm.
import fs from 'node:fs';
import { listSharedObjects, type SharedObjectInfo } from '../../dist/index.js';
import { native } from '../../dist/binding/native.js';
import { cleanSharedObjects, trackerProcesses } from '../../dist/shm/tracker.js';

const comm = (pid: number): string => {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};

/** The live tracker processes of the program tagged `tag`, by role. */
export function trackersOf(tag: string): { active: number[]; backup: number[] } {
  const pids = trackerProcesses(tag);
  return {
    active: pids.filter((p) => comm(p) === `mp-trk-${tag}`),
    backup: pids.filter((p) => comm(p) === `mp-trk-${tag}-b`),
  };
}

/** What of the program tagged `tag` is still in /dev/shm. */
export const objectsOf = (tag: string): SharedObjectInfo[] => listSharedObjects().filter((o) => o.program === tag);

/**
 * After both trackers of a program were killed, what it leaves is for
 * `multiproc clean`: the objects of the tag that clean would remove (no
 * tracker alive, no process using them). Removes them and returns those
 * clean would keep (which must be none once the program has ended).
 */
export function cleanOrphansOf(tag: string): string[] {
  const decisions = cleanSharedObjects(objectsOf(tag));
  return decisions.filter((d) => !d.remove).map((d) => `${d.object.name} (${d.reason})`);
}

/** Removes what a test's child program left behind (after the test has failed on it). */
export function removeObjectsOf(tag: string): void {
  for (const o of objectsOf(tag)) fs.rmSync(o.path, { force: true });
}

/**
 * SIGKILLs tracker processes with everything in their process groups: each
 * pair lives in a session of its own (its first active calls setsid()), so
 * this also gets a backup that is being forked and is not named yet.
 */
export function killTrackerGroups(pids: number[]): void {
  const groups = new Set<number>();
  for (const pid of pids) {
    try {
      // One read gives the name and the group together: if the pid went to
      // another process meanwhile, its name is not a tracker's.
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (!stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).startsWith('mp-trk-')) continue;
      groups.add(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]));
    } catch {
      // already gone
    }
  }
  const mine = Number(fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[2]);
  for (const g of groups) {
    if (g > 1 && g !== mine) process.kill(-g, 'SIGKILL');
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * Objects of this process's tracker that no process maps or holds open
 * (and that were not there in `before`): nothing can use them any more,
 * yet they stay until the program ends. Once the processes that could have
 * been using them are gone, there should be none.
 */
export function strayObjects(before: ReadonlySet<string> = new Set()): SharedObjectInfo[] {
  const me = native.trackerInfo().pid;
  return listSharedObjects().filter((o) => o.trackerPid === me && o.openBy.length === 0 && o.openByComplete && !before.has(o.name));
}

/** The names of this process's tracker's objects now, for strayObjects(). */
export const objectsNow = (): Set<string> => {
  const me = native.trackerInfo().pid;
  return new Set(
    listSharedObjects()
      .filter((o) => o.trackerPid === me)
      .map((o) => o.name),
  );
};
