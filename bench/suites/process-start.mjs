// Process start latency (issue 3): start() -> target running -> exit, for a
// no-op target, against child_process.fork of an equivalent module, a bare
// `node -e 0`, and CPython's multiprocessing with spawn, forkserver and fork.
// Also the resident memory of an idle child.
import { fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BENCH_DIR, REPO_ROOT, measureLoop, trackChild } from '../lib/index.mjs';
import { runPython } from '../lib/python.mjs';

const TARGETS = path.join(BENCH_DIR, 'bench-targets.mjs');
const NOOP_MODULE = path.join(BENCH_DIR, 'noop-module.cjs');
const lib = () => import(path.join(REPO_ROOT, 'dist', 'index.js')).then((m) => m.default ?? m);

// Each start is ~50-100 ms: short samples would hold one start each, so
// sample for longer and with fewer samples.
const slow = (ctx) => ({ ...ctx, sampleMs: Math.max(ctx.sampleMs, 1000), warmupMs: Math.max(ctx.warmupMs, 500) });

async function processStart(ctx) {
  const mp = await lib();
  const { noop } = await import(TARGETS);
  const r = await measureLoop(async (n) => {
    for (let i = 0; i < n; i++) {
      const p = new mp.Process({ target: noop, module: TARGETS });
      p.start();
      await p.join();
      if (p.exitCode !== 0) throw new Error(`the no-op child exited with ${p.exitCode}`);
    }
  }, slow(ctx));
  return { samples: r.samples, extra: { startsPerSample: r.opsPerSample } };
}

// With spares: each start() claims a pre-started process. Between starts we
// wait (untimed) until the replacement spare has booted, as a program that
// starts processes now and then would find it.
async function spareStart(ctx, untilRunning) {
  const mp = await lib();
  const { noop, signal } = await import(TARGETS);
  mp.setSpareProcesses(1, { module: TARGETS });
  const sem = new mp.Semaphore(0);
  const samples = [];
  try {
    const n = 20;
    for (let k = 0; k < ctx.samples; k++) {
      let total = 0;
      for (let i = 0; i < n; i++) {
        await new Promise((r) => setTimeout(r, 150));
        const t = performance.now();
        const p = new mp.Process({ target: untilRunning ? signal : noop, args: untilRunning ? [sem] : [], module: TARGETS });
        p.start();
        if (untilRunning) await sem.acquire();
        else await p.join();
        total += performance.now() - t;
        await p.join();
        if (p.exitCode !== 0) throw new Error(`the child exited with ${p.exitCode}`);
      }
      samples.push((total / n) * 1e6);
    }
  } finally {
    mp.setSpareProcesses(0);
  }
  return { samples };
}

async function spawnUntilExit(ctx, start) {
  const r = await measureLoop(async (n) => {
    for (let i = 0; i < n; i++) {
      const child = trackChild(start());
      const [code] = await once(child, 'exit');
      if (code !== 0) throw new Error(`child exited with ${code}`);
    }
  }, slow(ctx));
  return { samples: r.samples, extra: { startsPerSample: r.opsPerSample } };
}

const PY_START = `
import multiprocessing as mp, time, json, sys
def noop():
    pass
if __name__ == '__main__':
    method, samples, per_sample = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    ctx = mp.get_context(method)
    def run(n):
        t = time.perf_counter_ns()
        for _ in range(n):
            p = ctx.Process(target=noop); p.start(); p.join()
        return (time.perf_counter_ns() - t) / n
    run(2)  # warm-up (starts the forkserver)
    print(json.dumps([run(per_sample) for _ in range(samples)]))
`;

