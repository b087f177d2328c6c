// Process: real children, Python's semantics.
import fs from 'node:fs';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Process, SharedMemory, activeChildren, cpuCount, currentProcess, isMainProcess, parentProcess } from '../dist/index.js';
import { waitUntil } from './helpers/shm';
import { native } from '../dist/binding/native.js';
import { fixture, repo, startNode } from './helpers/child';

const targets = fixture('targets.mjs');

const t: Record<string, any> = await import(targets);

const made: SharedMemory[] = [];
const started: Process[] = [];
function shm(size = 4096): SharedMemory {
  const s = new SharedMemory({ create: true, size });
  made.push(s);
  return s;
}
function proc(opts: ConstructorParameters<typeof Process>[0]): Process {
  const p = new Process({ module: targets, ...opts });
  started.push(p);
  return p;
}
afterEach(async () => {
  for (const p of started.splice(0)) {
    if (p.pid !== undefined && p.exitCode === null) p.kill();
    if (p.pid !== undefined) await p.join().catch(() => {}); // closed ones refuse
  }
  for (const s of made.splice(0)) {
    s.close();
    s.unlink();
  }
});

function gone(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.split(') ')[1].startsWith('Z');
  } catch {
    return true;
  }
}

describe('Process', () => {
  it('exit codes: 0 on return, 1 on throw, n for process.exit(n), -15 terminate, -9 kill', async () => {
    const ok = proc({ target: t.returns });
    const thrown = proc({ target: t.throws });
    const two = proc({ target: t.exits2 });
    const s = shm();
    const term = proc({ target: t.blockUntilReleased, args: [s] });
    const s2 = shm();
    const killed = proc({ target: t.blockUntilReleased, args: [s2] });
    for (const p of [ok, thrown, two, term, killed]) p.start();
    await waitUntil(() => s.buf[0] === 1 && s2.buf[0] === 1, 'both blockers are running');
    expect(term.exitCode).toBe(null);
    term.terminate();
    killed.kill();
    for (const p of [ok, thrown, two, term, killed]) await p.join();
    expect([ok, thrown, two, term, killed].map((p) => p.exitCode)).toEqual([0, 1, 2, -15, -9]);
    expect(String(term)).toBe(`<Process(${term.name}, stopped[SIGTERM])>`);
    expect(String(ok)).toBe(`<Process(${ok.name}, stopped)>`);
  });

  it("prints an uncaught error's stack under the process name", async () => {
    const child = startNode([fixture('main-esm.mjs')]);
    expect(await child.exited).toBe(0);
    const r = startNode([
      '--input-type=module',
      '-e',
      `
      import { Process } from ${JSON.stringify(repo + '/dist/index.js')};
      const p = new Process({ target: (await import(${JSON.stringify(targets)})).throws, name: 'failing', module: ${JSON.stringify(targets)} });
      p.start(); await p.join(); console.log('exit', p.exitCode);`,
    ]);
    expect((await r.line(/^exit/))[0]).toBe('exit');
    await r.exited;
    expect(r.stdout()).toContain('exit 1');
    expect(r.stderr()).toMatch(/^Process failing:\nError: target failed on purpose\n\s+at .*throws/m);
  });

  it('delivers a signal the child handles (SIGUSR1)', async () => {
    const s = shm();
    const p = proc({ target: t.handleUsr1, args: [s] });
    p.start();
    await waitUntil(() => s.buf[0] === 1, 'the child installed its handler');
    p.sendSignal('SIGUSR1');
    await p.join();
    expect(s.buf[2]).toBe(42);
    expect(p.exitCode).toBe(42);
  });

  it('join(timeout) and joinSync(timeout) return while the child runs; isAlive tells', async () => {
    const s = shm();
    const p = proc({ target: t.blockUntilReleased, args: [s] });
    p.start();
    expect(p.isAlive()).toBe(true);
    await waitUntil(() => s.buf[0] === 1, 'the child is running');
    await p.join(20);
    expect(p.exitCode).toBe(null);
    p.joinSync(20);
    expect(p.exitCode).toBe(null);
    expect(p.isAlive()).toBe(true);
    expect(activeChildren()).toContain(p);
    s.buf[1] = 1;
    p.joinSync();
    expect(p.exitCode).toBe(0);
    expect(p.isAlive()).toBe(false);
    expect(activeChildren()).not.toContain(p);
    await p.join(); // and 'exit' still arrives after joinSync
  });

  // Regression (issue 9, item 9): setTimeout fires after 1 ms for delays
  // past 2^31-1 ms, so join(2 ** 31) and join(Infinity) returned at once.
  it('join(2 ** 31), join(Infinity) and join(Number.MAX_VALUE) wait for the child, with no TimeoutOverflowWarning', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w);
    };
    process.on('warning', onWarning);
    try {
      const s = shm();
      const p = proc({ target: t.blockUntilReleased, args: [s] });
      p.start();
      await waitUntil(() => s.buf[0] === 1, 'the child is running');
      const settled = [false, false, false];
      const joins = [2 ** 31, Infinity, Number.MAX_VALUE].map((ms, i) =>
        p.join(ms).then(() => {
          settled[i] = true;
        }),
      );
      // A join that times out: the broken ones had returned long before it.
      await p.join(50);
      expect(p.exitCode).toBe(null);
      expect(settled).toEqual([false, false, false]);
      s.buf[1] = 1;
      await Promise.all(joins);
      expect(p.exitCode).toBe(0);
      expect(warnings.map((w) => w.name)).not.toContain('TimeoutOverflowWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('joinSync waits for the child whatever the timeout: 2 ** 31, 2 ** 32, Infinity, Number.MAX_VALUE', async () => {
    for (const ms of [2 ** 31, 2 ** 32, Infinity, Number.MAX_VALUE]) {
      const s = shm();
      const p = proc({ target: t.lingerThenReturn, args: [s, 100] });
      p.start();
      await waitUntil(() => s.buf[0] === 1, 'the child is running');
      p.joinSync(ms);
      expect(p.exitCode).toBe(0);
    }
  });

  it('awaits async targets and passes structured-clone arguments and handles', async () => {
    const s = shm();
    const a = proc({ target: t.asyncTarget, args: [s] });
    a.start();
    await a.join();
    expect(s.buf[0]).toBe(7);
    const b = proc({ target: t.withArgs, args: [s, { deep: [1n, 'x'] }, new Map([[1, 2]])] });
    b.start();
    await b.join();
    expect(b.exitCode).toBe(0);
    expect(s.buf.toString('utf8', 8, s.buf.indexOf(0, 8))).toBe('[{"deep":["1n","x"]},[[1,2]]]');
  });

  it('names processes; currentProcess/parentProcess inside the child', async () => {
    const s = shm();
    const p = proc({ target: t.describeSelf, args: [s], name: 'inspector' });
    p.start();
    await p.join();
    const info = JSON.parse(s.buf.toString('utf8', 8, s.buf.indexOf(0, 8)));
    expect(info).toEqual({ me: { name: 'inspector', pid: p.pid, daemon: false }, parent: { name: 'MainProcess', pid: process.pid } });
    expect(currentProcess()).toEqual({ name: 'MainProcess', pid: process.pid, daemon: false });
    expect(parentProcess()).toBe(null);
    expect(isMainProcess()).toBe(true);
    expect(cpuCount()).toBeGreaterThanOrEqual(1);
    expect(new Process().name).toMatch(/^Process-\d+$/);
  });

  it('runs an exported subclass: its fields travel, its constructor does not run again', async () => {
    const s = shm();
    const p = new t.Counter(s) as Process;
    started.push(p);
    expect(p.name).toMatch(/^Counter-\d+$/);
    p.start();
    await p.join();
    expect(p.exitCode).toBe(0);
    const seen = JSON.parse(s.buf.toString('utf8', 8, s.buf.indexOf(0, 8)));
    expect(seen).toEqual({ step: 5, config: { label: 'counted' }, name: p.name, constructedIn: process.pid, pid: p.pid });
  });

  it("children share the program's resource tracker and do not pass it on through the environment", async () => {
    const s = shm();
    const p = proc({ target: t.trackerFacts, args: [s] });
    p.start();
    await p.join();
    expect(p.exitCode).toBe(0);
    const facts = JSON.parse(s.buf.toString('utf8', 8, s.buf.indexOf(0, 8)));
    expect(facts.name.split('-')[1]).toBe(native.trackerInfo().pid.toString(36));
    expect(facts).toMatchObject({ envFd: null, envPid: null });
  });

  it('hands working objects to a target whose module never imports multiproc', async () => {
    const mp = await import('../dist/index.js');
    const plain = fixture('plain-targets.mjs');
    const { useHandles } = await import(plain);
    const lock = new mp.Lock();
    const sem = new mp.Semaphore(0);
    const event = new mp.Event();
    const value = new mp.Value('i', 0);
    const arr = new mp.SharedArray('d', 2);
    const s = shm();
    const p = new Process({ target: useHandles, args: [lock, sem, event, value, arr, s], module: plain });
    started.push(p);
    p.start();
    await p.join();
    expect(p.exitCode).toBe(0);
    expect([value.value, arr.get(0), s.buf[0], sem.getValue(), event.isSet(), lock.locked()]).toEqual([42, 7, 9, 1, true, false]);
  });

  // Regression: the payload went through a libuv pipe that was flushed and
  // closed only when the event loop turned, so a parent that blocked right
  // after start() left the child waiting for it forever.
  it('a parent that blocks right after start() does not starve the child of its payload', async () => {
    const mp = await import('../dist/index.js');
    const plain = fixture('plain-targets.mjs');
    const { releaseOnce } = await import(plain);
    const sem = new mp.Semaphore(0);
    const p = new Process({ target: releaseOnce, args: [sem], module: plain });
    started.push(p);
    p.start();
    expect(sem.acquireSync({ timeout: 60_000 })).toBe(true);
    p.joinSync();
    expect(p.exitCode).toBe(0);
  });

  it('reports a non-cloneable argument at start(), naming where it was', () => {
    const p = proc({ target: t.withArgs, args: [1, { cb: () => 1 }] });
    expect(() => p.start()).toThrow(/^args\[1\]\.cb is a function/);
    expect(p.pid).toBe(undefined);
  });

  it('rejects bad options and misuse with clear errors', async () => {
    expect(() => new Process({ target: 5 } as never)).toThrow(TypeError);
    expect(() => new Process({ targt: t.returns } as never)).toThrow(/unknown Process option "targt"/);
    expect(() => new Process({ args: 'x' as never })).toThrow(TypeError);
    expect(() => new Process({ daemon: 1 as never })).toThrow(TypeError);
    const anonymous = [() => 1][0];
    expect(() => proc({ target: anonymous }).start()).toThrow(/the target is an anonymous function/);
    expect(() => proc({}).start()).toThrow(/no target/);
    const p = proc({ target: t.returns });
    await expect(p.join()).rejects.toThrow(/never started/);
    expect(() => p.sendSignal('SIGNOPE' as never)).toThrow(TypeError);
    p.start();
    expect(() => p.start()).toThrow(/only be started once/);
    expect(() => {
      p.daemon = true;
    }).toThrow(/before start/);
    await p.join();
    p.close();
    expect(() => p.start()).toThrow(/closed/);
    const s = shm();
    const running = proc({ target: t.blockUntilReleased, args: [s] });
    running.start();
    expect(() => running.close()).toThrow(/still running/);
    await expect(running.join(-1)).rejects.toThrow(RangeError);
  });
});

