// Segments, child processes and workers the bench makes, always cleaned up (also on a
// crash or Ctrl-C), and CPU placement.
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { CPUS } from './paths.mjs';

const liveSegments = new Set(); // names
const liveChildren = new Set(); // ChildProcess
const liveWorkers = new Set(); // Worker

/** A name for a segment of this run: prefix mp-, 64 random bits. */
export function segmentName(tag) {
  return `/mp-bench-${tag}-${process.pid}-${randomBytes(8).toString('hex')}`;
}

/**
 * Creates a tracked segment and remembers it so that releaseAll() (and the
 * exit hook) unlink it even if a benchmark throws half-way.
 */
export function createSegment(native, tag, size = 4096) {
  const name = segmentName(tag);
  const seg = native.Segment.create(name, size, true);
  liveSegments.add(name);
  return seg;
}

export function destroySegment(native, seg) {
  const name = seg.name;
  if (!seg.closed) seg.close();
  if (liveSegments.delete(name)) {
    try {
      native.Segment.unlink(name);
    } catch (e) {
      if (e.code !== 'ENOENT') throw e;
    }
  }
}

// ---- CPU placement ------------------------------------------------------------

/**
 * Pins one thread (a pid is its process's main thread) to a CPU list such as
 * '0' or '0-1', with util-linux `taskset`. Returns the previous list so it
 * can be restored, or null when pinning is not possible here (no taskset,
 * fewer than two CPUs): callers then measure unpinned and say so.
 */
export function pinThread(tid, cpuList) {
  if (CPUS < 2) return null;
  const now = spawnSync('taskset', ['-pc', String(tid)], { encoding: 'utf8' });
  if (now.error || now.status !== 0) return null;
  const previous = now.stdout.trim().split(': ').pop();
  const r = spawnSync('taskset', ['-pc', cpuList, String(tid)], { encoding: 'utf8' });
  return r.error || r.status !== 0 ? null : previous;
}

/**
 * Spawns `node <script> ...args` with stdout piped; resolves once the child
 * printed the line "ready" (after it opened its resources), so that timing
 * never includes a node start-up. Later stdout collects in child.laterOutput.
 * Pass `cpu` only after pinThread() succeeded (it needs taskset).
 */
export function spawnNode(script, args = [], { env = {}, ipc = false, cpu, readyTimeoutMs = 10000 } = {}) {
  // cpu: a CPU list for the whole child (taskset execs node in place, so
  // child.pid stays node's pid).
  const [file, argv] =
    cpu === undefined ? [process.execPath, [script, ...args]] : ['taskset', ['-c', cpu, process.execPath, script, ...args]];
  const child = spawn(file, argv, {
    stdio: ['ignore', 'pipe', 'inherit', ...(ipc ? ['ipc'] : [])],
    env: { ...process.env, ...env },
  });
  trackChild(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${path.basename(script)} did not get ready within ${readyTimeoutMs} ms`));
    }, readyTimeoutMs);
    const onData = (chunk) => {
      out += chunk;
      if (out.includes('ready\n')) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        // Keep draining (never let a full pipe block the child) and keep
        // what comes after "ready": a child may report figures at its exit.
        child.laterOutput = out.slice(out.indexOf('ready\n') + 6);
        child.stdout.on('data', (c) => (child.laterOutput += c));
        resolve(child);
      }
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${path.basename(script)} exited before ready (code ${code}, signal ${signal})`));
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/**
 * Waits until a child has exited and its piped stdout is drained (so that
 * laterOutput is complete); SIGKILLs it after graceMs. Not the 'close'
 * event: node never emits it for a fork()ed child whose IPC channel we
 * disconnected ourselves.
 */
export function reapChild(child, graceMs = 2000) {
  return new Promise((resolve) => {
    const finish = () => resolve({ code: child.exitCode, signal: child.signalCode });
    const afterExit = () => {
      const out = child.stdout;
      if (!out || out.closed || out.destroyed) finish();
      else out.once('close', finish);
    };
    if (child.exitCode !== null || child.signalCode !== null) return afterExit();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      afterExit();
    });
  });
}

/** Registers a child spawned elsewhere (e.g. child_process.fork) for releaseAll(). */
export function trackChild(child) {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  return child;
}

export function trackWorker(worker) {
  liveWorkers.add(worker);
  worker.once('exit', () => liveWorkers.delete(worker));
  return worker;
}

/** Kills every child and worker still running and unlinks every segment. */
export async function releaseAll(native) {
  for (const w of liveWorkers) await w.terminate();
  for (const c of liveChildren) c.kill('SIGKILL');
  await Promise.all([...liveChildren].map((c) => reapChild(c, 0)));
  if (native) {
    for (const name of liveSegments) {
      try {
        native.Segment.unlink(name);
      } catch {
        // already gone
      }
    }
  }
  liveSegments.clear();
}

/** Last resort on exit / Ctrl-C: synchronous, so it also runs from 'exit'. */
export function installExitHooks(native) {
  const sync = () => {
    for (const c of liveChildren) c.kill('SIGKILL');
    for (const name of liveSegments) {
      try {
        native.Segment.unlink(name);
      } catch {
        // already gone
      }
    }
    liveSegments.clear();
  };
  process.on('exit', sync);
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      sync();
      process.exit(130);
    });
  }
}

/**
 * A last resort against a hang. A lost wake-up in a *sync* wait blocks this
 * thread for good, and then no timer or signal handler of ours can run; a
 * watchdog thread can. When a benchmark runs longer than its limit it says
 * so on stderr and SIGKILLs this process: partners die with it
 * (PR_SET_PDEATHSIG) and the resource tracker unlinks the segments.
 */
export function startWatchdog() {
  const sab = new SharedArrayBuffer(8);
  const state = new Float64Array(sab); // [0]: deadline in ms since the epoch, 0 = disarmed
  const code = `
    const { workerData } = require('node:worker_threads');
    const fs = require('node:fs');
    const state = new Float64Array(workerData.sab);
    setInterval(() => {
      const deadline = state[0];
      if (deadline > 0 && Date.now() > deadline) {
        fs.writeSync(2, '\\nbench watchdog: a benchmark exceeded its time limit (a lost wake-up?); killing the bench\\n');
        process.kill(process.pid, 'SIGKILL');
      }
    }, 1000); // ref'd: it keeps this thread alive; worker.unref() below keeps it from holding the process
  `;
  const worker = new Worker(code, { eval: true, workerData: { sab } });
  worker.unref();
  return {
    arm(limitMs) {
      state[0] = Date.now() + limitMs;
    },
    disarm() {
      state[0] = 0;
    },
    stop: () => worker.terminate(),
  };
}

/** A TCP port free on 127.0.0.1 now (for a server a benchmark starts). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
