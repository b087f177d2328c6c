// Futex waits across processes: the sync form (spin, then sleep) and the
// async form (a native waiter thread; the event loop stays free).
import { afterEach, describe, expect, it } from 'vitest';
import { native } from '../dist/binding/native.js';
import * as wait from '../dist/wait/wait.js';
import { AbortError } from '../dist/index.js';
import { nodeCode, startNode } from './helpers/child';

const made: Array<{ seg: ReturnType<typeof native.Segment.create> }> = [];
let counter = 0;
function segment(size = 4096) {
  const seg = native.Segment.create(`/mp-test-wait-${process.pid}-${counter++}`, size, true);
  made.push({ seg });
  return seg;
}
afterEach(() => {
  for (const { seg } of made.splice(0)) {
    seg.close();
    native.Segment.unlink(seg.name);
  }
});
const word = (seg: ReturnType<typeof segment>, offset: number) => new Int32Array(seg.buffer.buffer, seg.buffer.byteOffset + offset, 2);

describe('wait cells', () => {
  it('have the documented layout: value at +0, announced sleepers at +4', async () => {
    const seg = segment();
    const cell = word(seg, 16);
    const pending = wait.wait(seg, 16, 0);
    // The registration is synchronous: the sleeper is announced at once.
    expect(cell[1]).toBe(1);
    // 0 or 1 woken: the waiter thread may not be inside the kernel yet, in
    // which case its re-check sees the new value.
    expect(wait.storeAndWake(seg, 16, 5)).toBeLessThanOrEqual(1);
    expect(cell[0]).toBe(5);
    expect(await pending).toBe('ok');
    expect(cell[1]).toBe(0);
  });

  it('sync: not-equal at once, timed-out after a timeout, zero timeout polls', () => {
    const seg = segment();
    word(seg, 0)[0] = 3;
    expect(wait.waitSync(seg, 0, 4)).toBe('not-equal');
    expect(wait.waitSync(seg, 0, 3, 20)).toBe('timed-out');
    expect(wait.waitSync(seg, 0, 3, 0)).toBe('timed-out');
    expect(word(seg, 0)[1]).toBe(0);
  });

  // That no FUTEX_WAKE syscall is made is checked natively, in
  // native/tests/test_wait_cell.cc (wake_without_sleepers_makes_no_syscall).
  it('wake and storeAndWake without sleepers wake nobody', () => {
    const seg = segment();
    expect(wait.wake(seg, 0)).toBe(0);
    expect(wait.storeAndWake(seg, 0, 1)).toBe(0);
  });

  for (const spin of ['spinning', 'sleeping'] as const) {
    it(`sync ping-pong with another process (${spin})`, () => {
      const seg = segment();
      const rounds = 2000;
      const env: Record<string, string> = spin === 'sleeping' ? { MULTIPROC_SPIN_NS: '0' } : {};
      // The partner echoes: waits for an odd value, answers with the next even one.
      const child = startNode(
        nodeCode(`
        const seg = native.Segment.open(process.argv[1]);
        const cell = new Int32Array(seg.buffer.buffer, seg.buffer.byteOffset, 2);
        for (let v = 0; v < ${2 * rounds}; v += 2) {
          native.waitSync(seg, 0, v);
          native.storeAndWake(seg, 0, v + 2);
        }
        seg.close();`).concat(seg.name),
        env,
      );
      if (spin === 'sleeping') wait.setSpinPolicy({ maxSpinNs: 0 });
      try {
        const cell = word(seg, 0);
        for (let v = 1; v < 2 * rounds; v += 2) {
          wait.storeAndWake(seg, 0, v);
          while (cell[0] === v) expect(wait.waitSync(seg, 0, v, 60_000)).not.toBe('timed-out');
        }
        expect(cell[0]).toBe(2 * rounds);
      } finally {
        wait.setSpinPolicy({ maxSpinNs: 50_000, adaptive: true });
      }
      return child.exited.then((code) => expect(code).toBe(0));
    });
  }

  it('async: woken by another process, and timeouts settle as timed-out', async () => {
    const seg = segment();
    const child = startNode(
      nodeCode(`
      const seg = native.Segment.open(process.argv[1]);
      process.stdin.once('data', () => { native.storeAndWake(seg, 8, 1); seg.close(); process.exit(0); });
      console.log('ready');`).concat(seg.name),
    );
    await child.line(/ready/);
    const woken = wait.wait(seg, 8, 0);
    const timedOut = wait.wait(seg, 24, 0, { timeout: 30 });
    expect(await timedOut).toBe('timed-out');
    child.proc.stdin!.write('go\n');
    expect(await woken).toBe('ok');
    expect(await child.exited).toBe(0);
    expect(await wait.wait(seg, 8, 0)).toBe('not-equal');
  });

  it('async: 8 pending waits leave the event loop free, then all settle', async () => {
    const seg = segment();
    const waits = Array.from({ length: 8 }, (_, i) => wait.wait(seg, i * 8, 0));
    // A timer keeps firing while the waits are pending.
    let ticks = 0;
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (++ticks === 10) {
          clearInterval(t);
          resolve();
        }
      }, 1);
    });
    expect(ticks).toBe(10);
    for (let i = 0; i < 8; i++) expect(word(seg, i * 8)[1]).toBe(1);
    // Woken from another process.
    const child = startNode(
      nodeCode(`
      const seg = native.Segment.open(process.argv[1]);
      for (let i = 0; i < 8; i++) native.storeAndWake(seg, i * 8, 1);
      seg.close();`).concat(seg.name),
    );
    expect(await Promise.all(waits)).toEqual(Array(8).fill('ok'));
    expect(await child.exited).toBe(0);
  });

  it('async: 300 waits on distinct words (several waiter threads) all settle', async () => {
    const seg = segment(300 * 8);
    const waits = Array.from({ length: 300 }, (_, i) => wait.wait(seg, i * 8, 0));
    for (let i = 299; i >= 0; i--) wait.storeAndWake(seg, i * 8, 1);
    expect(new Set(await Promise.all(waits))).toEqual(new Set(['ok']));
  });

  // Regression: the waiter thread used to give the kernel the cell's fresh
  // value instead of the value the wait expected, so a change landing between
  // its check and its sleep (whose wake had already been spent) was lost.
  it("async: a change between the waiter thread's check and its sleep is not lost", async () => {
    const seg = segment(300 * 8);
    const cells = new Int32Array(seg.buffer.buffer, seg.buffer.byteOffset, 600);
    for (let round = 1; round <= 200; round++) {
      const waits = Array.from({ length: 300 }, (_, i) => wait.wait(seg, i * 8, round - 1));
      for (let i = 299; i >= 0; i--) wait.storeAndWake(seg, i * 8, round);
      expect(new Set(await Promise.all(waits))).toEqual(new Set(['ok']));
      for (let i = 0; i < 300; i++) expect(cells[2 * i + 1]).toBe(0);
    }
  });

  it('async: an AbortSignal rejects the wait with an AbortError and withdraws it', async () => {
    const seg = segment();
    const ac = new AbortController();
    const pending = wait.wait(seg, 0, 0, { signal: ac.signal });
    ac.abort(new Error('no longer needed'));
    const err = await pending.catch((e) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect(err.name).toBe('AbortError');
    expect(err.cause).toEqual(new Error('no longer needed'));
    expect(word(seg, 0)[1]).toBe(0); // no longer announced
    await expect(wait.wait(seg, 0, 0, { signal: AbortSignal.abort() })).rejects.toThrow(AbortError);
  });

  it('async: closing the segment rejects its pending waits', async () => {
    const seg = native.Segment.create(`/mp-test-wait-${process.pid}-close`, 64, true);
    const pending = wait.wait(seg, 0, 0);
    seg.close();
    native.Segment.unlink(seg.name);
    await expect(pending).rejects.toMatchObject({ code: 'ERR_MP_CLOSED' });
  });

  it('validates arguments with typed errors, never a crash', () => {
    const seg = segment(64);
    expect(() => wait.waitSync(seg, 2, 0, 1)).toThrow(RangeError); // misaligned
    expect(() => wait.waitSync(seg, 60, 0, 1)).toThrow(RangeError); // cell past the end
    expect(() => wait.waitSync(seg, -4, 0, 1)).toThrow(RangeError);
    expect(() => wait.waitSync(seg, 0, 0, -1)).toThrow(RangeError);
    expect(() => wait.waitSync(seg, 0, 0, NaN)).toThrow(TypeError);
    expect(() => native.wake({} as never, 0)).toThrow(TypeError);
    expect(() => wait.setSpinPolicy({ maxSpinNs: -1 })).toThrow(RangeError);
  });
});
