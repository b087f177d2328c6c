// The resource tracker seen from JS (native/core/tracker.h has the design):
// what a child needs to inherit it, the list of our objects in /dev/shm with
// who uses them, and which of them `multiproc clean` may remove.
import fs from 'node:fs';
import { addon } from '../binding/addon';
import { parseObjectName } from './names';
import { CHILD } from '../base/child';
import { Kind, MAGIC, SIDE_MAGIC } from '../binding/layout';

/**
 * What makes a spawned child share this program's tracker: put `fd` at
 * index `slot` of the child's stdio array and merge `env` into its
 * environment. The child's addon adopts it on first use.
 */
export function trackerInheritance(slot: number): { env: Record<string, string>; fd: number } {
  const { pid, fd } = addon().trackerInfo();
  return { env: { [CHILD.env.trackerPid]: String(pid), [CHILD.env.trackerFd]: String(slot) }, fd };
}

/** What a multiproc object in /dev/shm holds, read from its first bytes (see classifyObject). */
export type SharedObjectType =
  | 'Lock'
  | 'RLock'
  | 'Semaphore'
  | 'BoundedSemaphore'
  | 'Event'
  | 'Condition'
  | 'Barrier'
  | 'Queue'
  | 'Value'
  | 'SharedArray'
  | 'QueueItem' // the side segment of a queue item too big for the ring
  | 'NamedSemaphore' // a POSIX semaphore ("sem.<name>")
  | 'SharedMemory' // anything else: the bytes are the user's
  | 'unknown'; // a multiproc header of an unknown kind, or a file we cannot read

export interface SharedObjectInfo {
  /** The file: a shared-memory segment, or a POSIX semaphore ("sem.<name>"). */
  kind: 'segment' | 'semaphore';
  /** What it holds (a Lock, a Queue, a SharedMemory's bytes ...). */
  type: SharedObjectType;
  /** Bare name, as SharedMemory({ name }) takes it. */
  name: string;
  path: string;
  size: number;
  uid: number;
  /** Permission bits (0o600 for what multiproc creates). */
  mode: number;
  inode: number;
  modified: Date;
  /** A user-given name (lasts until unlinked) rather than a generated one (removed by its program's tracker). */
  named: boolean;
  /** The tag of the program that made it (generated names only; native/core/tracker.h), else null. */
  program: string | null;
  /** That program's tag as a number: the pid of its first tracker (which may have handed over since). */
  trackerPid: number | null;
  /** Whether a tracker of that program is alive (false for named objects: no tracker removes them). */
  trackerAlive: boolean;
  /** The program's live tracker processes (active and backup). */
  trackers: number[];
  /** Processes that map it or hold it open. */
  openBy: number[];
  /** False when some process that could have it open could not be inspected: openBy may be short. */
  openByComplete: boolean;
}

const SHM_DIR = '/dev/shm';
const TRACKER_PROCESS = /^mp-trk-([0-9a-z]+)(-b)?$/; // native/core/tracker.cc process_name()

/**
 * What an object is, from its file name and its first 8 bytes (undefined: unreadable):
 * u32 LE 0x4d505359 ("MPSY") at offset 0 is a multiproc object whose kind (ts/binding/layout.ts)
 * is the u32 at offset 4; "MPSD" is a queue item's side segment; "sem.*" files are POSIX
 * semaphores; anything else of ours is a SharedMemory.
 */
export function classifyObject(entry: string, head: Uint8Array | undefined): SharedObjectType {
  if (entry.startsWith('sem.')) return 'NamedSemaphore';
  if (head === undefined) return 'unknown';
  if (head.length < 8) return 'SharedMemory';
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const magic = view.getUint32(0, true);
  if (magic === SIDE_MAGIC) return 'QueueItem';
  if (magic !== MAGIC) return 'SharedMemory';
  const kind = view.getUint32(4, true);
  return (Kind[kind] as SharedObjectType | undefined) ?? 'unknown';
}

