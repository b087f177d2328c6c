// Pool (issue 11): per-task overhead, apply round trips, CPU-bound scaling,
// recycling and a deep backlog, against CPython's multiprocessing.Pool and
// concurrent.futures, piscina, tinypool (child_process), workerpool
// (process) and a hand-rolled child_process.fork dispatcher. Every peer
// runs 2 workers and the same task functions (bench/pool-tasks.cjs).
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { BENCH_DIR, REPO_ROOT, measureLoop } from '../lib/index.mjs';
import { pythonSamples } from '../lib/python.mjs';

const require = createRequire(import.meta.url);
const TASKS = path.join(BENCH_DIR, 'pool-tasks.cjs');
const WORKERS = 2;
const lib = () => import(path.join(REPO_ROOT, 'dist', 'index.js')).then((m) => m.default ?? m);
const tasks = () => require(TASKS);
const range = (n) => Array.from({ length: n }, (_, i) => i);

// Per-task time of a map over n no-op inputs, ctx.samples times.
async function perTask(ctx, map, n) {
  await map(range(Math.min(n, 2000)));
  const samples = [];
  for (let k = 0; k < ctx.samples; k++) {
    const t = performance.now();
    const r = await map(range(n));
    const ms = performance.now() - t;
    if (r.length !== n) throw new Error(`${r.length} results for ${n} tasks`);
    samples.push((ms * 1e6) / n);
  }
  return { samples, extra: { tasks: n } };
}

async function withPool(options, body) {
  const mp = await lib();
  const pool = new mp.Pool(WORKERS, { module: TASKS, ...options });
  try {
    return await body(pool);
  } finally {
    pool.terminate();
    await pool.join();
  }
}

const ours = {
  chunk1: (ctx) => withPool({}, (pool) => perTask(ctx, (xs) => pool.map(tasks().noop, xs, 1), 50_000)),
  chunkDefault: (ctx) => withPool({}, (pool) => perTask(ctx, (xs) => pool.map(tasks().noop, xs), 200_000)),
  apply: (ctx) =>
    withPool({}, async (pool) => {
      const { noop } = tasks();
      const r = await measureLoop(async (n) => {
        for (let i = 0; i < n; i++) await pool.apply(noop, [i]);
      }, ctx);
      return { samples: r.samples };
    }),
  applySync: (ctx) =>
    withPool({}, async (pool) => {
      const { noop } = tasks();
      const r = await measureLoop((n) => {
        for (let i = 0; i < n; i++) pool.applySync(noop, [i]);
      }, ctx);
      return { samples: r.samples };
    }),
  cpu: (workers) => async (ctx) => {
    const mp = await lib();
    const pool = new mp.Pool(workers, { module: TASKS });
    try {
      return await perTask({ ...ctx, samples: Math.min(ctx.samples, 3) }, (xs) => pool.map(tasks().hashLoop, xs, 1), 400);
    } finally {
      pool.terminate();
      await pool.join();
    }
  },
  recycled: (maxTasksPerChild) => (ctx) =>
    withPool(maxTasksPerChild ? { maxTasksPerChild } : {}, (pool) =>
      perTask({ ...ctx, samples: Math.min(ctx.samples, 3) }, (xs) => pool.map(tasks().hashLoop, xs, 1), 400),
    ),
  backlog: (n) => (ctx) =>
    withPool({}, async (pool) => {
      const { noop } = tasks();
      return perTask(ctx, (xs) => Promise.all(xs.map((x) => pool.apply(noop, [x]))), n);
    }),
};

async function piscina(ctx, kind) {
  const { Piscina } = require('piscina');
  const pool = new Piscina({ filename: TASKS, minThreads: WORKERS, maxThreads: WORKERS, name: kind === 'cpu' ? 'hashLoop' : 'noop' });
  try {
    if (kind === 'apply') {
      const r = await measureLoop(async (n) => {
        for (let i = 0; i < n; i++) await pool.run(i);
      }, ctx);
      return { samples: r.samples };
    }
    const n = kind === 'cpu' ? 400 : 20_000;
    return await perTask(
      kind === 'cpu' ? { ...ctx, samples: Math.min(ctx.samples, 3) } : ctx,
      (xs) => Promise.all(xs.map((x) => pool.run(x))),
      n,
    );
  } finally {
    await pool.destroy();
  }
}

async function tinypool(ctx, kind) {
  const { Tinypool } = require('tinypool');
  const pool = new Tinypool({ filename: TASKS, runtime: 'child_process', minThreads: WORKERS, maxThreads: WORKERS });
  try {
    if (kind === 'apply') {
      const r = await measureLoop(async (n) => {
        for (let i = 0; i < n; i++) await pool.run(i, { name: 'noop' });
      }, ctx);
      return { samples: r.samples };
    }
    return await perTask(ctx, (xs) => Promise.all(xs.map((x) => pool.run(x, { name: 'noop' }))), 5_000);
  } finally {
    await pool.destroy();
  }
}

