// Shared helpers for `npm run bench`: measuring loops, child processes and
// segments that are always cleaned up, statistics, and the report (table,
// JSON, SVG chart).
//
// A benchmark is a plain object (see run.mjs for how they are collected):
//   { name: 'sync.spin',            // unique; selectable on the command line
//     group: 'sync',                // bars of one group share a chart panel
//     unit: 'ns/round trip',        // every figure is nanoseconds per operation
//     description: '...',
//     yardstick?: true,             // the panel's reference: drawn grey, others labelled as multiples
//     run: async (ctx) => ({ samples: [ns, ...], extra?: {...} }) | { skipped: 'reason' } }
// A comparison is { name, of, against, target?, paired? } where `of` /
// `against` are benchmark names and `target` the largest acceptable ratio
// of/against. Ratios are only ever taken between figures measured in the
// same run; `paired` ones between samples taken side by side: the `of`
// benchmark then reports extra.paired = { name: against, samples } (run.mjs).

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(BENCH_DIR, '..');
export const RESULTS_DIR = path.join(BENCH_DIR, 'results');
export const SCRATCH_DIR = path.join(BENCH_DIR, '.scratch');

const require = createRequire(import.meta.url);

/**
 * CPUs of the machine. Not os.availableParallelism(): that follows this
 * thread's affinity, which the pinned benchmarks change while they run.
 */
export const CPUS = os.cpus().length;

/** The addon, loaded the way the package loads it (dist/binding/native.js). */
export function loadNative() {
  const file = path.join(REPO_ROOT, 'dist', 'binding', 'native.js');
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: run \`npm run build:ts\` (and \`npm run build:native\`) first`);
  }
  return require(file).native;
}

// ---- Timing -----------------------------------------------------------------

export const nowNs = () => process.hrtime.bigint();
const elapsedNs = (t0) => Number(process.hrtime.bigint() - t0);

/**
 * Measures `body(n)`, which performs n operations, and returns ns per
 * operation for each sample. A warm-up phase (JIT, caches, the partner
 * process's spin budget) also sizes n so that one sample lasts ~sampleMs;
 * every sample then does the same amount of work. `body` may be async.
 *
 * A body may return { excludedNs, excludedOps }: operations it recognized as
 * broken (a lost wake-up rescued by a guard timeout) are then left out of
 * `samples`; `rawSamples` keeps the figures with them, `excludedOps` counts them.
 *
 * beforeSample (optional, async): runs before every sample, untimed -- for
 * measuring a peer interleaved with this benchmark. The body is then warmed
 * up again briefly before the sample (the peer ran meanwhile).
 */
export async function measureLoop(body, { samples, sampleMs, warmupMs, beforeSample }) {
  let batch = 1;
  let done = 0;
  const t0 = nowNs();
  let spent = 0;
  // Double the batch until the warm-up time is used up, so a slow body
  // (a 50 us sleep hand-off) and a fast one (a 20 ns call) both calibrate.
  while ((spent = elapsedNs(t0)) < warmupMs * 1e6) {
    await body(batch);
    done += batch;
    if (batch < 1 << 24) batch *= 2;
  }
  const perOp = spent / Math.max(done, 1);
  const n = Math.max(16, Math.round((sampleMs * 1e6) / perOp));
  const out = [];
  const raw = [];
  let excludedOps = 0;
  const rewarm = Math.max(1, Math.round((Math.min(warmupMs, 50) * 1e6) / perOp));
  for (let k = 0; k < samples; k++) {
    if (beforeSample) {
      await beforeSample(k);
      await body(rewarm);
    }
    const t = nowNs();
    const r = await body(n);
    const ns = elapsedNs(t);
    const exNs = r?.excludedNs ?? 0;
    const exOps = r?.excludedOps ?? 0;
    excludedOps += exOps;
    raw.push(ns / n);
    out.push(exOps < n ? (ns - exNs) / (n - exOps) : ns / n);
  }
  return { samples: out, rawSamples: raw, excludedOps, opsPerSample: n };
}

