// The resource tracker seen from JS (native/core/tracker.h has the design):
// what a child needs to inherit it, and the list of our objects in /dev/shm.
import fs from 'node:fs';
import { addon } from './addon';
import { GENERATED_NAME } from './names';
import { CHILD } from './payload';

/**
 * What makes a spawned child share this program's tracker: put `fd` at
 * index `slot` of the child's stdio array and merge `env` into its
 * environment. The child's addon adopts it on first use.
 */
export function trackerInheritance(slot: number): { env: Record<string, string>; fd: number } {
  const { pid, fd } = addon().trackerInfo();
  return { env: { [CHILD.env.trackerPid]: String(pid), [CHILD.env.trackerFd]: String(slot) }, fd };
}

export interface SharedObjectInfo {
  kind: 'segment' | 'semaphore';
  /** Bare name, as SharedMemory({ name }) takes it. */
  name: string;
  path: string;
  size: number;
  uid: number;
  modified: Date;
  /** pid of the tracker that will remove it. */
  trackerPid: number;
  /** Whether that tracker is still running: false means an orphan nobody will remove. */
  trackerAlive: boolean;
}

const SHM_DIR = '/dev/shm';

export function isTrackerAlive(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'mp-tracker';
  } catch {
    return false;
  }
}

/** Every object in /dev/shm that multiproc named ("mp-<tracker>-<random>"). */
export function listSharedObjects(): SharedObjectInfo[] {
  let entries: string[];
  try {
    entries = fs.readdirSync(SHM_DIR);
  } catch {
    return [];
  }
  const out: SharedObjectInfo[] = [];
  for (const entry of entries) {
    const semaphore = entry.startsWith('sem.');
    const name = semaphore ? entry.slice(4) : entry;
    const match = GENERATED_NAME.exec(name);
    if (!match) continue;
    const path = `${SHM_DIR}/${entry}`;
    let stat: fs.Stats;
    try {
      stat = fs.statSync(path);
    } catch {
      continue;  // removed meanwhile
    }
    const trackerPid = parseInt(match[1]!, 36);
    out.push({
      kind: semaphore ? 'semaphore' : 'segment', name, path, size: stat.size, uid: stat.uid,
      modified: stat.mtime, trackerPid, trackerAlive: isTrackerAlive(trackerPid),
    });
  }
  return out.sort((a, b) => a.modified.getTime() - b.modified.getTime());
}
