// The addon's blocking hand-off: this process and a child `node`
// (echo-process.mjs futex-sync) ping-pong one wait cell of a shared segment
// with native.storeAndWake() + native.waitSync(). One round trip is two
// hand-offs, i.e. two addon calls on each side.
//
// Variants, each in both processes:
//   sync.spin        the default policy (spin up to 50 us, adaptive): what a
//                    user gets. Compared with the C spin-then-futex floor.
//   sync.spin-fixed  the same 50 us budget, not adaptive: separates what the
//                    adaptation costs from what the calls cost.
//   sync.sleep       no spinning at all (MULTIPROC_SPIN_NS=0 in the child,
//                    setSpinPolicy(0) here), the two processes pinned to two
//                    CPUs like c.sleep. Compared with the C futex-sleep.

import path from 'node:path';
import { floorSample } from './c-floor.mjs';
import { BENCH_DIR, createSegment, destroySegment, measureLoop, pinThread, reapChild, spawnNode } from '../lib/index.mjs';

const STOP = 0xffffffff;
const ECHO = path.join(BENCH_DIR, 'echo-process.mjs');

/**
 * policy: undefined = leave the default; else { maxSpinNs, adaptive }.
 * pin: this thread on CPU 0, the partner on CPU 1 (as c.sleep; see "pin" in
 * native/pingpong.c), if taskset is there.
 * floor: 'spin' | 'sleep': before every sample, one sample of the C program
 * in that mode (extra.paired), so the target ratio compares side-by-side
 * samples (see floorSample in c-floor.mjs).
 */
async function pingPong(ctx, policy, { pin = false, floor } = {}) {
  const { native } = ctx;
  const saved = native.getSpinPolicy();
  const seg = createSegment(native, 'sync');
  let child;
  const unpinTo = pin ? pinThread(process.pid, '0') : null;
  try {
    const args = ['futex-sync', seg.name, String(process.pid)];
    // The child gets the policy both ways: MULTIPROC_SPIN_NS is what a user
    // would set; the explicit arguments also fix `adaptive`.
    const env = {};
    if (policy) {
      native.setSpinPolicy(policy.maxSpinNs, policy.adaptive);
      env.MULTIPROC_SPIN_NS = String(policy.maxSpinNs);
      args.push(String(policy.maxSpinNs), policy.adaptive ? '1' : '0');
    }
    child = await spawnNode(ECHO, args, { env, cpu: unpinTo ? '1' : undefined });
    const word = new Uint32Array(seg.buffer.buffer, seg.buffer.byteOffset, 2);
    let seq = 0xffffffff; // + 2 wraps to 1: this side's values are odd
    const body = (n) => {
      for (let i = 0; i < n; i++) {
        seq = (seq + 2) >>> 0;
        native.storeAndWake(seg, 0, seq, 1);
        // 'ok' may be spurious: the loop re-checks the word itself.
        do native.waitSync(seg, 0, seq);
        while (Atomics.load(word, 0) === seq);
      }
    };
    const floorSamples = [];
    let floorSkipped = null;
    const beforeSample = floor
      ? () => {
          const f = floorSample(floor, ctx.sampleMs, { pin });
          if (typeof f === 'number') floorSamples.push(f);
          else floorSkipped = f.skipped;
        }
      : undefined;
    const r = await measureLoop(body, { ...ctx, beforeSample });
    const parentPolicy = native.getSpinPolicy();
    native.storeAndWake(seg, 0, STOP, 1);
    const exit = await reapChild(child);
    if (exit.code !== 0) throw new Error(`echo child exited with ${exit.code ?? exit.signal}`);
    let childPolicy = null;
    try {
      childPolicy = JSON.parse(child.laterOutput.trim().split('\n').pop()).spinPolicy;
    } catch {
      // not essential
    }
    return {
      samples: r.samples,
      // currentBudgetNs after the run shows where the adaptive budget settled.
      extra: {
        roundTripsPerSample: r.opsPerSample,
        parentSpinPolicy: parentPolicy,
        childSpinPolicy: childPolicy,
        pinned: unpinTo ? 'this thread CPU 0, child CPU 1' : false,
        // the C floor measured between this benchmark's samples (sample k
        // right before sample k); run.mjs takes "paired" ratios from it
        paired: floor ? { name: `c.${floor}`, samples: floorSamples, skipped: floorSkipped } : undefined,
      },
    };
  } finally {
    if (unpinTo) pinThread(process.pid, unpinTo);
    if (child) await reapChild(child, 0);
    native.setSpinPolicy(saved.maxSpinNs, saved.adaptive);
    destroySegment(native, seg);
  }
}

export const benchmarks = [
  {
    name: 'sync.spin',
    group: 'sync futex ping-pong',
    unit: 'ns/round trip',
    description: 'two node processes, storeAndWake + waitSync, default spin policy (adaptive, max 50 us)',
    run: (ctx) => pingPong(ctx, undefined, { floor: 'spin' }),
  },
  {
    name: 'sync.spin-fixed',
    group: 'sync futex ping-pong',
    unit: 'ns/round trip',
    description: 'as sync.spin with setSpinPolicy(50000, false) in both processes (no adaptation)',
    run: (ctx) => pingPong(ctx, { maxSpinNs: 50000, adaptive: false }, { floor: 'spin' }),
  },
  {
    name: 'sync.sleep',
    group: 'sleeping futex ping-pong',
    unit: 'ns/round trip',
    description: 'two node processes pinned to CPUs 0 and 1, storeAndWake + waitSync, no spinning (MULTIPROC_SPIN_NS=0)',
    run: (ctx) => pingPong(ctx, { maxSpinNs: 0, adaptive: false }, { pin: true, floor: 'sleep' }),
  },
];

// paired: the ratio is the median of sample_k / floor_k over the C samples
// taken between this benchmark's own (extra.paired), not a ratio of medians
// of two benchmarks run seconds apart.
export const comparisons = [
  { name: 'sync spin vs C spin-then-futex', of: 'sync.spin', against: 'c.spin', target: 1.5, paired: true },
  { name: 'sync spin (fixed budget) vs C spin-then-futex', of: 'sync.spin-fixed', against: 'c.spin', paired: true },
  { name: 'sync sleep vs C futex-sleep', of: 'sync.sleep', against: 'c.sleep', target: 1.5, paired: true },
];
