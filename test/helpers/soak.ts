// Tools of the fault-injection soak (test/soak.test.ts): a seeded schedule
// of what to kill and when, so that a failing run can be replayed from the
// seed it prints; a watchdog that turns a hang into a failure naming what
// hung; and the scale knob for long runs by hand.
import fs from 'node:fs';

/** MULTIPROC_SOAK_SCALE=10 makes every round and item count of the soak ten times larger. */
export const SCALE = (() => {
  const raw = process.env.MULTIPROC_SOAK_SCALE;
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`MULTIPROC_SOAK_SCALE must be a positive number, got ${JSON.stringify(raw)}`);
  return n;
})();

export const scaled = (n: number): number => Math.max(1, Math.round(n * SCALE));

/** MULTIPROC_SOAK_SEED replays a run; otherwise each run draws a new seed. */
export const BASE_SEED = (() => {
  const raw = process.env.MULTIPROC_SOAK_SEED;
  if (raw === undefined || raw === '') return (Math.random() * 2 ** 32) >>> 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n >= 2 ** 32)
    throw new RangeError(`MULTIPROC_SOAK_SEED must be an integer from 0 to 2^32-1, got ${JSON.stringify(raw)}`);
  return n;
})();

/** Replaying a failure: the command line that runs the soak again with the same schedule. */
export const replay = (): string =>
  `MULTIPROC_SOAK_SEED=${BASE_SEED}${SCALE !== 1 ? ` MULTIPROC_SOAK_SCALE=${SCALE}` : ''} npx vitest run test/soak.test.ts`;

/**
 * A deterministic stream of choices (mulberry32), one per scenario, derived
 * from the run's seed and the scenario's name so that scenarios do not
 * shift each other's schedules. Timing still varies from run to run; the
 * choices (victims, signals, delays) do not.
 */
/** MULTIPROC_SOAK_VERBOSE=1 prints each scenario's tallies (kills, items, takeovers) also when it passes. */
export const VERBOSE = process.env.MULTIPROC_SOAK_VERBOSE === '1';

export class Schedule {
  #state: number;
  /** What the scenario did, for the failure report (and VERBOSE). */
  readonly lines: string[] = [];

  constructor(readonly scenario: string) {
    let h = BASE_SEED ^ 0x9e3779b9;
    for (const c of scenario) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193);
    this.#state = h >>> 0;
  }

  /** [0, 1) */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) | 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), 1 | t);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }

  /** An integer from lo to hi, both included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Schedule.pick() of nothing');
    return items[Math.floor(this.next() * items.length)];
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /**
   * A pause of the schedule itself (lo to hi ms): when the next fault comes.
   * Not a wait for something to happen; those wait on events (within()).
   */
  pause(lo: number, hi: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, this.int(lo, hi)));
  }

  /** Notes what the scenario did: printed if it fails (always, with MULTIPROC_SOAK_VERBOSE=1). */
  report(line: string): void {
    this.lines.push(line);
    if (VERBOSE) console.log(`soak ${this.scenario}: ${line}`);
  }

  /** What a failure message needs to be replayed. */
  note(): string {
    return `soak scenario "${this.scenario}", seed ${BASE_SEED}; replay: ${replay()}`;
  }

  #hang(what: string, ms: number, state?: () => string): Error {
    let detail = '';
    try {
      if (state) detail = `; state: ${state()}`;
    } catch (e) {
      detail = `; state unreadable: ${String(e)}`;
    }
    return new Error(`hang: ${what} did not happen within ${ms} ms${detail} (${this.note()})`);
  }

  /**
   * `promise`, or a rejection after `ms` saying what hung: a hang of the
   * library becomes a failure of the test, not a stuck run. The bound is
   * generous; it is never a claim about how fast anything is.
   */
  async within<T>(promise: Promise<T>, ms: number, what: string, state?: () => string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const watchdog = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.#hang(what, ms, state)), ms);
    });
    try {
      return await Promise.race([promise, watchdog]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves once check() is true, polling; a watchdog failure after `ms`. */
  async until(check: () => boolean, ms: number, what: string, state?: () => string): Promise<void> {
    const deadline = Date.now() + ms;
    for (let delay = 2; !check(); delay = Math.min(delay * 2, 50)) {
      if (Date.now() > deadline) throw this.#hang(what, ms, state);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** A process's start time (field 22 of /proc/<pid>/stat), or undefined once it is gone. */
export function startTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined; // dead, not yet reaped
    return fields[19];
  } catch {
    return undefined;
  }
}

/** Whether the process that had `pid` when `start` was read still runs (not a later owner of the pid). */
export const stillRuns = (pid: number, start: string | undefined): boolean => start !== undefined && startTime(pid) === start;

/** A process's state letter (R, S, T for stopped, Z ...), or undefined once it is gone. */
export function procState(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2];
  } catch {
    return undefined;
  }
}
