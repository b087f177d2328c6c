// The Pool on BullMQ and a real redis-server (started here on a free port):
// worker hosts are `multiproc worker` processes; results and order, errors,
// timeouts and aborts, a poison task, a host SIGKILLed mid-map, Redis
// unreachable, and nothing of a finished map left in Redis.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortError, Lock, Pool, TimeoutError, WorkerLostError, getLogger } from '../dist/index.js';
import { fixture, repo } from './helpers/child';
import { eventually } from './helpers/processes';
import { freePort, hasRedis, startHost, startRedis, type Host, type Redis } from './helpers/redis';

const T = fixture('scaleout-tasks.mjs');
const t: Record<string, any> = await import(T);

if (!hasRedis) console.warn('scaleout tests skipped: no redis-server binary (apt-get install redis-server)');

describe.skipIf(!hasRedis)('Pool with the bullmq backend', () => {
  let redis: Redis;
  const hosts: Host[] = [];
  let n = 0;
  const queue = (): string => `q${process.pid}x${++n}`;
  const pool = (q: string, extra: Record<string, unknown> = {}): Pool =>
    new Pool(2, { backend: { type: 'bullmq', connection: redis.url, queue: q, ...extra }, module: T });
  const host = async (q: string, extra: string[] = []): Promise<Host> => {
    const h = await startHost(redis.url, q, extra);
    hosts.push(h);
    return h;
  };

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const h of hosts) if (h.child.exitCode === null) h.child.kill('SIGKILL');
    await Promise.all(hosts.map((h) => h.exited));
    await redis.stop();
  });

  it('map, imap, imapUnordered, starmap and apply: results in order; errors keep their class and code; nothing of it left in Redis', async () => {
    const q = queue();
    const h = await host(q);
    const p = pool(q);
    try {
      expect(await p.map(t.square, [1, 2, 3, 4, 5, 6, 7], { chunksize: 3 })).toEqual([1, 4, 9, 16, 25, 36, 49]);
      const inOrder: unknown[] = [];
      for await (const v of p.imap(t.square, [3, 1, 2])) inOrder.push(v);
      expect(inOrder).toEqual([9, 1, 4]);
      const any: number[] = [];
      for await (const v of p.imapUnordered(t.square, [5, 6])) any.push(v as number);
      expect(any.sort((a, b) => a - b)).toEqual([25, 36]);
      expect(
        await p.starmap(t.add, [
          [1, 2],
          [3, 4],
        ]),
      ).toEqual([3, 7]);
      expect(await p.apply(t.add, [2, 3])).toBe(5);
      // Structured clone both ways: a Map and a bigint arrive as they were.
      expect(await p.apply(t.echo, [new Map([['k', 1n]])])).toEqual(new Map([['k', 1n]]));
      const err = await p.apply(t.boom, [7]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RangeError);
      expect(err).toMatchObject({ code: 'E_BAD', message: 'bad input 7' });
      expect(() => p.applySync(t.add, [1, 2])).toThrow(/no Sync calls/);
    } finally {
      p.close();
      await p.join();
    }
    // Only BullMQ's bookkeeping stays: no job, no result.
    const keys = redis.cli('--scan', '--pattern', `bull:${q}:*`).trim().split('\n').filter(Boolean).sort();
    expect(keys.filter((k) => !/:(meta|id|events|stalled-check)$/.test(k))).toEqual([]);
    expect(redis.cli('xrange', `bull:${q}:events`, '-', '+')).not.toMatch(/returnvalue/);
    h.child.kill('SIGTERM');
    expect(await h.exited).toBe(0);
    expect(h.log()).toMatch(/worker: done/);
  });

  it('outcomes of the first jobs, done while the pool is still adding the rest, are not missed', async () => {
    const q = queue();
    await host(q);
    for (let round = 0; round < 4; round++) {
      const p = pool(q);
      try {
        // Adding 400 jobs keeps this process busy while the host already finishes the first ones.
        const xs = Array.from({ length: 400 }, (_, i) => i);
        expect(await p.map(t.square, xs, { chunksize: 1 })).toEqual(xs.map((x) => x * x));
      } finally {
        p.close();
        await p.join();
      }
    }
  });

  it('a timeout stops the task on its host; a poison task fails with WorkerLostError after its retries', async () => {
    const q = queue();
    const h = await host(q);
    const p = pool(q);
    try {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-timeout-'));
      try {
        await expect(p.apply(t.hold, [dir, 'x'], { timeout: 1500 })).rejects.toBeInstanceOf(TimeoutError);
        // Begun on its host (nearly always, by then): its process is stopped. Not begun (a slow machine): never run.
        await eventually(
          () => fs.readdirSync(dir).length === 0 || /was killed by SIGKILL/.test(h.log()),
          "the host's worker process running it to be stopped",
        );
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
      const lost = await p.apply(t.crash, [], { retries: 1 }).catch((e: unknown) => e);
      expect(lost).toBeInstanceOf(WorkerLostError);
      expect((lost as Error).message).toMatch(/crash/);
      expect(await p.apply(t.square, [9])).toBe(81); // the host goes on
    } finally {
      p.close();
      await p.join();
    }
  });

  it('a worker host SIGKILLed mid-map: its jobs stall and are run by the other host; every result is right', async () => {
    const q = queue();
    const fast = ['--lock-duration', '1000', '--stalled-interval', '500'];
    const a = await host(q, fast);
    const b = await host(q, fast);
    const p = pool(q);
    try {
      let done = 0;
      const inputs = Array.from({ length: 24 }, (_, i) => i);
      const mapped = p.starmap(
        t.slow,
        inputs.map((i) => [100, i]),
        { chunksize: 1, onProgress: (d) => (done = d) },
      );
      void mapped.catch(() => {});
      await eventually(() => done >= 4, 'some results');
      a.child.kill('SIGKILL');
      expect(await mapped).toEqual(inputs);
      expect(b.child.exitCode).toBe(null);
    } finally {
      p.close();
      await p.join();
    }
  });

  it('abort reaches the jobs running on other hosts: each host stops its worker processes; nothing is left in Redis', async () => {
    const q = queue();
    const a = await host(q);
    const b = await host(q);
    const p = pool(q);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-abort-'));
    try {
      const ac = new AbortController();
      // Six tasks, four run at once (two hosts of two processes): two wait in Redis.
      const mapped = p.starmap(
        t.hold,
        [0, 1, 2, 3, 4, 5].map((i) => [dir, i]),
        { chunksize: 1, signal: ac.signal },
      );
      void mapped.catch(() => {});
      await eventually(() => fs.readdirSync(dir).length >= 4, 'four tasks running');
      const by = new Set(fs.readdirSync(dir).map((f) => f.split('-')[0]));
      expect(by).toEqual(new Set([String(a.child.pid), String(b.child.pid)]));
      ac.abort();
      await expect(mapped).rejects.toBeInstanceOf(AbortError);
      for (const h of [a, b])
        await eventually(() => (h.log().match(/was killed by SIGKILL/g) ?? []).length >= 2, 'both processes of each host stopped');
      await eventually(() => redis.jobs(q).length === 0, 'no job left in Redis');
      expect(fs.readdirSync(dir).length).toBe(4); // the waiting two never ran
    } finally {
      p.close();
      await p.join();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a task that kills every host it reaches fails with WorkerLostError once its stall budget is spent', async () => {
    const q = queue();
    const fast = ['--lock-duration', '1000', '--stalled-interval', '500', '--max-stalled', '1'];
    const p = pool(q);
    try {
      const lost = p.apply(t.killHost, []);
      let settled = false;
      void lost.then(
        () => (settled = true),
        () => (settled = true),
      );
      // A supervisor's part: hosts are started again as they die, until the job gives up.
      let started = 0;
      while (!settled) {
        const h = await host(q, fast);
        started++;
        await Promise.race([h.exited, lost.catch(() => {})]);
      }
      const e = await lost.catch((x: unknown) => x);
      expect(e).toBeInstanceOf(WorkerLostError);
      expect((e as Error).message).toMatch(/stalled more than allowable limit/);
      expect(started).toBeGreaterThanOrEqual(2);
      expect(started).toBeLessThanOrEqual(4);
    } finally {
      p.close();
      await p.join();
    }
  });

  it('payloads and results are bounded, by the pool and by the host', async () => {
    const q = queue();
    await host(q, ['--max-payload-bytes', '4096']);
    const p = pool(q, { maxPayloadBytes: 2048 });
    const roomy = pool(q);
    try {
      const mine = await p.apply(t.echo, ['x'.repeat(3000)]).catch((e: unknown) => e);
      expect(mine).toBeInstanceOf(RangeError);
      expect(mine).toMatchObject({ code: 'ERR_MP_MESSAGE_TOO_LARGE', message: /over the scale-out limit of 2048/ });
      const theirs = await roomy.apply(t.echo, ['x'.repeat(8000)]).catch((e: unknown) => e);
      expect(theirs).toBeInstanceOf(RangeError);
      expect(theirs).toMatchObject({ code: 'ERR_MP_MESSAGE_TOO_LARGE', message: /over this worker host's limit of 4096/ });
      const result = await roomy.apply(t.big, [8000]).catch((e: unknown) => e);
      expect(result).toMatchObject({ code: 'ERR_MP_MESSAGE_TOO_LARGE', message: /the result of big/ });
      expect(await roomy.apply(t.big, [100])).toBe('x'.repeat(100));
    } finally {
      for (const x of [p, roomy]) {
        x.close();
        await x.join();
      }
    }
  });

  it('lazy inputs are read a bounded way ahead; leaving an imap early removes the jobs not begun', async () => {
    const q = queue();
    await host(q);
    const p = pool(q);
    try {
      let read = 0;
      function* endless(): Generator<number> {
        for (let i = 0; ; i++) {
          read++;
          yield i;
        }
      }
      const got: number[] = [];
      for await (const v of p.imap(t.square, endless(), { chunksize: 1 })) {
        got.push(v as number);
        if (got.length === 5) break;
      }
      expect(got).toEqual([0, 1, 4, 9, 16]);
      expect(read).toBeLessThan(1000); // the lookahead, not the input
      await eventually(() => redis.jobs(q).length === 0, 'the jobs not begun to be removed');
      // The outcomes of those running when it left, read after, are deleted from the event stream too.
      await eventually(() => !/returnvalue/.test(redis.cli('xrange', `bull:${q}:events`, '-', '+')), 'no result left in the stream');
    } finally {
      p.close();
      await p.join();
    }
  });

  it('SIGTERM to a host with a job running: the job finishes and its result arrives, then the host leaves', async () => {
    const q = queue();
    const h = await host(q);
    const p = pool(q);
    try {
      const result = p.apply(t.slow, [1500, 'finished']);
      // Running once its host holds the job's lock.
      await eventually(() => redis.cli('--scan', '--pattern', `bull:${q}:*:lock`).trim() !== '', 'the job to be taken');
      h.child.kill('SIGTERM');
      expect(await result).toBe('finished');
      expect(await h.exited).toBe(0);
      expect(h.log()).toMatch(/finishing the running jobs[\s\S]*worker: done/);
    } finally {
      p.close();
      await p.join();
    }
  });

  it('tasks on a queue no host takes from: a warning says so; a host started later runs them', async () => {
    const q = queue();
    const p = pool(q);
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      const result = p.apply(t.square, [12]);
      await eventually(() => warnings.some((w) => (w as { code?: string }).code === 'MULTIPROC_NO_WORKER_HOST'), 'the warning');
      expect(warnings.find((w) => (w as { code?: string }).code === 'MULTIPROC_NO_WORKER_HOST')!.message).toMatch(
        new RegExp(`no worker host takes jobs from .*queue ${q}: 1 task\\(s\\) wait`),
      );
      await host(q);
      expect(await result).toBe(144);
    } finally {
      process.off('warning', onWarning);
      p.close();
      await p.join();
    }
  });

  it('a pool that falls behind the trimmed event stream adds the jobs whose outcomes it lost again; every result arrives', async () => {
    const q = queue();
    await host(q);
    const p = pool(q, { eventsMaxLen: 20 });
    const warned: string[] = [];
    const handler = (line: string): void => void warned.push(line);
    getLogger().addHandler(handler);
    try {
      const xs = Array.from({ length: 200 }, (_, i) => i);
      let done = 0;
      const mapped = p.starmap(
        t.slow,
        xs.map((x) => [5, x]),
        { chunksize: 1, onProgress: (d) => (done = d) },
      );
      await eventually(() => done > 0, 'a first result');
      // This process stops reading while the host works on: the stream keeps only its last ~20 entries.
      const until = Date.now() + 2000;
      while (Date.now() < until);
      expect(await mapped).toEqual(xs);
      expect(warned.some((w) => /left Redis with their outcome unread/.test(w))).toBe(true);
    } finally {
      getLogger().removeHandler(handler);
      p.close();
      await p.join();
    }
  });

  it('a call aborted or timed out before its job is added: the job is never added, never runs', async () => {
    const q = queue();
    await host(q, ['--processes', '1', '--concurrency', '1']);
    const p = pool(q);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-early-'));
    try {
      const ac = new AbortController();
      const aborted = p.apply(t.hold, [dir, 'aborted'], { signal: ac.signal });
      ac.abort();
      const timedOut = p.apply(t.hold, [dir, 'timed-out'], { timeout: 1 });
      await expect(aborted).rejects.toBeInstanceOf(AbortError);
      await expect(timedOut).rejects.toBeInstanceOf(TimeoutError);
      // One process, one job at a time, in order: had either been added, this would wait behind its minute.
      expect(await p.apply(t.square, [3])).toBe(9);
      expect(fs.readdirSync(dir)).toEqual([]);
    } finally {
      p.close();
      await p.join();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('terminate() during a map stops every running task on every host; join() twice resolves both', async () => {
    const q = queue();
    const a = await host(q);
    const b = await host(q);
    const p = pool(q);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-term-'));
    try {
      const mapped = p.starmap(
        t.hold,
        [0, 1, 2, 3].map((i) => [dir, i]),
        { chunksize: 1 },
      );
      void mapped.catch(() => {});
      await eventually(() => fs.readdirSync(dir).length === 4, 'four tasks running');
      p.terminate();
      await Promise.all([p.join(), p.join()]);
      await expect(mapped).rejects.toThrow(/terminated/);
      for (const h of [a, b])
        await eventually(() => (h.log().match(/was killed by SIGKILL/g) ?? []).length >= 2, 'both processes of each host stopped');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a second SIGTERM: the host leaves at once; its job stalls and another host runs it', async () => {
    const q = queue();
    const fast = ['--lock-duration', '1000', '--stalled-interval', '500'];
    const a = await host(q, fast);
    const p = pool(q);
    try {
      const result = p.apply(t.slow, [3000, 'ran elsewhere']);
      await eventually(() => redis.cli('--scan', '--pattern', `bull:${q}:*:lock`).trim() !== '', 'the job to be taken');
      a.child.kill('SIGTERM');
      await eventually(() => /finishing the running jobs/.test(a.log()), 'the graceful leave');
      a.child.kill('SIGTERM');
      expect(await a.exited).toBe(0);
      expect(a.log()).toMatch(/leaving now/);
      await host(q, fast);
      expect(await result).toBe('ran elsewhere');
    } finally {
      p.close();
      await p.join();
    }
  });

  it('Sync calls throw before they add anything; maxQueue bounds the jobs out in Redis', async () => {
    const q = queue();
    const p = pool(q, {});
    const bounded = new Pool(2, { backend: { type: 'bullmq', connection: redis.url, queue: q }, module: T, maxQueue: 2 });
    const jobs = (): number => redis.jobs(q).length;
    try {
      expect(() => p.applySync(t.square, [2])).toThrow(/no Sync calls/);
      expect(() => p.mapSync(t.square, [1, 2, 3])).toThrow(/no Sync calls/);
      const results = Array.from({ length: 10 }, (_, i) => bounded.apply(t.square, [i]));
      // Out: one per process of the pool's size (2), and maxQueue (2) waiting beyond them.
      await eventually(() => jobs() === 4, 'four jobs out');
      expect(jobs()).toBe(4); // none of p's Sync calls, and only four of the ten
      await host(q);
      expect(await Promise.all(results)).toEqual(Array.from({ length: 10 }, (_, i) => i * i));
    } finally {
      for (const x of [p, bounded]) {
        x.close();
        await x.join();
      }
    }
  });

  it("only the pool's module runs; shared objects of this machine cannot travel to a host", async () => {
    const q = queue();
    await host(q);
    const p = pool(q);
    const other: Record<string, any> = await import(fixture('pool-tasks.mjs'));
    const lock = new Lock();
    try {
      await expect(p.apply(other.square, [3], { module: fixture('pool-tasks.mjs') })).rejects.toThrow(
        /runs only exports of the pool's module/,
      );
      await expect(p.apply(t.echo, [lock])).rejects.toThrow(/shared memory of this machine/);
      expect(await p.apply(t.square, [4])).toBe(16);
    } finally {
      p.close();
      await p.join();
    }
  });

  it('terminate() with calls waiting for room (maxQueue) fails them all; a pool closed at once leaves no connection', async () => {
    const q = queue();
    const p = new Pool(1, { backend: { type: 'bullmq', connection: redis.url, queue: q }, module: T, maxQueue: 1 });
    const calls = Array.from({ length: 4 }, (_, i) => p.apply(t.square, [i]));
    for (const c of calls) void c.catch(() => {});
    await eventually(() => redis.jobs(q).length > 0, 'a job out');
    expect(() => p.terminate()).not.toThrow();
    for (const c of calls) await expect(c).rejects.toThrow(/terminated/);
    await p.join();
    // Made and closed before it reached Redis: BullMQ's objects are never made, so nothing stays connected.
    const quick = pool(q);
    quick.close();
    await quick.join();
    // BullMQ names its connections after the queue, base64 (bull:<base64>:qe is the event reader's).
    const named = Buffer.from(q).toString('base64');
    await eventually(() => !redis.cli('client', 'list').includes(named), 'no connection of the queue left');
  });

  it('Redis unreachable at first: calls fail with a clear error, not a hang', async () => {
    const port = await freePort();
    const p = new Pool(2, { backend: { type: 'bullmq', connection: `redis://127.0.0.1:${port}`, connectTimeout: 500 }, module: T });
    await expect(p.apply(t.square, [2])).rejects.toThrow(/cannot reach Redis/);
    p.terminate();
    await p.join();
  });

  it('a host whose --module fails to import, or with bad flags, says why and exits 2', () => {
    const run = (...args: string[]): { status: number | null; stderr: string } =>
      spawnSync(process.execPath, [path.join(repo, 'dist/cli/main.js'), 'worker', ...args], { encoding: 'utf8' });
    const throws = run('--redis', redis.url, '--module', fixture('scaleout-throws.mjs'));
    expect(throws.status).toBe(2);
    expect(throws.stderr).toMatch(/--module .*scaleout-throws\.mjs could not be imported: Error: boom at import/);
    expect(run('--redis', redis.url, '--module', '/nonexistent/tasks.mjs').stderr).toMatch(/no such file/);
    expect(run('--module', T).stderr).toMatch(/--redis URL is required/);
    expect(run('--redis', redis.url, '--module', T, '--queue', 'a:b').stderr).toMatch(/without ':'/);
    expect(run('--redis', redis.url, '--module', T, '--max-payload-bytes', '10').stderr).toMatch(/>= 1024/);
    expect(run('--help').status).toBe(0);
  });

  it('bad options are TypeErrors', () => {
    // @ts-expect-error -- the types know the backends
    expect(() => new Pool(1, { backend: { type: 'nope' } })).toThrow(/no backend "nope"/);
    expect(() => new Pool(1, { backend: { type: 'bullmq', connection: 'http://x' } })).toThrow(/redis:\/\/ or rediss:\/\//);
    // @ts-expect-error -- and their options
    expect(() => new Pool(1, { backend: { type: 'bullmq', connection: redis.url, bogus: 1 } })).toThrow(
      /unknown Pool backend 'bullmq' option "bogus"/,
    );
    expect(() => new Pool(1, { backend: { type: 'bullmq', connection: redis.url, queue: 'a:b' } })).toThrow(/without ':'/);
    expect(() => new Pool(1, { backend: { type: 'bullmq', connection: redis.url, eventsMaxLen: 0 } })).toThrow(
      /eventsMaxLen must be a positive integer/,
    );
    expect(() => new Pool(1, { backend: { type: 'bullmq', connection: redis.url, connectTimeout: -1 } })).toThrow(/connectTimeout must be/);
    expect(() => new Pool(1, { backend: { type: 'bullmq', connection: redis.url, maxPayloadBytes: 10 } })).toThrow(
      /maxPayloadBytes must be/,
    );
    expect(() => new Pool(1, { backend: { type: 'bullmq', connection: redis.url, connectTimeout: Infinity } })).toThrow(
      /connectTimeout must be/,
    );
    // A client, as BullMQ's own examples pass: the pool makes its own connections.
    expect(() => new Pool(1, { backend: { type: 'bullmq', connection: { duplicate: () => null } } })).toThrow(/not a client/);
    expect(() => new Pool(1, { backend: { type: 'bullmq', connection: redis.url, prefix: '' } })).toThrow(/prefix must be/);
  });
});