describe('main scripts and modules', () => {
  it.each([
    ['ESM', [fixture('main-esm.mjs')], 'hello esm from child'],
    ['CommonJS', [fixture('main-cjs.cjs')], 'hello cjs from child'],
    ['TypeScript under tsx', ['--import', 'tsx', fixture('main-ts.mts')], 'hello TS from child'],
  ])('finds the target in a %s main script', async (_kind, args, greeting) => {
    const child = startNode(args);
    await child.line(/^exit/);
    expect(await child.exited).toBe(0);
    expect(child.stdout()).toContain(greeting);
    expect(child.stdout()).toContain('exit 0');
    expect(child.stdout()).not.toContain('from main');
  });

  // An unexported target is refused by start() in the parent now: test/targets.test.ts.

  it('starting a process while the main script is re-imported fails with advice, not recursion', async () => {
    const child = startNode([fixture('unguarded.mjs')]);
    await child.line(/^exit/);
    expect(child.stdout()).toContain('exit 1');
    expect(child.stderr()).toMatch(/isMainProcess\(\)/);
  });
});

// Regression (issue 9, item 13): the bootstrap called process.exit() as soon
// as the target returned, and swallowed a later unhandled rejection (exit 0).
describe('a child lives as a Node program', () => {
  const lifetime = fixture('lifetime-targets.mjs');

  let l: Record<string, any>;
  function child(target: string, args: unknown[] = []): Process {
    return proc({ target: l[target], args, module: lifetime });
  }
  const pidAt = (s: SharedMemory, slot: number): number => Number(s.buf.toString('latin1', 16 + slot * 16, 32 + slot * 16).split(';')[0]);

  it('a pending timer keeps it alive after the target returned, until it is done', async () => {
    l = await import(lifetime);
    const s = shm();
    const p = child('leaveTimer', [s]);
    p.start();
    await waitUntil(() => s.buf[0] === 1, 'the target returned');
    expect(p.exitCode).toBe(null);
    s.buf[1] = 1;
    await p.join();
    expect(s.buf[2]).toBe(1); // the timer saw the release: the child was still there
    expect(p.exitCode).toBe(0);
  });

  it('a listening server keeps it alive until it is closed', async () => {
    const s = shm();
    const p = child('leaveServer', [s]);
    p.start();
    await waitUntil(() => s.buf[0] === 1, 'the server is listening');
    const port = s.buf.readUInt16LE(4);
    const reply = await new Promise<string>((resolve, reject) => {
      let data = '';
      const socket = net.connect(port, '127.0.0.1');
      socket
        .on('data', (d) => (data += d))
        .on('end', () => resolve(data))
        .on('error', reject);
    });
    expect(reply).toBe('bye');
    await p.join();
    expect(p.exitCode).toBe(0);
  });

  it('exits once the target returns holding multiproc objects (queue, lock, events, a spare): they never keep it alive', async () => {
    const mp = await import('../dist/index.js');
    const queue = new mp.Queue();
    const lock = new mp.Lock();
    const event = new mp.Event();
    const p = child('holdObjects', [queue, lock, event]);
    p.start();
    await p.join();
    expect(p.exitCode).toBe(0);
  });

  it('waits for its non-daemon children; its daemon children die with it', async () => {
    const s = shm();
    const p = child('startGrandchildren', [s]);
    p.start();
    await waitUntil(() => s.buf[0] === 1, 'the grandchildren started');
    const [daemonPid, workerPid] = [pidAt(s, 0), pidAt(s, 1)];
    expect(p.exitCode).toBe(null);
    s.buf[1] = 1;
    await p.join();
    expect(p.exitCode).toBe(0);
    expect(s.buf[2]).toBe(1);
    expect(gone(workerPid)).toBe(true);
    await waitUntil(() => gone(daemonPid), 'the daemon grandchild is gone');
  });

  it('exits with process.exitCode when the target set it', async () => {
    const p = child('setsExitCode');
    p.start();
    await p.join();
    expect(p.exitCode).toBe(3);
  });

  it.each([
    ['lateRejection', 'rejected after the target returned'],
    ['lateThrow', 'thrown after the target returned'],
  ])('%s: an error left uncaught after the target returned prints its stack under the name, exit 1', async (scenario, message) => {
    const r = startNode([fixture('lifetime-main.mjs'), scenario]);
    await r.line(/^exit/);
    expect(await r.exited).toBe(0);
    expect(r.stdout()).toContain('exit 1');
    expect(r.stderr()).toMatch(new RegExp(`^Process ${scenario}:\nError: ${message}\n\\s+at `, 'm'));
  });

  it("an uncaughtException handler of the user's own decides, as in any Node program", async () => {
    const r = startNode([fixture('lifetime-main.mjs'), 'ownHandler']);
    await r.line(/^exit/);
    expect(r.stdout()).toBe('handled for the handler\nexit 0\n');
  });

  it('a target whose promise can never settle ends with code 13 and says why', async () => {
    const r = startNode([fixture('lifetime-main.mjs'), 'neverSettles']);
    await r.line(/^exit/);
    expect(r.stdout()).toContain('exit 13');
    expect(r.stderr()).toMatch(/^Process neverSettles:\nWarning: the target never settled/m);
  });

  it('logs "process shutting down" and the exit code when the process really ends', async () => {
    const r = startNode([fixture('lifetime-main.mjs'), 'logsAfterReturn', 'log']);
    await r.line(/^exit/);
    expect(await r.exited).toBe(0);
    const lines = r
      .stderr()
      .split('\n')
      .filter((line) => !line.includes('MainProcess') && line !== '');
    expect(lines).toEqual([
      '[INFO/logsAfterReturn] child process calling run()',
      'timer fired',
      '[INFO/logsAfterReturn] process shutting down',
      '[INFO/logsAfterReturn] process exiting with exitcode 0',
    ]);
  });
});

