// Starting multiproc Processes from a fixture module in tests: `run(target,
// ...args)` starts one; after each test every one still running is killed
// and all are reaped, so a failing test cannot leave children behind.
import { afterEach } from 'vitest';
import { Process } from '../../dist/index.js';

export function processRunner(module: string): { run: (target: unknown, ...args: unknown[]) => Process; started: Process[] } {
  const started: Process[] = [];
  afterEach(async () => {
    for (const p of started.splice(0)) {
      if (p.exitCode === null) p.kill();
      await p.join();
    }
  });
  const run = (target: unknown, ...args: unknown[]): Process => {
    const p = new Process({ target: target as (...args: any[]) => unknown, args, module });
    started.push(p);
    p.start();
    return p;
  };
  return { run, started };
}

/** Whether a process with this pid exists (a zombie counts until it is reaped). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `check` (which may ask a server) until true: generous, for a loaded machine; never a fixed sleep. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, limitMs = 30_000): Promise<void> {
  const until = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what} (${limitMs} ms)`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
