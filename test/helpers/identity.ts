// Thread identities as native/core/lock.h records them, for tests that write
// an owner into a lock word the way a real holder would: the thread id and
// its stamp (its start time in clock ticks, plus one).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

export function stampOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(BigInt(fields[19]) & 0xffffffffn) + 1) >>> 0 || 1; // field 22 of stat
}

/** Writes owner `pid` (and its stamp) into the lock at byte `offset` of a /dev/shm file. */
export function writeOwner(file: string, offset: number, pid: number, stamp: number): void {
  const fd = fs.openSync(file, 'r+');
  const b = Buffer.alloc(16);
  fs.readSync(fd, b, 0, 16, offset);
  b.writeUInt32LE(pid, 0);
  b.writeUInt32LE(stamp, 12);
  fs.writeSync(fd, b, 0, 16, offset);
  fs.closeSync(fd);
}

/** Whether this process may make the kernel hand out a chosen pid next (root, a writable ns_last_pid). */
export function canForcePids(): boolean {
  try {
    fs.accessSync('/proc/sys/kernel/ns_last_pid', fs.constants.W_OK);
    return process.getuid?.() === 0;
  } catch {
    return false;
  }
}

/**
 * Starts an unrelated process (`sleep`) that gets pid `pid`, as the kernel
 * would after wrapping around: undefined if another process took it first
 * (the machine is busy: the caller retries).
 */
export async function reusePid(pid: number): Promise<ChildProcess | undefined> {
  // Other processes (the other test file's, on a loaded machine) can take
  // the pid between the write and the spawn: try many times.
  for (let i = 0; i < 500; i++) {
    fs.writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1));
    const s = spawn('sleep', ['600'], { stdio: 'ignore' });
    if (s.pid === pid) return s;
    s.kill('SIGKILL');
    await new Promise((resolve) => s.once('exit', resolve));
  }
  return undefined;
}
