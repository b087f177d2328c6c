// Fault injection into a Pool: workers SIGKILLed at random instants during
// long maps, imaps and bursts of applies, with `retries`. Every result must
// be right, in its place, and come (no hang); afterwards no worker runs and
// nothing is left in /dev/shm (helpers/setup.ts). The schedule is seeded
// (helpers/soak.ts): a failure prints the seed and the command replaying it.
import { describe, expect, it, onTestFailed } from 'vitest';
import { Pool } from '../dist/index.js';
import { fixture } from './helpers/child';
import { alive } from './helpers/processes';
import { Schedule, replay, scaled } from './helpers/soak';

const M = fixture('pool-tasks.mjs');
const t: Record<string, any> = await import(M);

// Kills a random worker every few tens of ms until `done` settles; how many it killed.
async function killer(pool: Pool, s: Schedule, done: Promise<unknown>): Promise<number> {
  let over = false;
  void done.finally(() => (over = true)).catch(() => {});
  let kills = 0;
  while (!over) {
    await s.pause(20, 150);
    const pids = pool.pids;
    if (over || pids.length === 0) continue;
    const pid = s.pick(pids);
    try {
      process.kill(pid, 'SIGKILL');
      kills++;
      s.lines.push(`killed worker ${pid}`);
    } catch {
      // it had just left
    }
  }
  return kills;
}

describe('pool soak', () => {
  it('map, imapUnordered and applies under random SIGKILLs of workers: every result right', async () => {
    const s = new Schedule('pool');
    onTestFailed(() => console.error(`seed replay: ${replay()}\n${s.lines.join('\n')}`));
    const pool = new Pool(2, { module: M });
    const everPids = new Set<number>();
    const watch = setInterval(() => pool.pids.forEach((p) => everPids.add(p)), 5);
    const n = scaled(1500);
    const xs = Array.from({ length: n }, (_, i) => i);

    const mapped = pool.map(t.slowSquare, xs, { chunksize: s.int(1, 8), retries: 1000 });
    const kills1 = await killer(pool, s, mapped);
    expect(await mapped).toEqual(xs.map((x) => x * x));

    const unordered = (async () => {
      const got: number[] = [];
      for await (const v of pool.imapUnordered(t.slowSquare, xs, { chunksize: s.int(1, 4), retries: 1000 })) got.push(v as number);
      return got;
    })();
    const kills2 = await killer(pool, s, unordered);
    expect((await unordered).sort((a, b) => a - b)).toEqual(xs.map((x) => x * x).sort((a, b) => a - b));

    const applies = Promise.all(xs.slice(0, scaled(400)).map((x) => pool.apply(t.slowSquare, [x], { retries: 1000 })));
    const kills3 = await killer(pool, s, applies);
    expect(await applies).toEqual(xs.slice(0, scaled(400)).map((x) => x * x));

    s.lines.push(`kills: ${kills1} + ${kills2} + ${kills3}`);
    expect(kills1 + kills2 + kills3).toBeGreaterThan(0);
    pool.close();
    await pool.join();
    clearInterval(watch);
    for (const pid of everPids) expect(alive(pid)).toBe(false);
  });

  it('without retries, exactly the tasks the killed workers held fail; all others are right', async () => {
    const s = new Schedule('pool-no-retries');
    onTestFailed(() => console.error(`seed replay: ${replay()}\n${s.lines.join('\n')}`));
    const pool = new Pool(2, { module: M });
    const n = scaled(800);
    const calls = Array.from({ length: n }, (_, i) =>
      pool.apply(t.slowSquare, [i, 1]).then(
        (v) => ({ ok: true as const, v }),
        (e: Error) => ({ ok: false as const, e }),
      ),
    );
    const all = Promise.all(calls);
    const kills = await killer(pool, s, all);
    const outcomes = await all;
    const failed = outcomes.filter((o) => !o.ok);
    for (const f of failed) expect((f as { e: Error }).e.name).toBe('WorkerLostError');
    // Each death fails the task running and those whose results were not sent yet (at most a batch's worth).
    expect(failed.length).toBeLessThanOrEqual(kills * 64);
    outcomes.forEach((o, i) => {
      if (o.ok) expect(o.v).toBe(i * i);
    });
    s.lines.push(`kills ${kills}, failed ${failed.length}`);
    pool.close();
    await pool.join();
  });
});