function readHead(path: string): Uint8Array | undefined {
  let fd: number;
  try {
    // O_NONBLOCK and O_NOFOLLOW: a FIFO or a link someone put there must not hang or redirect us.
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const head = Buffer.alloc(8);
    return head.subarray(0, fs.readSync(fd, head, 0, 8, 0));
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** What /proc says about the processes of this machine (this pid namespace). */
interface ProcessScan {
  /** Live tracker processes, by program tag. */
  trackers: Map<string, number[]>;
  /**
   * Pids that map or hold open each file of /dev/shm, by inode: not by path, as a mapping
   * may carry another name (glibc's sem_open maps a temporary file, then renames it).
   */
  users: Map<number, Set<number>>;
  /** Processes whose maps or fds we could not read (non-dumpable ones, other users'), and their uids. */
  hidden: Map<number, number>;
}

function addUser(users: Map<number, Set<number>>, inode: number, pid: number): void {
  let set = users.get(inode);
  if (!set) users.set(inode, (set = new Set()));
  set.add(pid);
}

// "7f..-7f.. rw-s 00000000 00:1b 11039    /dev/shm/mp-28j-3734d6b71b5142b6": the inode of
// every mapping of a file in /dev/shm (one tmpfs, so inodes are unique there).
const SHM_MAPPING = /^\S+ \S+ \S+ \S+ (\d+) +\/dev\/shm\//gm;

/** With `users` false, only the trackers (no maps or fds read: much cheaper). */
function scanProcesses(users = true): ProcessScan {
  const scan: ProcessScan = { trackers: new Map(), users: new Map(), hidden: new Map() };
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return scan;
  }
  for (const dir of pids) {
    const pid = Number(dir);
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${dir}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const state = stat[close + 2];
    if (state === 'Z' || state === 'X') continue; // a zombie maps nothing
    // multiproc 0.1 had one tracker, "mp-tracker", whose pid was the tag.
    const tag = TRACKER_PROCESS.exec(comm)?.[1] ?? (comm === 'mp-tracker' ? pid.toString(36) : undefined);
    if (tag !== undefined) {
      const list = scan.trackers.get(tag) ?? [];
      list.push(pid);
      scan.trackers.set(tag, list);
      continue; // trackers hold no object open
    }
    if (!users) continue;
    let maps: string;
    let fds: string[];
    try {
      maps = fs.readFileSync(`/proc/${dir}/maps`, 'utf8');
      fds = fs.readdirSync(`/proc/${dir}/fd`);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM') {
        try {
          scan.hidden.set(pid, fs.statSync(`/proc/${dir}`).uid);
        } catch {
          // exited meanwhile
        }
      }
      continue;
    }
    if (maps.includes(' /dev/shm/')) {
      for (const m of maps.matchAll(SHM_MAPPING)) addUser(scan.users, Number(m[1]), pid);
    }
    for (const fd of fds) {
      try {
        const link = `/proc/${dir}/fd/${fd}`;
        if (fs.readlinkSync(link).startsWith('/dev/shm/')) addUser(scan.users, fs.statSync(link).ino, pid);
      } catch {
        // closed meanwhile
      }
    }
  }
  return scan;
}

/** Pids of the live tracker processes of the program tagged `tag` (base 36). */
export function trackerProcesses(tag: string): number[] {
  return scanProcesses(false).trackers.get(tag) ?? [];
}

/**
 * Every object of ours in /dev/shm (names under "mp-": generated, named primitives, a
 * SharedMemory named "mp-..."), with what it is, its program, and who uses it.
 */
