// Scale-out (issue 13): the Pool on the bullmq backend against the local
// Pool, in the same run. Per-task overhead of a map of no-op tasks with 1
// and 2 worker hosts (`multiproc worker --processes 2`, separate programs on
// this machine) at chunksize 1, 10 and 100, beside the local Pool(2) at the
// same chunksizes; and the word count's wall time (examples/
// wordcount_distributed.mjs) local vs on two hosts. A real redis-server on a
// free loopback port, started for each benchmark; skipped where redis-server
// or bullmq is missing.
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { BENCH_DIR, REPO_ROOT, freePort } from '../lib/index.mjs';

const TASKS = path.join(BENCH_DIR, 'pool-tasks.cjs');
const WORDCOUNT = path.join(REPO_ROOT, 'examples/wordcount_distributed.mjs');
const CLI = path.join(REPO_ROOT, 'dist/cli/main.js');
const lib = () => import(path.join(REPO_ROOT, 'dist', 'index.js')).then((m) => m.default ?? m);
const range = (n) => Array.from({ length: n }, (_, i) => i);
// Tasks per sample: about half a second of work at each chunksize.
const TASKS_PER_SAMPLE = { 1: 400, 10: 4000, 100: 40_000 };

async function missing() {
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) return 'redis-server is not installed (apt-get install redis-server)';
  try {
    await import('bullmq');
  } catch {
    return 'bullmq is not installed (a devDependency)';
  }
  return undefined;
}

// A redis-server and `hosts` worker hosts on a queue of their own, for one benchmark.
async function withCluster(hosts, module, body) {
  const port = await freePort();
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const children = [];
  try {
    for (;;) {
      const up = await new Promise((resolve) => {
        const c = net.connect(port, '127.0.0.1');
        c.once('connect', () => resolve(true, c.destroy()));
        c.once('error', () => resolve(false));
      });
      if (up) break;
      if (redis.exitCode !== null) throw new Error('redis-server exited');
      await new Promise((r) => setTimeout(r, 20));
    }
    const url = `redis://127.0.0.1:${port}`;
    const queue = `bench-${process.pid}`;
    await Promise.all(
      range(hosts).map(
        () =>
          new Promise((resolve, reject) => {
            const child = spawn(process.execPath, [CLI, 'worker', '--redis', url, '--queue', queue, '--module', module, '--processes', '2'], {
              stdio: ['ignore', 'ignore', 'pipe'],
            });
            children.push(child);
            let log = '';
            child.stderr.on('data', (d) => {
              log += d;
              if (/worker: \d+ process/.test(log)) resolve();
            });
            child.once('exit', (code) => reject(new Error(`a worker host exited (${code}): ${log}`)));
          }),
      ),
    );
    return await body(url, queue);
  } finally {
    for (const c of children) c.kill('SIGKILL');
    redis.kill('SIGKILL');
  }
}

async function perTask(ctx, pool, chunksize) {
  const { noop } = await import(TASKS).then((m) => m.default ?? m);
  const n = TASKS_PER_SAMPLE[chunksize];
  await pool.map(noop, range(n), { chunksize }); // warm-up: connections, processes, JIT
  const samples = [];
  for (let k = 0; k < ctx.samples; k++) {
    const t = performance.now();
    const r = await pool.map(noop, range(n), { chunksize });
    const ms = performance.now() - t;
    if (r.length !== n) throw new Error(`${r.length} results for ${n} tasks`);
    samples.push((ms * 1e6) / n);
  }
  const median = [...samples].sort((a, b) => a - b)[samples.length >> 1];
  return { samples, extra: { tasks: n, chunksize, jobsPerSecond: Math.round(1e9 / (median * chunksize)) } };
}

const bullmq = (hosts, chunksize) => async (ctx) => {
  const why = await missing();
  if (why) return { skipped: why };
  const mp = await lib();
  return withCluster(hosts, TASKS, async (url, queue) => {
    const pool = new mp.Pool(2, { backend: { type: 'bullmq', connection: url, queue }, module: TASKS });
    try {
      return await perTask(ctx, pool, chunksize);
    } finally {
      pool.close();
      await pool.join();
    }
  });
};

const local = (chunksize) => async (ctx) => {
  const mp = await lib();
  const pool = new mp.Pool(2, { module: TASKS });
  try {
    return await perTask(ctx, pool, chunksize);
  } finally {
    pool.terminate();
    await pool.join();
  }
};

// The word count's runs, timed by bench/wordcount-run.mjs in a program of its own (its tasks print).
function wordcountRuns(ctx, args) {
  const r = spawnSync(process.execPath, [path.join(BENCH_DIR, 'wordcount-run.mjs'), String(ctx.samples), ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`wordcount-run exited with ${r.status}: ${r.stderr}`);
  const ms = JSON.parse(r.stdout.trim().split('\n').pop());
  return { samples: ms.map((x) => x * 1e6) };
}

const wordcount = (hosts) => async (ctx) => {
  if (hosts === 0) return wordcountRuns(ctx, []);
  const why = await missing();
  if (why) return { skipped: why };
  return withCluster(hosts, WORDCOUNT, (url, queue) => wordcountRuns(ctx, [url, queue]));
};

const PT = 'scale-out per task';
const WC = 'scale-out word count';
const CHUNKS = [1, 10, 100];

export const benchmarks = [
  ...CHUNKS.map((c) => ({
    name: `scaleout.local-chunk${c}`,
    group: PT,
    unit: 'ns/task',
    description: `the local Pool(2), map of ${TASKS_PER_SAMPLE[c]} no-op tasks, chunksize ${c}`,
    run: local(c),
  })),
  ...[1, 2].flatMap((h) =>
    CHUNKS.map((c) => ({
      name: `scaleout.bullmq-${h}host-chunk${c}`,
      group: PT,
      unit: 'ns/task',
      description: `bullmq backend, ${h} worker host(s) of 2 processes, map of ${TASKS_PER_SAMPLE[c]} no-op tasks, chunksize ${c}`,
      run: bullmq(h, c),
    })),
  ),
  { name: 'scaleout.wordcount-local', group: WC, unit: 'ns/run', description: "the word count's map and reduce on a local Pool(2)", run: wordcount(0) },
  {
    name: 'scaleout.wordcount-2hosts',
    group: WC,
    unit: 'ns/run',
    description: 'the same on the bullmq backend, 2 worker hosts of 2 processes',
    run: wordcount(2),
  },
];

export const comparisons = [
  ...[1, 2].flatMap((h) =>
    CHUNKS.map((c) => ({
      name: `bullmq ${h} host(s) vs local Pool, chunksize ${c}`,
      of: `scaleout.bullmq-${h}host-chunk${c}`,
      against: `scaleout.local-chunk${c}`,
    })),
  ),
  { name: 'word count: 2 hosts vs local', of: 'scaleout.wordcount-2hosts', against: 'scaleout.wordcount-local' },
];
