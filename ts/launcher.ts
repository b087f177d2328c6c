// How a child process is launched (CPython's popen_spawn_posix): a fresh
// `node` running dist/bootstrap.js, never a fork. What the child needs
// arrives on fd 3 as one serialized payload; fd 4 is the resource tracker's
// pipe, so the whole program shares one tracker.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
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

/** Spawns the bootstrap and hands it `payload`. Daemons do not keep the event loop alive. */
export function launch(payload: Buffer, daemon: boolean): Launched {
  const tracker = trackerInheritance(TRACKER_FD);
  const child = spawn(process.execPath, [...childExecArgv(), BOOTSTRAP], {
    // stdin is not shared, as in Python's children; stdout and stderr are.
    stdio: ['ignore', 'inherit', 'inherit', 'pipe', tracker.fd],
    env: { ...process.env, ...tracker.env },
  });
  if (child.pid === undefined) {
    // spawn reports failures asynchronously; an undefined pid means it failed.
    throw new Error(`could not start ${process.execPath}: spawn failed`);
  }
  const pipe = child.stdio[PAYLOAD_FD] as NodeJS.WritableStream & { unref?(): void };
  pipe.on('error', () => {
    // The child died before reading its payload: its exit code tells.
  });
  pipe.end(payload);
  if (daemon) {
    child.unref();
    pipe.unref?.();
  }
  return { child, pid: child.pid };
}