/**
 * One sample of `body(n)` (may be async) lasting about ms: batches grow until
 * the time is used. For a peer measured between another benchmark's samples.
 * Returns ns per operation.
 */
export async function timedSample(body, ms) {
  let batch = 1;
  let done = 0;
  const t = nowNs();
  let spent = 0;
  while ((spent = elapsedNs(t)) < ms * 1e6) {
    await body(batch);
    done += batch;
    if (batch < 1 << 20) batch *= 2;
  }
  return spent / done;
}

// ---- Resources that must not outlive the bench ------------------------------

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

// ---- Statistics -------------------------------------------------------------

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function summarize(samples) {
  return {
    median: median(samples),
    min: Math.min(...samples),
    max: Math.max(...samples),
  };
}

// ---- Machine ----------------------------------------------------------------

export function loadavg() {
  try {
    return readFileSync('/proc/loadavg', 'utf8').trim();
  } catch {
    return null;
  }
}

/**
 * CPU-time snapshot: the whole machine (/proc/stat) and this process plus
 * its reaped children (/proc/self/stat). cpuDiff() of two snapshots says how
 * much CPU *other* programs used meanwhile, which is recorded with every
 * benchmark so that a disturbed figure can be recognized afterwards.
 */
export function cpuSnapshot() {
  try {
    const tick = 10; // ms per clock tick (USER_HZ is 100 on Linux)
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = cpu;
    const self = readFileSync('/proc/self/stat', 'utf8');
    const f = self.slice(self.lastIndexOf(')') + 2).split(' ').map(Number);
    // fields 14-17 (utime stime cutime cstime) are f[11..14] after "pid (comm) "
    const ours = f[11] + f[12] + f[13] + f[14];
    return { busyMs: (user + nice + system + irq + softirq) * tick, stealMs: steal * tick, oursMs: ours * tick, at: Date.now() };
  } catch {
    return null;
  }
}

