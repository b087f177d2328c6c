// Locks and hand-offs (issue 4). Uncontended Lock/RLock acquireSync+release
// in one process against CPython's multiprocessing.Lock and a no-op addon
// call; a contended hand-off between two processes through Semaphores and
// through Events against the C spin-then-futex floor; and the async wake of
// an awaited acquire() against worker_threads.
import path from 'node:path';
import { BENCH_DIR, REPO_ROOT, measureLoop } from '../lib/index.mjs';
import { pythonSamples } from '../lib/python.mjs';

const lib = () => import(path.join(REPO_ROOT, 'dist', 'index.js')).then((m) => m.default ?? m);
const TARGETS = path.join(BENCH_DIR, 'bench-targets.mjs');

async function uncontended(ctx, kind) {
  const mp = await lib();
  const lock = kind === 'rlock' ? new mp.RLock() : new mp.Lock();
  const r = await measureLoop((n) => {
    for (let i = 0; i < n; i++) {
      lock.acquireSync();
      lock.release();
    }
  }, ctx);
  return { samples: r.samples, extra: { pairsPerSample: r.opsPerSample } };
}

const PY_LOCK = `
import multiprocessing, time, json, sys
samples, sample_ms = int(sys.argv[1]), float(sys.argv[2])
lock = multiprocessing.Lock()
acq, rel = lock.acquire, lock.release
def run(n):
    t = time.perf_counter_ns()
    for _ in range(n):
        acq(); rel()
    return time.perf_counter_ns() - t
per = run(200000) / 200000
n = max(1000, int(sample_ms * 1e6 / per))
print(json.dumps([run(n) / n for _ in range(samples)]))
`;

// Two processes hand a turn back and forth: we release `ping` and wait on
// `pong`; the partner (bench-targets.mjs) does the reverse.
async function handOff(ctx, kind, awaitAsync) {
  const mp = await lib();
  const ping = kind === 'event' ? new mp.Event() : new mp.Semaphore(0);
  const pong = kind === 'event' ? new mp.Event() : new mp.Semaphore(0);
  const stop = mp.RawArray('i', 1);
  const targets = await import(TARGETS);
  // A daemon: if the bench is killed, the partner must not linger, blocked forever.
  const p = new mp.Process({ target: kind === 'event' ? targets.eventEcho : targets.semEcho, args: [ping, pong, stop], module: TARGETS, daemon: true });
  p.start();
  try {
    const once = kind === 'event'
      ? (awaitAsync
        ? async () => { ping.set(); await pong.wait(); pong.clear(); }
        : () => { ping.set(); pong.waitSync(); pong.clear(); })
      : (awaitAsync
        ? async () => { ping.release(); await pong.acquire(); }
        : () => { ping.release(); pong.acquireSync(); });
    const body = awaitAsync
      ? async (n) => { for (let i = 0; i < n; i++) await once(); }
      : (n) => { for (let i = 0; i < n; i++) once(); };
    const r = await measureLoop(body, ctx);
    return { samples: r.samples, extra: { roundTripsPerSample: r.opsPerSample } };
  } finally {
    stop.view[0] = 1;
    if (kind === 'event') ping.set();
    else ping.release();
    await p.join(5000);
    if (p.exitCode === null) p.kill();
    await p.join();
  }
}

export const benchmarks = [
  {
    name: 'lock.uncontended',
    group: 'lock acquire+release',
    unit: 'ns/pair',
    description: 'Lock acquireSync() + release() in one process, nobody else contending',
    run: (ctx) => uncontended(ctx, 'lock'),
  },
  {
    name: 'rlock.uncontended',
    group: 'lock acquire+release',
    unit: 'ns/pair',
    description: 'RLock acquireSync() + release()',
    run: (ctx) => uncontended(ctx, 'rlock'),
  },
  {
    name: 'python.lock',
    group: 'lock acquire+release',
    unit: 'ns/pair',
    description: 'CPython multiprocessing.Lock acquire() + release() (skipped without python3)',
    run: (ctx) => pythonSamples(PY_LOCK, [ctx.samples, ctx.sampleMs]),
  },
  {
    name: 'handoff.semaphore',
    group: 'contended hand-off',
    unit: 'ns/round trip',
    description: 'two processes ping-pong through two Semaphores (release / acquireSync)',
    run: (ctx) => handOff(ctx, 'semaphore', false),
  },
  {
    name: 'handoff.event',
    group: 'contended hand-off',
    unit: 'ns/round trip',
    description: 'two processes ping-pong through two Events (set / waitSync / clear)',
    run: (ctx) => handOff(ctx, 'event', false),
  },
  {
    name: 'handoff.semaphore-async',
    group: 'contended hand-off',
    unit: 'ns/round trip',
    description: 'as handoff.semaphore, but this side awaits acquire() (the async wake of an acquire)',
    run: (ctx) => handOff(ctx, 'semaphore', true),
  },
];

export const comparisons = [
  { name: 'Lock vs CPython multiprocessing.Lock', of: 'lock.uncontended', against: 'python.lock', target: 1 },
  { name: 'Lock vs a no-op addon call', of: 'lock.uncontended', against: 'napi.noop' },
  { name: 'Semaphore hand-off vs C spin-then-futex', of: 'handoff.semaphore', against: 'c.spin', target: 1.5 },
  { name: 'Event hand-off vs C spin-then-futex', of: 'handoff.event', against: 'c.spin', target: 1.5 },
  { name: 'async acquire wake vs worker postMessage', of: 'handoff.semaphore-async', against: 'async.worker-postMessage', target: 0.5 },
];
