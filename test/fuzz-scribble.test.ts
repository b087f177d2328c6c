// Random bytes written over live segments of every kind (and now and then a
// truncation), as any process of the same user could: no crash, no hang,
// only the errors a user is promised, and objects that were not scribbled
// go on working. test/fixtures/scribble.cjs does the work in a child per
// seed; the seeds make a failure repeatable (`node test/fixtures/scribble.cjs <seed> <rounds>`).
import { describe, expect, it } from 'vitest';
import { fixture, startNode } from './helpers/child';

const SEEDS = [1, 2, 3, 4, 5, 6];
const ROUNDS = 25;

describe('scribbling over live segments', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: no crash, only typed errors, fresh objects still work`, async () => {
      const child = startNode([fixture('scribble.cjs'), String(seed), String(ROUNDS)]);
      const code = await child.exited;
      expect(code, `exit ${code}\n${child.stdout()}\n${child.stderr()}`).toBe(0);
      const r = JSON.parse(child.stdout().trim().split('\n').pop()!) as { seen: Record<string, number>; bugs: string[]; works: boolean[] };
      expect(r.bugs).toEqual([]);
      expect(r.works).toEqual([true, true, true, true, true, true]);
    });
  }
});
