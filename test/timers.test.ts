// ts/base/timers.ts: JS timers for user-given timeouts of any length.
import { describe, expect, it } from 'vitest';
import { LongTimeout, MAX_TIMER_MS, delay } from '../dist/base/timers.js';

const timeouts = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('LongTimeout', () => {
  it('takes delays past 2^31 - 1 ms without a TimeoutOverflowWarning, and Infinity without a timer', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w.name);
    };
    process.on('warning', onWarning);
    try {
      const before = timeouts();
      const never = new LongTimeout(() => {
        throw new Error('an Infinity timeout fired');
      }, Infinity);
      expect(timeouts()).toBe(before); // nothing armed, nothing keeps the loop alive
      let fired = false;
      const long = [2 ** 31, 2 ** 53, Number.MAX_VALUE].map((ms) => new LongTimeout(() => (fired = true), ms));
      expect(timeouts()).toBe(before + 3);
      // Had any fired after 1 ms (setTimeout's overflow), it would have by now.
      await delay(50).promise;
      expect(fired).toBe(false);
      const armed = timeouts();
      for (const timer of long) timer.clear();
      never.clear();
      expect(timeouts()).toBe(armed - 3);
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
      expect(warnings).not.toContain('TimeoutOverflowWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('fires short delays as setTimeout does, and unref/clear work', async () => {
    expect(MAX_TIMER_MS).toBe(2 ** 31 - 1);
    await new Promise<void>((resolve) => new LongTimeout(resolve, 0));
    const unrefd = new LongTimeout(() => {}, 2 ** 40).unref();
    expect(unrefd.ref()).toBe(unrefd);
    unrefd.clear();
    let fired = false;
    const cleared = new LongTimeout(() => (fired = true), 1);
    cleared.clear();
    await delay(20).promise;
    expect(fired).toBe(false);
  });

  it('rejects a negative or NaN delay', () => {
    expect(() => new LongTimeout(() => {}, -1)).toThrow(RangeError);
    expect(() => new LongTimeout(() => {}, NaN)).toThrow(RangeError);
  });
});
