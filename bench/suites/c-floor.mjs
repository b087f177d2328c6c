// The physical floor: bench/native/pingpong.c, two forked C processes
// ping-ponging a futex word. Compiled here at run time (not shipped), into
// bench/.scratch/. Without a C compiler these entries are skipped.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { BENCH_DIR, CPUS, SCRATCH_DIR } from '../lib/index.mjs';

const SOURCE = path.join(BENCH_DIR, 'native', 'pingpong.c');
const BINARY = path.join(SCRATCH_DIR, 'pingpong');

let built; // { ok: true } | { ok: false, reason }

function build() {
  if (built) return built;
  if (existsSync(BINARY) && statSync(BINARY).mtimeMs >= statSync(SOURCE).mtimeMs) {
    return (built = { ok: true });
  }
  mkdirSync(SCRATCH_DIR, { recursive: true });
  const cc = process.env.CC || 'cc';
  const r = spawnSync(cc, ['-O2', '-Wall', '-o', BINARY, SOURCE], { encoding: 'utf8' });
  if (r.error) return (built = { ok: false, reason: `no C compiler (${cc}: ${r.error.code})` });
  if (r.status !== 0) return (built = { ok: false, reason: `${cc} failed: ${r.stderr.trim().split('\n')[0]}` });
  return (built = { ok: true });
}

function runMode(mode, { samples, sampleMs, warmupMs }, { pin = false } = {}) {
  const b = build();
  if (!b.ok) return { skipped: b.reason };
  pin = pin && CPUS >= 2;
  // The C program forks its own partner and reaps it; its child dies with
  // it (PR_SET_PDEATHSIG), so a timeout here leaves nothing behind.
  const timeout = warmupMs + samples * sampleMs * 4 + 10000;
  const args = [mode, String(samples), String(sampleMs), String(warmupMs), ...(pin ? ['pin'] : [])];
  const r = spawnSync(BINARY, args, {
    encoding: 'utf8',
    timeout,
    killSignal: 'SIGKILL',
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`pingpong ${mode} exited with ${r.status ?? r.signal}: ${r.stderr}`);
  const out = JSON.parse(r.stdout);
  const { samples: s, ...extra } = out;
  return { samples: s, extra: { ...extra, pinned: pin ? 'parent CPU 0, child CPU 1' : false } };
}

/**
 * One sample of the C floor, for measuring it interleaved with a node
 * variant (sync-pingpong.mjs): on a VM the floor itself moves with where the
 * host runs the two vCPUs (SMT siblings ~30 ns, further apart ~70-330 ns per
 * spin round trip), so a ratio is only sound between samples taken side by
 * side. Returns ns per round trip, or { skipped } without a compiler.
 */
export function floorSample(mode, sampleMs, { pin = false } = {}) {
  const r = runMode(mode, { samples: 1, sampleMs, warmupMs: 100 }, { pin });
  return r.skipped ? r : r.samples[0];
}

export const benchmarks = [
  {
    name: 'c.spin',
    yardstick: true,
    group: 'sync futex ping-pong',
    unit: 'ns/round trip',
    description: 'C, two processes: bounded spin (~50 us), then FUTEX_WAIT; FUTEX_WAKE only to an announced sleeper',
    run: (ctx) => runMode('spin', ctx),
  },
  {
    name: 'c.sleep',
    yardstick: true,
    group: 'sleeping futex ping-pong',
    unit: 'ns/round trip',
    description: 'C, two processes pinned to CPUs 0 and 1: FUTEX_WAIT at once, FUTEX_WAKE on every hand-off',
    // Pinned, like sync.sleep: see "pin" in pingpong.c for why.
    run: (ctx) => runMode('sleep', ctx, { pin: true }),
  },
  {
    name: 'c.clock_gettime',
    group: 'call overhead',
    unit: 'ns/call',
    description: 'C: clock_gettime(CLOCK_MONOTONIC), for reference (the addon reads the clock in each sync wait)',
    run: (ctx) => runMode('clock', { ...ctx, sampleMs: Math.min(ctx.sampleMs, 100) }),
  },
];

export const comparisons = [];
