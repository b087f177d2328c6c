// How a child process is launched (CPython's popen_spawn_posix): a fresh
// `node` running dist/bootstrap.js, never a fork. What the child needs
// arrives on fd 3 as one serialized payload; fd 4 is the resource tracker's
// pipe, so the whole program shares one tracker.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { addon } from './addon';
import { trackerInheritance } from './tracker';

export const PAYLOAD_FD = 3;
const TRACKER_FD = 4;
const BOOTSTRAP = path.join(__dirname, 'bootstrap.js');

// Flags a child must not inherit: -e/-p would run the parent's inline code
// instead of the bootstrap; an inspector port can be bound only once.
const DROP_WITH_VALUE = new Set(['-e', '--eval', '-p', '--print']);
const DROP_ALONE = /^(--eval=|--print=|--inspect|--debug-port|-i$|--interactive$|--test)/;

export function childExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
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

/**
 * Spawns the bootstrap and hands it `payload` before returning: written with
 * blocking calls, so a parent that blocks right after start() (an
 * acquireSync, a joinSync) cannot leave the child waiting for it, as a
 * libuv pipe (flushed and closed only when the event loop turns) would.
 * Daemons do not keep the event loop alive.
 */
export function launch(payload: Buffer, daemon: boolean): Launched {
  const tracker = trackerInheritance(TRACKER_FD);
  const [readEnd, writeEnd] = addon().pipe();
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [...childExecArgv(), BOOTSTRAP], {
      // stdin is not shared, as in Python's children; stdout and stderr are.
      stdio: ['ignore', 'inherit', 'inherit', readEnd, tracker.fd],
      env: { ...process.env, ...tracker.env },
    });
  } catch (e) {
    fs.closeSync(writeEnd);
    throw e;
  } finally {
    fs.closeSync(readEnd);
  }
  try {
    // Up to the pipe's capacity (64 KiB) this returns at once; a larger
    // payload waits for the child to read it, as Python's spawn does.
    for (let at = 0; at < payload.length;) at += fs.writeSync(writeEnd, payload, at);
  } catch {
    // EPIPE: the child died before reading its payload; its exit code tells.
  } finally {
    fs.closeSync(writeEnd);
  }
  if (child.pid === undefined) {
    // spawn reports failures asynchronously; an undefined pid means it failed.
    throw new Error(`could not start ${process.execPath}: spawn failed`);
  }
  if (daemon) child.unref();
  return { child, pid: child.pid };
}