describe('daemons', () => {
  it('die when their parent is SIGKILLed; non-daemons do not', async () => {
    const parent = startNode([fixture('daemon-parent.mjs')]);
    const daemonPid = Number((await parent.line(/^daemon (\d+)/))[1]);
    const workerPid = Number((await parent.line(/^worker (\d+)/))[1]);
    await parent.line(/^main ready/);
    parent.proc.kill('SIGKILL');
    await parent.exited;
    await waitUntil(() => gone(daemonPid), 'the daemon is gone');
    expect(gone(workerPid)).toBe(false);
    process.kill(workerPid, 'SIGKILL');
  });

  it('a normal exit waits for non-daemon children', async () => {
    const child = startNode([fixture('nondaemon-exit.mjs')]);
    expect(await child.exited).toBe(0);
    expect(child.stdout()).toBe('main done\nchild done\n');
  });
});

describe('spare processes', () => {
  function processesMarked(mark: string): number[] {
    const pids: number[] = [];
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (fs.readFileSync(`/proc/${entry}/environ`, 'utf8').includes(mark) && !gone(Number(entry))) pids.push(Number(entry));
      } catch {
        // gone meanwhile
      }
    }
    return pids;
  }

  it('run targets with the same semantics, do not keep the parent alive, and do not outlive it', async () => {
    const mark = `MP_TEST_MARK=spares-${process.pid}-${Date.now()}`;
    const [key, value] = mark.split('=') as [string, string];
    const child = startNode([fixture('spares-main.mjs')], { [key]: value });
    expect(await child.exited).toBe(0);
    expect(child.stdout()).toContain('first alpha false false');
    expect(child.stdout()).toContain('codes 0 3');
    // Idle spares and the daemon die with the parent.
    await waitUntil(() => processesMarked(mark).length === 0, 'no spare or daemon outlives the parent');
  });

  it('a daemon started from a spare dies when its parent is SIGKILLed', async () => {
    const mark = `MP_TEST_MARK=spares-kill-${process.pid}-${Date.now()}`;
    const [key, value] = mark.split('=') as [string, string];
    const child = startNode([fixture('spares-main.mjs'), 'wait-kill'], { [key]: value });
    const daemonPid = Number((await child.line(/^daemon (\d+)/))[1]);
    await child.line(/^codes/);
    child.proc.kill('SIGKILL');
    await child.exited;
    await waitUntil(() => gone(daemonPid) && processesMarked(mark).length === 0, 'the daemon and the spares are gone');
  });

  it('validates its arguments', async () => {
    const { setSpareProcesses } = await import('../dist/index.js');
    expect(() => setSpareProcesses(-1)).toThrow(RangeError);
    expect(() => setSpareProcesses(1.5)).toThrow(TypeError);
    expect(() => setSpareProcesses(1, { module: 5 as never })).toThrow(TypeError);
  });
});
