// The addon's non-blocking wake: this process awaits native.wait() (settled
// by the addon's waiter thread through a thread-safe function, so the event
// loop never blocks) while a partner process answers. One round trip is
// storeAndWake + an awaited wait() here, and one answer there.
//
//   async.futex       the partner answers from waitSync, default spin policy:
//                     what the target is about
//   async.futex-hot   the partner spins with a fixed 50 us budget, so it is
//                     awake when pinged -- unless the addon's oversubscription
//                     check (runnable threads > CPUs, sampled every 50 ms)
//                     turns its spinning off, which on 2 CPUs it often does
//   async.futex-both  the partner awaits native.wait() too (both sides are
//                     event loops, like the worker echo)
//
// Peers measured in the same run: a worker_threads postMessage echo (the
// target's yardstick), Atomics.waitAsync against a worker answering from
// Atomics.wait (the pure-JS analogue), and child_process.fork IPC.

import { fork } from 'node:child_process';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  BENCH_DIR,
  createSegment,
  destroySegment,
  measureLoop,
  reapChild,
  spawnNode,
  timedSample,
  trackChild,
  trackWorker,
} from '../lib/index.mjs';

const STOP = 0xffffffff;
const ECHO_PROCESS = path.join(BENCH_DIR, 'echo-process.mjs');
const ECHO_WORKER = path.join(BENCH_DIR, 'echo-worker.mjs');

let waitId = 0; // native.wait() ids must be unique among pending waits

// Every native.wait() here carries a guard timeout: without one, a lost
// wake-up (a wait that never settles although the word changed) hangs the
// bench for good -- that happened once while writing it (see BENCH.md). A
// round trip that needed the guard, on either side, is counted and left out
// of the headline figure (measureLoop's excludedNs/excludedOps). The guard is
// long so that a merely slow round trip (a busy machine) is never mistaken
// for a lost wake-up.
export const GUARD_MS = 1000;

/**
 * partnerMode: 'futex-sync' (answers from waitSync) or 'futex-async'.
 * partnerSpin: [maxSpinNs, adaptive] for the partner, or undefined (default).
 * Before each sample, one sample of the worker postMessage echo is taken
 * (extra.paired): what a sleeping wake-up costs on a VM changes from minute
 * to minute (it is cheap while the other vCPU is busy anyway), so the target
 * ratio compares side-by-side samples.
 */
async function futexRoundTrip(ctx, partnerMode, partnerSpin) {
  const { native } = ctx;
  const seg = createSegment(native, 'async');
  let child;
  let echo;
  try {
    echo = await startWorkerEcho();
    const peerSamples = [];
    const beforeSample = async () => peerSamples.push(await timedSample(echo.body, ctx.sampleMs));
    const [spinNs, adaptive] = partnerSpin ?? ['', ''];
    const args = [partnerMode, seg.name, String(process.pid), String(spinNs), adaptive ? '1' : '0', String(GUARD_MS)];
    child = await spawnNode(ECHO_PROCESS, args);
    const word = new Uint32Array(seg.buffer.buffer, seg.buffer.byteOffset, 2);
    let seq = 0xffffffff;
    let lostWakeups = 0;
    const body = async (n) => {
      let excludedNs = 0;
      let excludedOps = 0;
      for (let i = 0; i < n; i++) {
        const t = process.hrtime.bigint();
        seq = (seq + 2) >>> 0;
        native.storeAndWake(seg, 0, seq, 1);
        let lost = false;
        for (;;) {
          const r = await native.wait(seg, 0, seq, GUARD_MS, ++waitId);
          if (Atomics.load(word, 0) !== seq) {
            lost = r === 'timed-out'; // the answer was there, the wake-up was not
            break;
          }
        }
        const took = Number(process.hrtime.bigint() - t);
        if (lost) lostWakeups++;
        // >= the guard: this side's wake-up was lost, or the partner's was.
        if (lost || took >= GUARD_MS * 1e6) {
          excludedOps++;
          excludedNs += took;
        }
      }
      return { excludedNs, excludedOps };
    };
    const r = await measureLoop(body, { ...ctx, beforeSample });
    native.storeAndWake(seg, 0, STOP, 1);
    const exit = await reapChild(child);
    if (exit.code !== 0) throw new Error(`echo child exited with ${exit.code ?? exit.signal}`);
    let partner = null;
    try {
      partner = JSON.parse(child.laterOutput.trim().split('\n').pop());
    } catch {
      // not essential
    }
    return {
      samples: r.samples,
      extra: {
        roundTripsPerSample: r.opsPerSample,
        // lost wake-ups on this side and the partner's (warm-up included);
        // round trips they stretched are not in `samples`, but in rawSamples.
        lostWakeups: lostWakeups + (partner?.lostWakeups ?? 0),
        lostWakeupsHere: lostWakeups,
        lostWakeupsInPartner: partner?.lostWakeups ?? 0,
        excludedFromSamples: r.excludedOps,
        rawSamples: r.rawSamples,
        guardMs: GUARD_MS,
        partnerSpinPolicy: partner?.spinPolicy ?? null,
        paired: { name: 'async.worker-postMessage', samples: peerSamples },
      },
    };
  } finally {
    if (echo) await echo.close();
    if (child) await reapChild(child, 0);
    destroySegment(native, seg);
  }
}