async function workerpool(ctx, kind) {
  const wp = require('workerpool');
  const pool = wp.pool(path.join(BENCH_DIR, 'pool-worker-wp.cjs'), { workerType: 'process', minWorkers: WORKERS, maxWorkers: WORKERS });
  try {
    if (kind === 'apply') {
      const r = await measureLoop(async (n) => {
        for (let i = 0; i < n; i++) await pool.exec('noop', [i]);
      }, ctx);
      return { samples: r.samples };
    }
    return await perTask(ctx, (xs) => Promise.all(xs.map((x) => pool.exec('noop', [x]))), 5_000);
  } finally {
    await pool.terminate(true);
  }
}

// child_process.fork with a dispatcher of our own: tasks round-robin over two children, answers by id.
async function forkDispatcher(ctx) {
  const children = range(WORKERS).map(() => fork(path.join(BENCH_DIR, 'pool-fork-worker.cjs'), { serialization: 'advanced' }));
  const pending = new Map();
  for (const c of children) c.on('message', ([id, x]) => (pending.get(id)(x), pending.delete(id)));
  let next = 0;
  const run = (x) =>
    new Promise((resolve) => {
      const id = next++;
      pending.set(id, resolve);
      children[id % WORKERS].send([id, x]);
    });
  try {
    return await perTask(ctx, (xs) => Promise.all(xs.map(run)), 20_000);
  } finally {
    for (const c of children) c.kill();
  }
}

const PY_POOL = `
import multiprocessing as mp, concurrent.futures as cf, time, json, sys, hashlib
def noop(x): return x
def hash_loop(seed, rounds):
    h = str(seed)
    for _ in range(rounds): h = hashlib.sha256(h.encode()).hexdigest()
    return len(h)
if __name__ == '__main__':
    kind, samples = sys.argv[1], int(sys.argv[2])
    mp.set_start_method('fork')
    out = []
    if kind == 'futures':
        with cf.ProcessPoolExecutor(2) as ex:
            list(ex.map(noop, range(2000)))
            for _ in range(samples):
                n = 20000; t = time.perf_counter_ns(); list(ex.map(noop, range(n))); out.append((time.perf_counter_ns() - t) / n)
    else:
        with mp.Pool(2) as pool:
            pool.map(noop, range(2000), 1)
            for _ in range(samples):
                if kind == 'chunk1':
                    n = 50000; t = time.perf_counter_ns(); pool.map(noop, range(n), 1)
                elif kind == 'default':
                    n = 200000; t = time.perf_counter_ns(); pool.map(noop, range(n))
                else:
                    n = 300; t = time.perf_counter_ns()
                    for i in range(n): pool.apply(noop, (i,))
                out.append((time.perf_counter_ns() - t) / n)
    print(json.dumps(out))
`;

const python = (kind) => (ctx) => pythonSamples(PY_POOL, [kind, ctx.samples]);

