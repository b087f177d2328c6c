// The Pool on BullMQ and a real redis-server (started here on a free port):
// worker hosts are `multiproc worker` processes; results and order, errors,
// timeouts and aborts, a poison task, a host SIGKILLed mid-map, Redis
// unreachable, and nothing of a finished map left in Redis.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pool, TimeoutError, WorkerLostError } from '../dist/index.js';
import { fixture } from './helpers/child';
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

  it('a timeout stops the task on its host; a poison task fails with WorkerLostError after its retries', async () => {
    const q = queue();
    const h = await host(q);
    const p = pool(q);
    try {
      await expect(p.apply(t.slow, [60_000, 1], { timeout: 200 })).rejects.toBeInstanceOf(TimeoutError);
      await eventually(() => /was killed by SIGKILL/.test(h.log()), "the host's worker process running it to be stopped");
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
      expect(b.log()).not.toMatch(/stalled more than/);
      expect(b.child.exitCode).toBe(null);
    } finally {
      p.close();
      await p.join();
    }
  });

  it('Redis unreachable at first: calls fail with a clear error, not a hang', async () => {
    const port = await freePort();
    const p = new Pool(2, { backend: { type: 'bullmq', connection: `redis://127.0.0.1:${port}`, connectTimeout: 500 }, module: T });
    await expect(p.apply(t.square, [2])).rejects.toThrow(/cannot reach Redis/);
    p.terminate();
    await p.join();
  });

  it('bad options are TypeErrors', () => {
    expect(() => new Pool(1, { backend: { type: 'nope' } })).toThrow(/no backend "nope"/);
    expect(() => new Pool(1, { backend: { type: 'bullmq', connection: 'http://x' } })).toThrow(/redis:\/\/ or rediss:\/\//);
    expect(() => new Pool(1, { backend: { type: 'bullmq', connection: redis.url, bogus: 1 } })).toThrow(
      /unknown Pool backend 'bullmq' option "bogus"/,
    );
    expect(() => new Pool(1, { backend: { type: 'bullmq', connection: redis.url, queue: 'a:b' } })).toThrow(/without ':'/);
  });
});
