// The machine: load, CPU use of others while a benchmark runs, waiting for quiet, its description.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { CPUS } from './paths.mjs';

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
