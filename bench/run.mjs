// npm run bench [-- [options] [names...]]
//
//   names         run only benchmarks whose name starts with one of these
//                 (e.g. `sync`, `c.spin`, `async.futex`) or whose group is
//                 one of these; peers needed for a ratio are added.
//   --samples=N   samples per benchmark (default 7)
//   --sample-ms=N length of one sample (default 200)
//   --warmup-ms=N warm-up before sampling (default 200)
//   --quiet-wait-ms=N  at most this long in all (default 30000) waiting for
//                 other programs to go idle before each benchmark
//   --list        list the benchmarks and exit
//
// Prints a table of medians and ratios, and writes bench/results/<time>.json
// and .svg (plus latest.json / latest.svg). Targets that are missed are
// reported, never turned into a failing exit code; a benchmark that throws is.

import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import * as asyncWake from './suites/async-wake.mjs';
import * as cFloor from './suites/c-floor.mjs';
import * as locks from './suites/locks.mjs';
import {
  cpuDiff,
  cpuSnapshot,
  formatValue,
  installExitHooks,
  loadavg,
  loadNative,
  machineInfo,
  median,
  NOISY_PCT,
  REPO_ROOT,
  releaseAll,
  renderTable,
  startWatchdog,
  summarize,
  waitForQuiet,
  writeResults,
} from './lib/index.mjs';
import * as napiOverhead from './suites/napi-overhead.mjs';
import * as manager from './suites/manager.mjs';
import * as pool from './suites/pool.mjs';
import * as processStart from './suites/process-start.mjs';
import * as queues from './suites/queues.mjs';
import * as scaleout from './suites/scaleout.mjs';
import * as syncPingPong from './suites/sync-pingpong.mjs';

// Order of execution: cheap in-process loops first, then the process pairs.
const MODULES = [napiOverhead, cFloor, syncPingPong, asyncWake, locks, queues, processStart, pool, manager, scaleout];
const ALL = MODULES.flatMap((m) => m.benchmarks);
const COMPARISONS = MODULES.flatMap((m) => m.comparisons);

function parseArgs(argv) {
  // 7 samples of 200 ms: the whole default run stays near 2-3 minutes on a
  // 2-vCPU VM; the spread between runs there is the machine's, not sampling's.
  const opts = { samples: 7, sampleMs: 200, warmupMs: 200, quietWaitMs: 30000, list: false, names: [] };
  for (const a of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) {
      opts.names.push(a);
      continue;
    }
    const num = () => {
      const v = Number(m[2]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`--${m[1]} needs a positive number`);
      return v;
    };
    if (m[1] === 'samples') opts.samples = Math.round(num());
    else if (m[1] === 'sample-ms') opts.sampleMs = num();
    else if (m[1] === 'warmup-ms') opts.warmupMs = num();
    else if (m[1] === 'quiet-wait-ms') opts.quietWaitMs = num();
    else if (m[1] === 'list') opts.list = true;
    else throw new Error(`unknown option --${m[1]}`);
  }
  return opts;
}

function select(names) {
  if (!names.length) return { chosen: ALL, added: [] };
  const matches = (b, n) => b.name === n || b.name.startsWith(n) || b.group === n;
  for (const n of names) {
    if (!ALL.some((b) => matches(b, n))) {
      throw new Error(`no benchmark matches '${n}'; try --list`);
    }
  }
  const wanted = new Set(ALL.filter((b) => names.some((n) => matches(b, n))).map((b) => b.name));
  // A ratio is only meaningful against a peer from the same run: add peers.
  const added = [];
  for (const c of COMPARISONS) {
    if (wanted.has(c.of) && !wanted.has(c.against)) {
      wanted.add(c.against);
      added.push(c.against);
    }
  }
  return { chosen: ALL.filter((b) => wanted.has(b.name)), added };
}

/** Which code was measured: the commit, and whether native/ differs from it. */
function buildInfo(native) {
  const git = (...args) => {
    const r = spawnSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim() : null;
  };
  const changed = git('status', '--porcelain', '--', 'native', 'binding.gyp');
  return {
    gitHead: git('rev-parse', '--short', 'HEAD'),
    nativeSourceHash: native.sourceHash ?? null,
    nativeChangedSinceHead: changed === null ? null : changed.length > 0,
  };
}