const PT = 'pool per task';
const RT = 'pool round trip';
const CPU = 'pool CPU-bound';
export const benchmarks = [
  { name: 'pool.map-chunk1', group: PT, unit: 'ns/task', description: '2 workers, map of 50k no-op tasks, chunksize 1', run: ours.chunk1 },
  {
    name: 'pool.map-default',
    group: PT,
    unit: 'ns/task',
    description: '2 workers, map of 200k no-op tasks, default chunksize',
    run: ours.chunkDefault,
  },
  {
    name: 'python.pool-chunk1',
    group: PT,
    unit: 'ns/task',
    description: 'CPython mp.Pool(2) (fork), map chunksize 1',
    run: python('chunk1'),
  },
  {
    name: 'python.pool-default',
    group: PT,
    unit: 'ns/task',
    description: 'CPython mp.Pool(2) (fork), map default chunksize',
    run: python('default'),
  },
  { name: 'python.futures-map', group: PT, unit: 'ns/task', description: 'CPython ProcessPoolExecutor(2).map', run: python('futures') },
  {
    name: 'piscina.per-task',
    group: PT,
    unit: 'ns/task',
    description: 'piscina, 2 threads, 20k run() at once',
    run: (ctx) => piscina(ctx, 'map'),
  },
  {
    name: 'tinypool.process-per-task',
    group: PT,
    unit: 'ns/task',
    description: "tinypool runtime 'child_process', 2 workers, 5k run() at once",
    run: (ctx) => tinypool(ctx, 'map'),
  },
  {
    name: 'workerpool.process-per-task',
    group: PT,
    unit: 'ns/task',
    description: "workerpool workerType 'process', 2 workers, 5k exec() at once",
    run: (ctx) => workerpool(ctx, 'map'),
  },
  {
    name: 'fork.dispatcher-per-task',
    group: PT,
    unit: 'ns/task',
    description: 'child_process.fork x2, a hand-rolled round-robin dispatcher, 20k at once',
    run: forkDispatcher,
  },
  { name: 'pool.apply', group: RT, unit: 'ns/round trip', description: 'await pool.apply(noop) one at a time', run: ours.apply },
  { name: 'pool.apply-sync', group: RT, unit: 'ns/round trip', description: 'pool.applySync(noop) one at a time', run: ours.applySync },
  {
    name: 'python.pool-apply',
    group: RT,
    unit: 'ns/round trip',
    description: 'CPython mp.Pool(2).apply one at a time',
    run: python('apply'),
  },
  {
    name: 'piscina.run',
    group: RT,
    unit: 'ns/round trip',
    description: 'await piscina.run() one at a time',
    run: (ctx) => piscina(ctx, 'apply'),
  },
  {
    name: 'tinypool.process-run',
    group: RT,
    unit: 'ns/round trip',
    description: "await tinypool.run() one at a time ('child_process')",
    run: (ctx) => tinypool(ctx, 'apply'),
  },
  {
    name: 'workerpool.process-exec',
    group: RT,
    unit: 'ns/round trip',
    description: "await workerpool.exec() one at a time ('process')",
    run: (ctx) => workerpool(ctx, 'apply'),
  },
  { name: 'pool.cpu-1', group: CPU, unit: 'ns/task', description: '1 worker, 400 x ~1 ms of sha256', run: ours.cpu(1) },
  { name: 'pool.cpu-2', group: CPU, unit: 'ns/task', description: '2 workers, 400 x ~1 ms of sha256', run: ours.cpu(2) },
  {
    name: 'piscina.cpu-2',
    group: CPU,
    unit: 'ns/task',
    description: 'piscina 2 threads, the same 400 tasks',
    run: (ctx) => piscina(ctx, 'cpu'),
  },
  {
    name: 'pool.recycle-none',
    group: CPU,
    unit: 'ns/task',
    description: '2 workers, 400 x 1 ms, chunksize 1, no recycling',
    run: ours.recycled(0),
  },
  { name: 'pool.recycle-25', group: CPU, unit: 'ns/task', description: 'the same with maxTasksPerChild 25', run: ours.recycled(25) },
  { name: 'pool.backlog-10k', group: PT, unit: 'ns/task', description: '10k apply() submitted at once', run: ours.backlog(10_000) },
  { name: 'pool.backlog-100k', group: PT, unit: 'ns/task', description: '100k apply() submitted at once', run: ours.backlog(100_000) },
];

export const comparisons = [
  { name: 'Pool per task (chunksize 1) vs CPython Pool', of: 'pool.map-chunk1', against: 'python.pool-chunk1', target: 0.05 },
  { name: 'Pool per task (chunksize 1) vs piscina', of: 'pool.map-chunk1', against: 'piscina.per-task', target: 0.05 },
  { name: 'Pool per task (default chunks) vs CPython Pool', of: 'pool.map-default', against: 'python.pool-default', target: 1 },
  { name: 'Pool per task (chunksize 1) vs ProcessPoolExecutor', of: 'pool.map-chunk1', against: 'python.futures-map' },
  { name: 'Pool per task vs tinypool (process)', of: 'pool.map-chunk1', against: 'tinypool.process-per-task' },
  { name: 'Pool per task vs workerpool (process)', of: 'pool.map-chunk1', against: 'workerpool.process-per-task' },
  { name: 'Pool per task vs fork + dispatcher', of: 'pool.map-chunk1', against: 'fork.dispatcher-per-task' },
  { name: 'apply round trip vs piscina', of: 'pool.apply', against: 'piscina.run', target: 0.05 },
  { name: 'apply round trip vs CPython Pool.apply', of: 'pool.apply', against: 'python.pool-apply' },
  { name: 'applySync round trip vs piscina', of: 'pool.apply-sync', against: 'piscina.run' },
  { name: 'apply vs tinypool (process)', of: 'pool.apply', against: 'tinypool.process-run' },
  { name: 'apply vs workerpool (process)', of: 'pool.apply', against: 'workerpool.process-exec' },
  {
    name: 'CPU-bound: 2 workers vs 1 (time per task; speedup = 1/ratio, target >= 1.9x)',
    of: 'pool.cpu-2',
    against: 'pool.cpu-1',
    target: 1 / 1.9,
  },
  { name: 'CPU-bound: 2 workers vs piscina 2 threads', of: 'pool.cpu-2', against: 'piscina.cpu-2', target: 1 },
  {
    name: 'Recycling every 25 tasks vs none (time per task; target: throughput >= 0.5x)',
    of: 'pool.recycle-25',
    against: 'pool.recycle-none',
    target: 2,
  },
  { name: 'Backlog: 100k queued vs 10k (per task)', of: 'pool.backlog-100k', against: 'pool.backlog-10k', target: 1.2 },
];