function pythonStart(ctx, method) {
  // The program must be a file for spawn/forkserver to re-import it.
  const perSample = method === 'fork' ? 50 : 8;
  const samples = runPython(`import runpy, sys, tempfile, os
src = ${JSON.stringify(PY_START)}
d = tempfile.mkdtemp(); f = os.path.join(d, 'pystart.py'); open(f, 'w').write(src)
sys.argv = [f] + sys.argv[1:]
runpy.run_path(f, run_name='__main__')`, [method, ctx.samples, perSample]);
  return samples ? { samples } : { skipped: 'python3 with multiprocessing is not available' };
}

function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

async function idleRss(ctx) {
  const mp = await lib();
  const { idle } = await import(TARGETS);
  const samples = [];
  for (let k = 0; k < ctx.samples; k++) {
    const ready = new mp.Semaphore(0);
    const p = new mp.Process({ target: idle, args: [ready], module: TARGETS, daemon: true });
    p.start();
    await ready.acquire({ timeout: 30_000 });
    samples.push(rssKiB(p.pid));
    p.kill();
    await p.join();
  }
  return { samples };
}

async function bareNodeRss(ctx) {
  const samples = [];
  for (let k = 0; k < ctx.samples; k++) {
    const child = trackChild(spawn(process.execPath, ['-e', 'console.log("ready"); setInterval(() => {}, 1000)'], { stdio: ['ignore', 'pipe', 'inherit'] }));
    await once(child.stdout, 'data');
    samples.push(rssKiB(child.pid));
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
  return { samples };
}

const group = 'process start -> exit';
const unit = 'ns/start';

export const benchmarks = [
  { name: 'start.process', group, unit, description: 'multiproc Process(no-op target).start() + join()', run: processStart },
  {
    name: 'start.process-spare', group, unit, description: 'the same with setSpareProcesses(1): start() + join()',
    run: (ctx) => spareStart(ctx, false),
  },
  {
    name: 'start.process-spare-running', group, unit, description: 'with a spare: start() until the target is running',
    run: (ctx) => spareStart(ctx, true),
  },
  {
    name: 'start.fork', group, unit, description: 'child_process.fork() of an empty module until exit',
    run: (ctx) => spawnUntilExit(ctx, () => fork(NOOP_MODULE, [], { stdio: 'ignore' })),
  },
  {
    name: 'start.node-e', group, unit, description: 'spawn `node -e 0` until exit: Node\'s own start-up',
    run: (ctx) => spawnUntilExit(ctx, () => spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' })),
  },
  { name: 'start.python-spawn', group, unit, description: 'CPython Process().start() + join(), spawn', run: (ctx) => pythonStart(ctx, 'spawn') },
  { name: 'start.python-forkserver', group, unit, description: 'CPython, forkserver', run: (ctx) => pythonStart(ctx, 'forkserver') },
  { name: 'start.python-fork', group, unit, description: 'CPython, fork', run: (ctx) => pythonStart(ctx, 'fork') },
  { name: 'rss.idle-child', group: 'idle child memory', unit: 'KiB', description: 'VmRSS of a multiproc child idling in its target', run: idleRss },
  { name: 'rss.bare-node', group: 'idle child memory', unit: 'KiB', description: 'VmRSS of a bare node idling in setInterval', run: bareNodeRss },
];

export const comparisons = [
  { name: 'Process start vs bare node start', of: 'start.process', against: 'start.node-e', target: 1.1 },
  { name: 'Process start vs child_process.fork', of: 'start.process', against: 'start.fork' },
  { name: 'start with a spare vs CPython fork', of: 'start.process-spare', against: 'start.python-fork' },
  { name: 'start -> running with a spare vs CPython fork (start+join)', of: 'start.process-spare-running', against: 'start.python-fork', target: 1 },
  { name: 'Process start vs CPython spawn', of: 'start.process', against: 'start.python-spawn' },
  { name: 'Process start vs CPython forkserver', of: 'start.process', against: 'start.python-forkserver' },
  { name: 'Process start vs CPython fork', of: 'start.process', against: 'start.python-fork' },
  { name: 'idle child RSS vs bare node', of: 'rss.idle-child', against: 'rss.bare-node' },
];