export function cpuDiff(a, b) {
  if (!a || !b) return null;
  const wallMs = b.at - a.at;
  const othersMs = Math.max(0, b.busyMs - a.busyMs - (b.oursMs - a.oursMs));
  return {
    wallMs,
    // share of the whole machine (all CPUs) used by other programs
    othersPct: wallMs > 0 ? Math.round((100 * othersMs) / (wallMs * CPUS)) : 0,
    stealPct: wallMs > 0 ? Math.round((100 * (b.stealMs - a.stealMs)) / (wallMs * CPUS)) : 0,
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits (up to maxWaitMs) until other programs have used less than
 * maxOthersPct of the machine for `windows` consecutive windows of windowMs.
 * On a 2-vCPU machine one busy neighbour (a test run, a compiler) takes the
 * CPU a ping-pong partner needs, and also changes what a sleeping wake-up
 * costs (waking an idle vCPU is the expensive part), so figures taken next
 * to other work do not compare. Returns true if the machine was quiet.
 */
export async function waitForQuiet({ maxWaitMs = 10000, windowMs = 300, windows = 2, maxOthersPct = 3 } = {}) {
  const t0 = Date.now();
  let quiet = 0;
  let prev = cpuSnapshot();
  if (!prev) return false;
  while (Date.now() - t0 < maxWaitMs) {
    await sleep(windowMs);
    const now = cpuSnapshot();
    quiet = cpuDiff(prev, now).othersPct < maxOthersPct ? quiet + 1 : 0;
    prev = now;
    if (quiet >= windows) return true;
  }
  return false;
}

export function machineInfo() {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  let clocksource = null;
  try {
    clocksource = readFileSync('/sys/devices/system/clocksource/clocksource0/current_clocksource', 'utf8').trim();
  } catch {
    // not Linux, or hidden
  }
  return {
    nproc: CPUS,
    cpu,
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    clocksource,
  };
}

// ---- Report -----------------------------------------------------------------

/** 12.3 ns, 4.56 us, 7.89 ms: three significant digits. */
export function formatNs(ns) {
  if (ns == null || Number.isNaN(ns)) return '-';
  const [v, u] = ns < 1e3 ? [ns, 'ns'] : ns < 1e6 ? [ns / 1e3, 'us'] : [ns / 1e6, 'ms'];
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${u}`;
}

/**
 * A figure in its benchmark's unit: times ('ns/...') scale to us/ms; any
 * other unit (e.g. 'KiB') is printed as is, three significant digits.
 */
export function formatValue(v, unit = 'ns') {
  if (unit.startsWith('ns')) return formatNs(v);
  if (v == null || Number.isNaN(v)) return '-';
  const u = unit.split('/')[0];
  return `${Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2)} ${u}`;
}

export const formatRatio = (r) => (r == null ? '-' : `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}x`);

/** A benchmark during which others used this much of the machine is flagged. */
export const NOISY_PCT = 5;

const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);

export function renderTable(results, comparisons) {
  const lines = [];
  const w = Math.max(9, ...results.map((r) => r.name.length)) + 2;
  lines.push(`${pad('benchmark', w)}${lpad('median', 10)}${lpad('min', 10)}${lpad('max', 10)}  unit / note`);
  lines.push('-'.repeat(w + 30 + 24));
  for (const r of results) {
    if (r.skipped) {
      lines.push(`${pad(r.name, w)}${lpad('skipped', 10)}${' '.repeat(20)}  ${r.skipped}`);
    } else {
      const notes = [r.unit];
      if (r.cpu && r.cpu.othersPct >= NOISY_PCT) notes.push(`! other programs used ${r.cpu.othersPct}% CPU`);
      if (r.cpu && r.cpu.stealPct >= NOISY_PCT) notes.push(`! steal ${r.cpu.stealPct}%`);
      if (r.extra?.lostWakeups) notes.push(`! ${r.extra.lostWakeups} lost wake-ups (see extra)`);
      lines.push(
        `${pad(r.name, w)}${lpad(formatValue(r.median, r.unit), 10)}${lpad(formatValue(r.min, r.unit), 10)}${lpad(formatValue(r.max, r.unit), 10)}  ${notes.join('  ')}`,
      );
    }
  }
  if (comparisons.length) {
    lines.push('');
    const cw = Math.max(10, ...comparisons.map((c) => c.name.length)) + 2;
    lines.push(`${pad('comparison', cw)}${lpad('ratio', 9)}  ${pad('target', 10)}verdict`);
    lines.push('-'.repeat(cw + 9 + 24));
    for (const c of comparisons) {
      const target = c.target != null ? `<= ${c.target}x` : '';
      const verdict = c.ratio == null ? 'n/a' : c.target == null ? '' : c.met ? 'met' : 'NOT met';
      lines.push(`${pad(c.name, cw)}${lpad(formatRatio(c.ratio), 9)}  ${pad(target, 10)}${verdict}`);
      lines.push(`${pad('', cw)}  = ${c.of} / ${c.against}${c.basis === 'interleaved samples' ? ' (interleaved samples)' : ''}`);
    }
  }
  return lines.join('\n');
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * A static SVG: one panel per group, one horizontal bar per benchmark (the
 * median), a whisker from min to max. Each panel has its own linear scale,
 * since the groups span 1 ns to 100 us; comparisons are listed underneath.
 */
export function renderSvg(report) {
  const W = 1100;
  const labelW = 250;
  const valueW = 300;
  const plotW = W - labelW - valueW - 20;
  const barH = 18;
  const gap = 6;
  let y = 40;
  const parts = [];
  parts.push(
    `<text x="10" y="22" font-size="15" font-weight="bold">multiproc bench - ${esc(report.startedAt)} - ${esc(report.machine.cpu)}, ${report.machine.nproc} CPUs, node ${esc(report.machine.node)}</text>`,
  );
  const groups = [...new Set(report.benchmarks.map((b) => b.group))];
  for (const g of groups) {
    const rows = report.benchmarks.filter((b) => b.group === g);
    const scaleMax = Math.max(1e-9, ...rows.filter((r) => !r.skipped).map((r) => r.max));
    y += 8;
    parts.push(`<text x="10" y="${y + 12}" font-size="13" font-weight="bold">${esc(g)} (${esc(rows[0].unit)})</text>`);
    y += 20;
    // A panel's yardstick (grey: the C floor, or the peer of a target) is
    // often too short to see at this scale, so every other bar's label also
    // says how many yardsticks it is.
    const floor = rows.find((r) => r.yardstick && !r.skipped);
    for (const r of rows) {
      parts.push(`<text x="10" y="${y + barH - 5}" font-size="12">${esc(r.name)}</text>`);
      if (r.skipped) {
        parts.push(`<text x="${labelW}" y="${y + barH - 5}" font-size="12" fill="#888">skipped: ${esc(r.skipped)}</text>`);
      } else {
        const x = (v) => labelW + (v / scaleMax) * plotW;
        parts.push(
          `<rect x="${labelW}" y="${y}" width="${(x(r.median) - labelW).toFixed(1)}" height="${barH}" fill="${r.yardstick ? '#7a7a7a' : '#3b7dd8'}"/>`,
        );
        const mid = y + barH / 2;
        parts.push(
          `<line x1="${x(r.min).toFixed(1)}" x2="${x(r.max).toFixed(1)}" y1="${mid}" y2="${mid}" stroke="#111" stroke-width="1.2"/>`,
          `<line x1="${x(r.min).toFixed(1)}" x2="${x(r.min).toFixed(1)}" y1="${mid - 4}" y2="${mid + 4}" stroke="#111"/>`,
          `<line x1="${x(r.max).toFixed(1)}" x2="${x(r.max).toFixed(1)}" y1="${mid - 4}" y2="${mid + 4}" stroke="#111"/>`,
          `<text x="${labelW + plotW + 8}" y="${y + barH - 5}" font-size="12">${esc(formatValue(r.median, r.unit))}${
            floor && floor !== r ? ` (${esc(formatRatio(r.median / floor.median))} ${esc(floor.name)})` : ''
          }</text>`,
        );
      }
      y += barH + gap;
    }
  }
  if (report.comparisons.length) {
    y += 12;
    parts.push(
      `<text x="10" y="${y + 12}" font-size="13" font-weight="bold">ratios (same run; bar labels above are ratios of medians, [interleaved samples] = median of side-by-side sample ratios)</text>`,
    );
    y += 20;
    for (const c of report.comparisons) {
      const verdict = c.ratio == null ? 'n/a' : c.target == null ? '' : c.met ? 'met' : 'NOT met';
      const color = c.target == null || c.ratio == null ? '#111' : c.met ? '#1a7f37' : '#c62828';
      parts.push(
        `<text x="10" y="${y + 12}" font-size="12" fill="${color}">${esc(c.name)}: ${esc(formatRatio(c.ratio))}${c.target != null ? ` (target &lt;= ${c.target}x: ${verdict})` : ''}${c.basis === 'interleaved samples' ? ' [interleaved samples]' : ''}</text>`,
      );
      y += 18;
    }
  }
  y += 10;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" font-family="sans-serif">` +
    `<rect width="100%" height="100%" fill="white"/>${parts.join('')}</svg>\n`
  );
}

/** Writes <stamp>.json and <stamp>.svg (and latest.*) under bench/results/. */
export function writeResults(report) {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = report.startedAt.replace(/[:.]/g, '-');
  const json = path.join(RESULTS_DIR, `${stamp}.json`);
  const svg = path.join(RESULTS_DIR, `${stamp}.svg`);
  const text = JSON.stringify(report, null, 2) + '\n';
  const chart = renderSvg(report);
  writeFileSync(json, text);
  writeFileSync(svg, chart);
  writeFileSync(path.join(RESULTS_DIR, 'latest.json'), text);
  writeFileSync(path.join(RESULTS_DIR, 'latest.svg'), chart);
  return { json, svg };
}
