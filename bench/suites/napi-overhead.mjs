// What one addon call costs. The issue asks to keep per-operation addon calls
// to one, so these figures are the unit of every other native figure: the
// sync ping-pong makes four calls per round trip (two per side).
//
// Every body is a plain counted loop; V8 optimizes it during the warm-up.
// js.empty-call is the reference the issue asks for, but note that V8 inlines
// an empty function, so it measures the loop rather than a call.

import { createSegment, destroySegment, measureLoop } from '../lib/index.mjs';

function empty() {}

/** makeBody(native, seg) returns the measured loop body (n) => void. */
async function callLoop(ctx, makeBody) {
  const { native } = ctx;
  const seg = createSegment(native, 'napi');
  try {
    const r = await measureLoop(makeBody(native, seg), ctx);
    return { samples: r.samples, extra: { callsPerSample: r.opsPerSample } };
  } finally {
    destroySegment(native, seg);
  }
}

const group = 'call overhead';
const unit = 'ns/call';

export const benchmarks = [
  {
    name: 'napi.noop',
    yardstick: true,
    group,
    unit,
    description: 'native.noop(): a Node-API call that does nothing',
    run: (ctx) =>
      callLoop(ctx, (native) => (n) => {
        for (let i = 0; i < n; i++) native.noop();
      }),
  },
  {
    name: 'js.empty-call',
    group,
    unit,
    description: 'an empty JS function (V8 inlines it: this is loop overhead)',
    run: (ctx) =>
      callLoop(ctx, () => (n) => {
        for (let i = 0; i < n; i++) empty(i);
      }),
  },
  {
    name: 'napi.storeAndWake',
    group,
    unit,
    description: 'native.storeAndWake() with nobody asleep: argument checks + store, no syscall',
    run: (ctx) =>
      callLoop(ctx, (native, seg) => (n) => {
        for (let i = 0; i < n; i++) native.storeAndWake(seg, 0, i & 1, 1);
      }),
  },
  {
    name: 'napi.waitSync-not-equal',
    group,
    unit,
    description: 'native.waitSync() on a value that already differs: returns at once',
    run: (ctx) =>
      callLoop(ctx, (native, seg) => (n) => {
        for (let i = 0; i < n; i++) native.waitSync(seg, 0, 1);
      }),
  },
  {
    name: 'js.Atomics.store',
    group,
    unit,
    description: 'Atomics.store on the segment from JS: what a publish costs without the addon',
    run: (ctx) =>
      callLoop(ctx, (native, seg) => {
        const word = new Int32Array(seg.buffer.buffer, seg.buffer.byteOffset, 2);
        return (n) => {
          for (let i = 0; i < n; i++) Atomics.store(word, 0, i & 1);
        };
      }),
  },
];

export const comparisons = [
  { name: 'storeAndWake vs noop call', of: 'napi.storeAndWake', against: 'napi.noop' },
  { name: 'waitSync (no wait) vs noop call', of: 'napi.waitSync-not-equal', against: 'napi.noop' },
];
