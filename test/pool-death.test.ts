// A Pool whose workers die: only the tasks a dead worker held fail (with
// WorkerLostError), it is replaced, nothing queued is lost; retries; the
// pool's own lifecycle (close, terminate, join) and how a program using a
// pool ends, is interrupted or is killed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Pool, ProcessError, WorkerLostError, getLogger } from '../dist/index.js';
import { fixture, startNode } from './helpers/child';
import { alive, processRunner } from './helpers/processes';

const M = fixture('pool-tasks.mjs');
const t: Record<string, any> = await import(M);
const { run } = processRunner(M);

async function until(check: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('worker death', () => {
  it('a task that kills its worker rejects with WorkerLostError; the others complete, the worker is replaced', async () => {
    const pool = new Pool(2, { module: M });
    const others = Array.from({ length: 20 }, (_, i) => pool.apply(t.later, [i, 5]));
    const lost = await pool.apply(t.killSelf).catch((e: Error) => e);
    expect(lost).toBeInstanceOf(WorkerLostError);
    const e = lost as InstanceType<typeof WorkerLostError>;
    expect(e.signal).toBe('SIGKILL');
    expect(e.exitCode).toBeNull();
    expect(e.pid).toBeGreaterThan(0);
    expect(e.code).toBe('ERR_MP_WORKER_LOST');
    expect(await Promise.all(others)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(pool.pids).not.toContain(e.pid);
    expect(pool.pids.length).toBe(2);
    expect(await pool.apply(t.add, [1, 1])).toBe(2);
    pool.close();
    await pool.join();
  });

  it('process.exit() inside a task: WorkerLostError with its exit code', async () => {
    const pool = new Pool(1, { module: M });
    const e = (await pool.apply(t.exitNow, [7]).catch((x: Error) => x)) as InstanceType<typeof WorkerLostError>;
    expect(e).toBeInstanceOf(WorkerLostError);
    expect(e.exitCode).toBe(7);
    expect(e.signal).toBeNull();
    expect(await pool.apply(t.add, [2, 2])).toBe(4);
    pool.close();
    await pool.join();
  });

  it('a worker SIGKILLed from outside fails only the task it ran; queued tasks are not lost', async () => {
    const pool = new Pool(2, { module: M });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-pool-'));
    const gateFile = path.join(dir, 'go');
    // Each worker holds one gated task; twenty more wait behind them.
    const gated = [pool.apply(t.gate, ['a', gateFile]), pool.apply(t.gate, ['b', gateFile])];
    const queued = Array.from({ length: 20 }, (_, i) => pool.apply(t.add, [i, 0]));
    const settled = gated.map((p) =>
      p.then(
        (v) => `ok ${String(v)}`,
        (err: Error) => err.name,
      ),
    );
    // Both gated tasks run (each worker took its task) before one worker is killed.
    await until(() => fs.existsSync(`${gateFile}.a`) && fs.existsSync(`${gateFile}.b`));
    const victim = pool.pids[0];
    process.kill(victim, 'SIGKILL');
    await until(() => !pool.pids.includes(victim));
    fs.writeFileSync(gateFile, '');
    const outcomes = await Promise.all(settled);
    expect(outcomes.filter((o) => o === 'WorkerLostError').length).toBe(1);
    expect(outcomes.filter((o) => o.startsWith('ok')).length).toBe(1);
    expect(await Promise.all(queued)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    pool.close();
    await pool.join();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('retries: a task that kills every worker fails after retries + 1 deaths; a map with retries survives a death', async () => {
    const pool = new Pool(2, { module: M });
    const e = (await pool.apply(t.killSelf, [], { retries: 2 }).catch((x: Error) => x)) as Error;
    expect(e).toBeInstanceOf(WorkerLostError);
    expect(e.message).toMatch(/died 3 times/);
    expect(await pool.map(t.square, [1, 2, 3])).toEqual([1, 4, 9]);
    pool.close();
    await pool.join();
  });

  it('a map in which one input kills its worker rejects with WorkerLostError naming that input', async () => {
    const pool = new Pool(2, { module: M });
    const xs = Array.from({ length: 30 }, (_, i) => i);
    const lost = (await pool
      .starmap(
        t.dieOn,
        xs.map((x) => [x, 17]),
        1,
      )
      .catch((x: Error) => x)) as InstanceType<typeof WorkerLostError>;
    expect(lost).toBeInstanceOf(WorkerLostError);
    expect(lost.index).toBe(17);
    expect(lost.message).toMatch(/while it ran dieOn \(input 17\)/);
    expect(await pool.map(t.square, [5])).toEqual([25]);
    pool.close();
    await pool.join();
  });

  it('workers killed while booting, then close() and join(): no worker starts after join() (was: one did, found the pool queues gone, and its own was left in /dev/shm)', async () => {
    // Replacements of workers killed while booting come later and later (10 ms, 20 ms ...).
    const pool = new Pool(1, { module: M });
    const killed: number[] = [];
    for (let k = 0; k < 8; k++) {
      await until(() => pool.pids.length === 1 && !killed.includes(pool.pids[0]));
      killed.push(pool.pids[0]);
      process.kill(pool.pids[0], 'SIGKILL');
    }
    await until(() => pool.pids.length === 0); // the 8th death seen: its replacement is due in ~320 ms
    pool.close();
    await pool.join();
    // Every process start is logged (debug): none may follow join().
    const started: string[] = [];
    const logger = getLogger();
    const level = logger.level;
    const note = (line: string): void => void (/started PoolWorker/.test(line) && started.push(line));
    logger.setLevel('debug');
    logger.addHandler(note);
    try {
      // Past the replacement's due time (a bound for something that must not happen, not a timing claim).
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      logger.removeHandler(note);
      logger.setLevel(level);
    }
    expect(started).toEqual([]);
    expect(pool.pids).toEqual([]);
  });

  it('workers whose initializer fails: calls reject with ProcessError instead of hanging', async () => {
    const pool = new Pool(1, { module: M, initializer: t.failInit });
    const e = await pool.apply(t.add, [1, 1]).catch((x: Error) => x);
    expect(e).toBeInstanceOf(ProcessError);
    // What the initializer threw, in the message and as the cause (not only on the workers' stderr).
    expect((e as Error).message).toMatch(/initializer threw Error: initializer failed/);
    const cause = (e as Error).cause as Error;
    expect(cause.message).toBe('initializer failed');
    expect((cause.cause as Error).message).toMatch(/^initializer failed \(thrown in the initializer of PoolWorker-\d+, pid \d+\)$/);
    pool.terminate();
    await pool.join();
  });
});

describe('lifecycle', () => {
  it('close() then join() finishes queued work; terminate() rejects what is pending', async () => {
    const pool = new Pool(2, { module: M });
    const pending = pool.map(
      t.later,
      Array.from({ length: 10 }, (_, i) => i),
      1,
    );
    pool.close();
    await expect(pool.apply(t.add, [1, 1])).rejects.toThrow(/closed/);
    await pool.join();
    expect(await pending).toEqual(Array.from({ length: 10 }, (_, i) => i));
    const pids = pool.pids;
    expect(pids).toEqual([]);

    const p2 = new Pool(2, { module: M });
    const running = p2.apply(t.forever).catch((e: Error) => e);
    const queued = p2.map(t.square, [1, 2, 3]).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 200));
    const workers = p2.pids;
    p2.terminate();
    expect((await running).code).toBe('ERR_MP_POOL_CLOSED');
    expect(await queued).toBeDefined();
    await p2.join();
    for (const pid of workers) expect(alive(pid)).toBe(false);
  });

  it('join() before close() is an error; await using closes and joins', async () => {
    const pool = new Pool(1, { module: M });
    await expect(pool.join()).rejects.toThrow(/close\(\) or terminate\(\) first/);
    await pool[Symbol.asyncDispose]();
    expect(pool.pids).toEqual([]);
  });

  it('a pool inside a child process works', async () => {
    const p = run(t.poolInChild, M);
    await p.join();
    expect(p.exitCode).toBe(0);
  });

  it('an idle open pool does not keep the program alive', async () => {
    const child = startNode([fixture('pool-main.mjs'), 'idle']);
    expect(await child.exited).toBe(0);
    expect(child.stdout()).toContain('result 3');
  });

  it('workers die with the program when it is SIGKILLed', async () => {
    const child = startNode([fixture('pool-main.mjs'), 'pids']);
    const pids = (await child.line(/^pids (.*)$/))[1].split(',').map(Number);
    expect(pids.length).toBe(2);
    child.proc.kill('SIGKILL');
    await child.exited;
    await until(() => pids.every((pid) => !alive(pid)));
  });

  it('Ctrl-C (SIGINT to the process group): the program decides; workers do not die first', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-pool-'));
    const gateFile = path.join(dir, 'go');
    const child = startNode([fixture('pool-main.mjs'), 'sigint', gateFile]);
    const workers = (await child.line(/^pids (.*)$/))[1].split(',').map(Number);
    // Two tasks run, one in each worker (the other two wait behind them).
    await until(() => ['1', '2', '3', '4'].filter((x) => fs.existsSync(`${gateFile}.${x}`)).length === 2);
    // The terminal signals the whole group: the program and its workers.
    for (const pid of [child.proc.pid!, ...workers]) process.kill(pid, 'SIGINT');
    await child.line(/^sigint$/);
    fs.writeFileSync(gateFile, '');
    await child.line(/^closed$/);
    expect(await child.exited).toBe(0);
    expect(child.stdout()).toContain('map done 4');
    expect(child.stdout()).not.toContain('map failed');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
