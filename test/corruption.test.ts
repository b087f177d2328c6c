// A queue's segment corrupted by another process of the same user (or
// truncated under us) must never crash or hang a reader: every case is an
// ERR_MP_CORRUPT error naming the segment, the queue works again afterwards
// (a truncated one keeps reporting it), and other objects are unaffected.
// Regressions of shared/repro/corrupt-queue-segment.mjs and
// corrupt-record-length-segfault.mjs, which gave SIGSEGV, SIGBUS, endless
// repair walks, a poisoned queue, and a reader that returned -- and
// unlinked -- an unrelated /dev/shm file.
import { describe, expect, it } from 'vitest';
import { fixture, startNode } from './helpers/child';

async function corrupt(name: string): Promise<Record<string, unknown>> {
  const child = startNode([fixture('corrupt-queue.cjs'), name]);
  const code = await child.exited;
  expect(code, `case ${name} ended with ${code}\n${child.stdout()}\n${child.stderr()}`).toBe(0);
  const lines = child
    .stdout()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return Object.assign({}, ...lines) as Record<string, unknown>;
}

const structural = [
  'string-len-huge',
  'string-len-past-end',
  'buffer-len-huge',
  'buffer-len-past-end',
  'length-past-tail',
  'async-string-len-huge',
  'repair-walk',
  'head-after-tail',
  'unaligned-head',
  'put-into-garbage-positions',
  'capacity-changed',
  'v8-garbage',
  'json-garbage',
  'unknown-tag',
  'unknown-representation',
  'wrap-tag',
];

describe('a corrupted queue segment', () => {
  for (const name of structural) {
    it(`${name}: ERR_MP_CORRUPT naming the segment, then the queue works again`, async () => {
      const r = await corrupt(name);
      expect(r.code, JSON.stringify(r)).toBe('ERR_MP_CORRUPT');
      expect(r.message).toMatch(/mp-[0-9a-z]+-[0-9a-f]{16}/);
      // 'capacity-changed' stays corrupt: the capacity no longer fits what the mapping was checked against.
      if (name === 'capacity-changed') expect(r.afterThrew).toBe('ERR_MP_CORRUPT');
      else expect(r.after).toBe('after');
      expect(r.other).toBe('other');
    });
  }

  it('a count of items no ring can hold is recounted, not trusted', async () => {
    const r = await corrupt('items-count-garbage');
    expect(r.threw).toBeUndefined();
    expect(r.after).toBe('x'); // the item put before is still first: nothing was lost
  });

  it('a record naming some other /dev/shm file is refused: the file is neither returned nor unlinked', async () => {
    const r = await corrupt('side-names-victim');
    expect(r.code).toBe('ERR_MP_CORRUPT');
    expect(r.victimExists).toBe(true);
    expect(r.after).toBe('after');
  });

  it('a record naming a live object of ours (not a side segment) leaves that object alone', async () => {
    const r = await corrupt('side-names-live-object');
    expect(r.code).toBe('ERR_MP_CORRUPT');
    expect(r.victimExists).toBe(true);
    expect(r.lockWorks).toBe(true);
    expect(r.after).toBe('after');
  });

  for (const name of ['truncate-segment', 'truncate-then-async-get']) {
    it(`${name}: no SIGBUS; the queue reports ERR_MP_CORRUPT from then on, other objects work`, async () => {
      const r = await corrupt(name);
      expect(r.code).toBe('ERR_MP_CORRUPT');
      expect(r.message).toMatch(/truncated/);
      expect(r.afterThrew).toBe('ERR_MP_CORRUPT');
      expect(r.other).toBe('other');
    });
  }
});