export function listSharedObjects(): SharedObjectInfo[] {
  let entries: string[];
  try {
    entries = fs.readdirSync(SHM_DIR);
  } catch {
    return [];
  }
  const ours = entries.map((entry) => ({ entry, parsed: parseObjectName(entry) }));
  if (!ours.some((o) => o.parsed)) return [];
  const scan = scanProcesses();
  const out: SharedObjectInfo[] = [];
  for (const { entry, parsed } of ours) {
    if (!parsed) continue;
    const path = `${SHM_DIR}/${entry}`;
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(path);
    } catch {
      continue; // removed meanwhile
    }
    if (!stat.isFile()) continue; // not something multiproc makes
    const mode = stat.mode & 0o777;
    const openBy = [...(scan.users.get(stat.ino) ?? [])].sort((a, b) => a - b);
    // Processes we could not inspect could have it open only if they run as its owner, or
    // if its mode lets others in. Left out: root's (as another user we could then never
    // prove anything unused) and init's (pid 1 of a container is not readable even by
    // root there, and is no multiproc program when it is not).
    let openByComplete = true;
    for (const [pid, uid] of scan.hidden) {
      if ((uid === stat.uid && pid !== 1) || ((mode & 0o066) !== 0 && uid !== 0 && uid !== stat.uid)) openByComplete = false;
    }
    const trackers = parsed.tag === null ? [] : (scan.trackers.get(parsed.tag) ?? []);
    out.push({
      kind: parsed.kind,
      type: classifyObject(entry, parsed.kind === 'semaphore' ? undefined : readHead(path)),
      name: parsed.name,
      path,
      size: stat.size,
      uid: stat.uid,
      mode,
      inode: stat.ino,
      modified: stat.mtime,
      named: parsed.tag === null,
      program: parsed.tag,
      trackerPid: parsed.tag === null ? null : parseInt(parsed.tag, 36),
      trackerAlive: trackers.length > 0,
      trackers,
      openBy,
      openByComplete,
    });
  }
  return out.sort((a, b) => a.modified.getTime() - b.modified.getTime());
}

export interface CleanOptions {
  /** Also remove named objects that no process maps or holds open. */
  named?: boolean;
  /** Remove every object of ours, in use or not. */
  force?: boolean;
  /** Decide, but remove nothing. */
  dryRun?: boolean;
}

export interface CleanDecision {
  object: SharedObjectInfo;
  /** Whether clean removes it (or, with dryRun, would). */
  remove: boolean;
  /** Why (either way), for people. */
  reason: string;
  /** Set when removing it failed. */
  error?: string;
}

/**
 * Whether `clean` may remove `o`: by default only a generated object that is provably
 * orphaned (no tracker of its program alive, and no process maps it or holds it open);
 * `named` adds named objects no process uses; `force` takes everything.
 */
export function cleanDecision(o: SharedObjectInfo, options: CleanOptions = {}): CleanDecision {
  const euid = process.geteuid?.() ?? -1;
  const keep = (reason: string): CleanDecision => ({ object: o, remove: false, reason });
  const take = (reason: string): CleanDecision => ({ object: o, remove: true, reason });
  if (euid !== 0 && o.uid !== euid) return keep(`owned by uid ${o.uid}`);
  if (options.force) return take('--force');
  const users =
    o.openBy.length > 0
      ? `used by ${o.openBy.length} process(es): ${o.openBy.join(', ')}`
      : !o.openByComplete
        ? 'maybe in use (some processes could not be inspected)'
        : undefined;
  if (o.named) {
    if (!options.named) return keep('named (lasts until unlinked; --named removes unused ones)');
    return users ? keep(users) : take('named, and no process uses it');
  }
  if (o.trackerAlive) return keep(`its program is running (tracker ${o.trackers.join(', ')})`);
  return users ? keep(`${users} (its tracker is gone)`) : take('orphan: its tracker is gone and no process uses it');
}

/**
 * Removes the objects of `objects` that cleanDecision() lets go (none with dryRun). An
 * object whose file changed since it was listed (another with the same name) is left.
 */
export function cleanSharedObjects(objects: SharedObjectInfo[], options: CleanOptions = {}): CleanDecision[] {
  return objects.map((o) => {
    const d = cleanDecision(o, options);
    if (!d.remove || options.dryRun) return d;
    try {
      if (fs.lstatSync(o.path).ino !== o.inode) return { ...d, remove: false, reason: 're-created since it was listed' };
      fs.unlinkSync(o.path);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT') return { ...d, reason: `${d.reason} (already gone)` };
      return { ...d, remove: false, error: err.message };
    }
    return d;
  });
}