/** A worker echoing postMessage; body(n) does n round trips. */
async function startWorkerEcho() {
  const worker = trackWorker(new Worker(ECHO_WORKER, { workerData: { mode: 'message' } }));
  await new Promise((resolve, reject) => worker.once('online', resolve).once('error', reject));
  let resolveReply;
  worker.on('message', () => resolveReply());
  const body = async (n) => {
    for (let i = 0; i < n; i++) {
      const reply = new Promise((r) => (resolveReply = r));
      worker.postMessage(i);
      await reply;
    }
  };
  return { body, close: () => worker.terminate() };
}

async function workerMessageRoundTrip(ctx) {
  const echo = await startWorkerEcho();
  try {
    const r = await measureLoop(echo.body, ctx);
    return { samples: r.samples, extra: { roundTripsPerSample: r.opsPerSample } };
  } finally {
    await echo.close();
  }
}

async function atomicsWaitAsyncRoundTrip(ctx) {
  const sab = new SharedArrayBuffer(64);
  const word = new Int32Array(sab);
  const worker = trackWorker(new Worker(ECHO_WORKER, { workerData: { mode: 'atomics', sab } }));
  try {
    await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
    let seq = -1;
    const body = async (n) => {
      for (let i = 0; i < n; i++) {
        seq += 2;
        Atomics.store(word, 0, seq);
        Atomics.notify(word, 0, 1);
        for (;;) {
          const w = Atomics.waitAsync(word, 0, seq);
          if (w.async) await w.value;
          if (Atomics.load(word, 0) !== seq) break;
        }
      }
    };
    const r = await measureLoop(body, ctx);
    Atomics.store(word, 0, -1);
    Atomics.notify(word, 0, 1);
    return { samples: r.samples, extra: { roundTripsPerSample: r.opsPerSample } };
  } finally {
    await worker.terminate();
  }
}

async function forkIpcRoundTrip(ctx) {
  const child = trackChild(fork(ECHO_PROCESS, ['ipc'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }));
  try {
    await new Promise((resolve, reject) => child.once('message', resolve).once('error', reject));
    let resolveReply;
    child.on('message', () => resolveReply());
    const body = async (n) => {
      for (let i = 0; i < n; i++) {
        const reply = new Promise((r) => (resolveReply = r));
        child.send(i);
        await reply;
      }
    };
    const r = await measureLoop(body, ctx);
    return { samples: r.samples, extra: { roundTripsPerSample: r.opsPerSample } };
  } finally {
    child.disconnect();
    await reapChild(child);
  }
}

const group = 'async round trip';
const unit = 'ns/round trip';

export const benchmarks = [
  {
    name: 'async.futex',
    group,
    unit,
    description: 'await native.wait() in this process; a child node answers from waitSync (default spin policy)',
    run: (ctx) => futexRoundTrip(ctx, 'futex-sync'),
  },
  {
    name: 'async.futex-hot',
    group,
    unit,
    description: 'as async.futex, the partner with a fixed 50 us spin budget (awake when pinged, if allowed to spin)',
    run: (ctx) => futexRoundTrip(ctx, 'futex-sync', [50000, false]),
  },
  {
    name: 'async.futex-both',
    group,
    unit,
    description: 'both processes await native.wait(): two async wakes per round trip',
    run: (ctx) => futexRoundTrip(ctx, 'futex-async'),
  },
  {
    name: 'async.worker-postMessage',
    yardstick: true,
    group,
    unit,
    description: 'worker_threads: postMessage to a worker that echoes it back',
    run: workerMessageRoundTrip,
  },
  {
    name: 'async.worker-waitAsync',
    group,
    unit,
    description: 'Atomics.waitAsync in this thread; a worker answers from Atomics.wait (SharedArrayBuffer)',
    run: atomicsWaitAsyncRoundTrip,
  },
  {
    name: 'async.fork-ipc',
    group,
    unit,
    description: 'child_process.fork: send() to a child that echoes it back',
    run: forkIpcRoundTrip,
  },
];

export const comparisons = [
  // paired: medians of side-by-side sample ratios (see futexRoundTrip)
  { name: 'async wake vs worker postMessage', of: 'async.futex', against: 'async.worker-postMessage', target: 0.5, paired: true },
  { name: 'async wake (partner awake) vs worker postMessage', of: 'async.futex-hot', against: 'async.worker-postMessage', paired: true },
  { name: 'async (both sides) vs worker postMessage', of: 'async.futex-both', against: 'async.worker-postMessage', paired: true },
  { name: 'async wake vs Atomics.waitAsync', of: 'async.futex', against: 'async.worker-waitAsync' },
  { name: 'async wake vs fork IPC', of: 'async.futex', against: 'async.fork-ipc' },
];