function leftoverSegments() {
  try {
    return readdirSync('/dev/shm').filter((f) => f.startsWith(`mp-bench-`) && f.includes(`-${process.pid}-`));
  } catch {
    return [];
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.list) {
    for (const b of ALL) console.log(`${b.name.padEnd(28)} ${b.group.padEnd(26)} ${b.description}`);
    return 0;
  }
  const { chosen, added } = select(opts.names);
  const native = loadNative();
  installExitHooks(native);

  const machine = machineInfo();
  const startedAt = new Date().toISOString();
  const loadStart = loadavg();
  console.log(`multiproc bench: ${machine.cpu}, ${machine.nproc} CPUs, ${machine.kernel}, node ${machine.node}`);
  console.log(`loadavg at start: ${loadStart}`);
  if (loadStart && Number(loadStart.split(' ')[0]) > 0.5) {
    console.log('warning: the machine is not idle; ping-pong figures will be noisy');
  }
  if (process.env.MULTIPROC_SPIN_NS !== undefined) {
    console.log(`note: MULTIPROC_SPIN_NS=${process.env.MULTIPROC_SPIN_NS} is set; sync.spin uses it, not the default`);
  }
  if (added.length) console.log(`added as peers: ${added.join(', ')}`);
  console.log(`${opts.samples} samples of ~${opts.sampleMs} ms each after ${opts.warmupMs} ms warm-up\n`);

  const ctx = { native, samples: opts.samples, sampleMs: opts.sampleMs, warmupMs: opts.warmupMs };
  const results = [];
  let failed = false;
  const watchdog = startWatchdog();
  // Generous: a benchmark normally takes warm-up + samples, a few seconds.
  const limitMs = Math.max(60000, 10 * (2 * opts.warmupMs + 2 * opts.samples * opts.sampleMs));
  try {
    let quietBudget = opts.quietWaitMs;
    for (const b of chosen) {
      process.stdout.write(`  ${b.name} ... `);
      // Start each benchmark on an idle machine if we can (see waitForQuiet).
      const q0 = Date.now();
      const quiet = quietBudget > 0 ? await waitForQuiet({ maxWaitMs: Math.min(10000, quietBudget) }) : false;
      quietBudget -= Date.now() - q0;
      const t0 = Date.now();
      const before = cpuSnapshot();
      const base = { name: b.name, group: b.group, unit: b.unit, description: b.description, yardstick: !!b.yardstick };
      try {
        watchdog.arm(limitMs);
        const r = await b.run(ctx);
        watchdog.disarm();
        const cpu = { ...cpuDiff(before, cpuSnapshot()), quietAtStart: quiet };
        if (r.skipped) {
          results.push({ ...base, skipped: r.skipped });
          console.log(`skipped (${r.skipped})`);
        } else {
          const s = summarize(r.samples);
          results.push({ ...base, ...s, samples: r.samples, cpu, extra: r.extra ?? {} });
          const noisy = cpu.othersPct >= NOISY_PCT ? `, other programs used ${cpu.othersPct}% CPU` : '';
          console.log(`${formatValue(s.median, b.unit)} (${((Date.now() - t0) / 1000).toFixed(1)} s${noisy})`);
        }
      } catch (e) {
        failed = true;
        results.push({ ...base, skipped: `error: ${e.message}` });
        console.log(`ERROR: ${e.stack}`);
        await releaseAll(native); // whatever this benchmark left running
      }
    }
  } finally {
    watchdog.disarm();
    await watchdog.stop();
    await releaseAll(native);
  }

  const byName = new Map(results.filter((r) => !r.skipped).map((r) => [r.name, r]));
  const comparisons = COMPARISONS.filter((c) => results.some((r) => r.name === c.of)).map((c) => {
    const a = byName.get(c.of);
    const b = byName.get(c.against);
    let ratio = a && b ? a.median / b.median : null;
    let basis = 'medians';
    // paired: the peer was also sampled between a's samples (extra.paired);
    // the median of the per-pair ratios cancels what drifted meanwhile.
    const peer = c.paired ? a?.extra?.paired : null;
    if (peer && peer.name === c.against && peer.samples.length === a.samples.length) {
      ratio = median(a.samples.map((x, k) => x / peer.samples[k]));
      basis = 'interleaved samples';
    }
    return { ...c, target: c.target ?? null, ratio, basis, met: ratio == null || c.target == null ? null : ratio <= c.target };
  });

  const report = {
    startedAt,
    command: `node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trim(),
    machine,
    build: buildInfo(native),
    loadavg: { start: loadStart, end: loadavg() },
    config: { samples: opts.samples, sampleMs: opts.sampleMs, warmupMs: opts.warmupMs, quietWaitMs: opts.quietWaitMs },
    benchmarks: results,
    comparisons,
  };
  console.log(`\n${renderTable(results, comparisons)}\n`);
  const files = writeResults(report);
  console.log(`wrote ${files.json}\n      ${files.svg}`);
  console.log(`loadavg at end: ${report.loadavg.end}`);

  const left = leftoverSegments();
  if (left.length) {
    console.log(`error: segments left in /dev/shm: ${left.join(', ')}`);
    failed = true;
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    console.error(e.message);
    process.exitCode = 2;
  },
);
