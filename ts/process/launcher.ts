// How a child process is launched (CPython's popen_spawn_posix): a fresh
// `node` running dist/process/bootstrap.js, never a fork. What the child needs
// arrives on fd 3 as one serialized payload; fd 4 is the resource tracker's
// pipe, so the whole program shares one tracker.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { addon } from '../binding/addon';
import { CHILD } from '../base/child';
import { trackerInheritance } from '../shm/tracker';

const BOOTSTRAP = path.join(__dirname, '..', 'bootstrap.js'); // the child's entry (ts/bootstrap.ts)

// Flags a child must not inherit: -e/-p would run the parent's inline code
// instead of the bootstrap; an inspector port can be bound only once.
const DROP_WITH_VALUE = new Set(['-e', '--eval', '-p', '--print']);
const DROP_ALONE = /^(--eval=|--print=|--inspect|--debug-port|-i$|--interactive$|--test)/;

export function childExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i];
    if (DROP_WITH_VALUE.has(arg)) {
      i++;
      continue;
    }
    if (DROP_ALONE.test(arg)) continue;
    out.push(arg);
  }
  return out;
}

export interface Launched {
  child: ChildProcess;
  pid: number;
}

export interface Booted extends Launched {
  /** The write end of the child's payload pipe (close-on-exec, blocking). */
  payloadFd: number;
}

/**
 * Spawns the bootstrap with its payload pipe; the caller writes the payload
 * (sendPayload) now, or later for a spare. `env` adds variables for the
 * bootstrap (a spare's preload hints).
 */
export function spawnBootstrap(env: Record<string, string> = {}): Booted {
  const tracker = trackerInheritance(CHILD.trackerFd);
  const [readEnd, writeEnd] = addon().pipe();
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [...childExecArgv(), BOOTSTRAP], {
      // stdin is not shared, as in Python's children; stdout and stderr are.
      stdio: ['ignore', 'inherit', 'inherit', readEnd, tracker.fd], // fds 3 and 4: CHILD.payloadFd, CHILD.trackerFd
      env: { ...process.env, ...tracker.env, ...env },
    });
  } catch (e) {
    fs.closeSync(writeEnd);
    throw e;
  } finally {
    fs.closeSync(readEnd);
  }
  if (child.pid === undefined) {
    fs.closeSync(writeEnd);
    // spawn reports failures asynchronously; an undefined pid means it failed.
    throw new Error(`could not start ${process.execPath}: spawn failed`);
  }
  return { child, pid: child.pid, payloadFd: writeEnd };
}

/**
 * Writes the payload with blocking calls and closes the pipe before
 * returning, so a parent that blocks right after start() (an acquireSync, a
 * joinSync) cannot leave the child waiting for it, as a libuv pipe (flushed
 * and closed only when the event loop turns) would. Up to the pipe's
 * capacity (64 KiB) this returns at once; a larger payload waits for the
 * child to read it, as Python's spawn does.
 */
export function sendPayload(fd: number, payload: Buffer): void {
  try {
    for (let at = 0; at < payload.length;) at += fs.writeSync(fd, payload, at);
  } catch {
    // EPIPE: the child died before reading its payload; its exit code tells.
  } finally {
    fs.closeSync(fd);
  }
}
