// The hand-off from a handle's reviver to the constructor it calls
// (ts/base/handoff.ts): one construction takes it, and a failed one leaves
// nothing behind for the next user's `new`.
import { describe, expect, it } from 'vitest';
import { Handoff } from '../dist/base/handoff.js';

describe('Handoff', () => {
  it('gives its value to the one take() of the construction, and to nothing after it', () => {
    const h = new Handoff<string>();
    expect(h.take()).toBe(undefined);
    expect(h.give('state', () => [h.pending, h.take(), h.take()])).toEqual([true, 'state', undefined]);
    expect(h.pending).toBe(false);
  });

  it('takes the value back when the construction throws before taking it', () => {
    const h = new Handoff<string>();
    expect(() =>
      h.give('state', () => {
        throw new TypeError('bad handle');
      }),
    ).toThrow('bad handle');
    expect(h.pending).toBe(false);
    expect(h.take()).toBe(undefined);
  });
});
