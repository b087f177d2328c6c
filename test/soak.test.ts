// A bounded fault-injection soak (issue 9, "Done when"): random SIGKILL and
// SIGSTOP/SIGCONT of producers, consumers, lock holders, barrier parties,
// condition waiters, the resource trackers and a main process, and holders
// whose pids are handed to strangers. It checks exactly: no crash (every
// process not killed exits 0), no hang (every wait has a watchdog that fails
// the test, naming what hung), no item lost or duplicated beyond what the
// kills allow, and nothing left in /dev/shm (the per-file check of
// helpers/setup.ts, and each child program's own tag).
//
// The schedule of faults comes from a seeded PRNG (helpers/soak.ts): a
// failure prints the seed, the command that replays it and what the
// scenario did. The sizes below keep the whole file within about a minute
// on a loaded 2-core machine; MULTIPROC_SOAK_SCALE multiplies them for a
// long run by hand (MULTIPROC_SOAK_VERBOSE=1 prints the tallies).
//
// What the soak found in the library is reduced to deterministic tests at
// the end ("found by the soak"); they fail until the library is fixed.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { inspect } from 'node:util';
import { describe, expect, it, onTestFailed } from 'vitest';
import {
  Barrier,
  BrokenBarrierError,
  Condition,
  Empty,
  Event,
  JoinableQueue,
  Lock,
  type Process,
  Queue,
  RawArray,
  RLock,
  listSharedObjects,
} from '../dist/index.js';
import { trackerProcesses } from '../dist/shm/tracker.js';
import { fixture, startNode, type Child } from './helpers/child';
import { canForcePids, reusePid, stampOf, writeOwner } from './helpers/identity';
import { collect, nameOf } from './helpers/names';
import { processRunner } from './helpers/processes';
import { Schedule, procState, scaled, startTime, stillRuns } from './helpers/soak';
import { cleanOrphansOf, killTrackerGroups, objectsNow, objectsOf, removeObjectsOf, strayObjects, trackersOf } from './helpers/trackers';

// ---- Sizes (multiplied by MULTIPROC_SOAK_SCALE) ------------------------------
const QUEUE_FAULTS = scaled(20); // faults injected into the Queue run
const JOINABLE_FAULTS = scaled(14); // ... into the JoinableQueue run
const LOCK_FAULTS = scaled(14); // ... into each lock run (Lock, RLock)
const BARRIER_ROUNDS = scaled(4); // rounds of a Barrier broken by a death or a stop, then reset
const CONDITION_ROUNDS = scaled(3); // rounds of Condition waiters killed and notified one by one
const TRACKER_ROUNDS = scaled(2); // child programs whose trackers are killed
const TRACKER_FAULTS = 3; // tracker kills in each
const MAIN_ROUNDS = scaled(3); // child programs whose main process is SIGKILLed
const PID_REUSE_ROUNDS = scaled(5); // holders that die and whose pids go to strangers

// Generous bounds for things that must happen; a hang becomes a failure.
const BOOT_MS = 60_000; // processes starting on a loaded machine
const HANG_MS = 30_000; // anything that must happen once the faults that delay it stop

const targets = fixture('soak-targets.mjs');

const t: Record<string, any> = await import(targets);
const { run } = processRunner(targets);

/** Starts a scenario's schedule and prints its seed if the test fails. */
function schedule(scenario: string): Schedule {
  const s = new Schedule(scenario);
  onTestFailed(() => console.error([`FAILED ${s.note()}`, ...s.lines.map((l) => `  ${l}`)].join('\n')));
  return s;
}

// ---- A crew of processes that faults are injected into ------------------------

interface Member {
  proc: Process;
  role: string;
  /** The step of the schedule at which a stopped member is resumed. */
  resumeAt?: number;
  killed: boolean;
}

/**
 * The live processes of a scenario, with the faults applied to them: a
 * SIGKILLed member is replaced by a fresh one of the same role; a SIGSTOPped
 * one is resumed a few steps of the schedule later.
 */
class Crew {
  readonly members: Member[] = [];
  readonly kills = new Map<string, number>();
  stops = 0;

  constructor(
    private readonly s: Schedule,
    private readonly spawn: (role: string) => Process,
  ) {}

  add(role: string): Member {
    const m: Member = { proc: this.spawn(role), role, killed: false };
    this.members.push(m);
    return m;
  }

  live(): Member[] {
    return this.members.filter((m) => !m.killed && m.proc.exitCode === null);
  }

  kill(m: Member): void {
    m.proc.kill(); // also a stopped one
    this.died(m);
  }

  /** `m` was killed (by us, or by itself): count it and replace it. */
  died(m: Member): void {
    m.killed = true;
    this.kills.set(m.role, (this.kills.get(m.role) ?? 0) + 1);
    this.add(m.role);
  }

  allKills(): number {
    return [...this.kills.values()].reduce((a, b) => a + b, 0);
  }

  /**
   * One step: resume what is due, then SIGKILL a member picked at random
   * (perhaps a stopped one) or SIGSTOP one that runs.
   */
  step(n: number, pKill: number): void {
    for (const m of this.members) {
      if (m.resumeAt !== undefined && m.resumeAt <= n) this.resume(m);
    }
    const kill = this.s.chance(pKill);
    const candidates = this.live().filter((m) => kill || m.resumeAt === undefined);
    if (candidates.length === 0) return;
    const victim = this.s.pick(candidates);
    if (kill) {
      this.kill(victim);
    } else {
      victim.proc.sendSignal('SIGSTOP');
      victim.resumeAt = n + this.s.int(1, 3);
      this.stops++;
    }
  }

  resume(m: Member): void {
    if (m.resumeAt === undefined) return;
    m.resumeAt = undefined;
    if (!m.killed && m.proc.exitCode === null) m.proc.sendSignal('SIGCONT');
  }

  resumeAll(): void {
    for (const m of this.members) this.resume(m);
  }

  /** Waits for every member of `roles` to exit (watchdog), then checks none crashed. */
  async finish(roles: readonly string[], what: string): Promise<void> {
    const ms = this.members.filter((m) => roles.includes(m.role));
    await this.s.within(Promise.all(ms.map((m) => m.proc.join())), HANG_MS, what);
    for (const m of ms) {
      expect(m.proc.exitCode, `${m.role} ${m.proc.name} (pid ${m.proc.pid}) ${m.killed ? 'was SIGKILLed' : 'was not killed'}`).toBe(
        m.killed ? -9 : 0,
      );
    }
  }

  summary(): string {
    return `${[...this.kills].map(([r, n]) => `${n} ${r} kills`).join(', ') || 'no kills'}, ${this.stops} stops, ${this.members.length} processes`;
  }
}

// ---- Queues ----------------------------------------------------------------------

const ITEM_CAP = scaled(100_000); // items per producer at most (the stop event comes first)

interface Accounting {
  delivered: number;
  missing: number; // put returned, never seen
  duplicated: number; // seen more than once
  phantom: number; // seen, never put
  cutShort: number; // puts a kill interrupted (delivered or not)
  returned: number;
}

function account(marks: { view: Int32Array }, seen: { view: Uint8Array }, producers: number): Accounting {
  const a: Accounting = { delivered: 0, missing: 0, duplicated: 0, phantom: 0, cutShort: 0, returned: 0 };
  for (let p = 0; p < producers; p++) {
    const started = marks.view[2 * p];
    const returned = marks.view[2 * p + 1];
    expect(started - returned, `producer ${p}: started ${started}, returned ${returned}`).toBeGreaterThanOrEqual(0);
    expect(started - returned).toBeLessThanOrEqual(1);
    a.returned += returned;
    if (started > returned) a.cutShort++;
    for (let i = 0; i < ITEM_CAP; i++) {
      const n = seen.view[p * ITEM_CAP + i];
      a.delivered += n;
      if (n > 1) a.duplicated++;
      if (i < returned && n === 0) a.missing++;
      if (i >= started && n !== 0) a.phantom++;
    }
  }
  return a;
}

const PRODUCER_MODES = ['sync', 'async', 'sync'] as const;
const CONSUMER_MODES = ['sync', 'async', 'iterate'] as const;
// Each fault kills one process at most, and each kill is replaced.
const MAX_PRODUCERS = PRODUCER_MODES.length + Math.max(QUEUE_FAULTS, JOINABLE_FAULTS);

/** A Queue or JoinableQueue with producers and consumers of every form, and a Crew over them. */
function queueRun(s: Schedule, q: Queue<unknown>, joinable: boolean) {
  const marks = RawArray('i', 2 * MAX_PRODUCERS);
  const seen = RawArray('B', MAX_PRODUCERS * ITEM_CAP); // one byte per item that could be put
  const stats = RawArray('i', 8);
  const stop = new Event();
  let producers = 0;
  const crew = new Crew(s, (role) => {
    if (role.startsWith('producer')) {
      const mode = role.slice('producer-'.length);
      if (producers >= MAX_PRODUCERS) throw new Error('more producers than the soak has room for');
      return run(mode === 'sync' ? t.produceSync : t.produceAsync, q, marks, producers++, ITEM_CAP, stop);
    }
    return run(t.consume, q, seen, stats, ITEM_CAP, MAX_PRODUCERS, role.slice('consumer-'.length), joinable);
  });
  for (const mode of PRODUCER_MODES) crew.add(`producer-${mode}`);
  for (const mode of CONSUMER_MODES) crew.add(`consumer-${mode}`);
  const producerRoles = PRODUCER_MODES.map((m) => `producer-${m}`);
  const consumerRoles = CONSUMER_MODES.map((m) => `consumer-${m}`);
  const consumerKills = (): number => consumerRoles.reduce((n, r) => n + (crew.kills.get(r) ?? 0), 0);
  const allKills = (): number => [...crew.kills.values()].reduce((n, k) => n + k, 0);
  return {
    crew,
    marks,
    seen,
    stats,
    stop,
    producerRoles,
    consumerRoles,
    consumerKills,
    allKills,
    producers: () => producers,
    /** Every first producer has put something and something came out. */
    flowing: () => PRODUCER_MODES.every((_, p) => marks.view[2 * p + 1] > 0 && seen.view[p * ITEM_CAP] > 0),
  };
}

/**
 * Once every process but this one that used a scenario's objects is gone:
 * nothing of this file's tracker that nobody maps may be left (a side
 * segment of an item in flight when its producer or consumer was killed).
 * Removed either way, so that a failure here does not fail the file's
 * leak check too.
 */
// `inFlight`: how many side segments (big items) processes killed with one
// in their hands may leave -- one killed in the microseconds between making
// its item's segment and putting its record, or between taking a record and
// unlinking its segment, leaves it to the tracker at the program's end
// (README, Queues and pipes). Everything else must be gone.
async function expectNoStrays(s: Schedule, before: ReadonlySet<string>, what: string, inFlight = 0): Promise<void> {
  await collect();
  const all = strayObjects(before);
  for (const o of all) fs.rmSync(o.path, { force: true });
  // (A segment killed before its header was written lists as a SharedMemory.)
  const isItem = (o: { type: string }): boolean => o.type === 'QueueItem' || o.type === 'SharedMemory';
  const items = all.filter(isItem);
  const strays = all.filter((o) => !isItem(o)).map((o) => `${o.name} (${o.type}, ${o.size} B)`);
  expect(strays.length, `${what}: objects nobody maps, left in /dev/shm: ${strays.join(', ')} (${s.note()})`).toBe(0);
  expect(items.length, `${what}: side segments left by killed processes: at most one each (${s.note()})`).toBeLessThanOrEqual(inFlight);
}

/** `faults` steps of the schedule, 10-90 ms apart; then every stopped member is resumed. */
async function inject(s: Schedule, crew: Crew, faults: number, pKill: number): Promise<void> {
  for (let n = 0; n < faults; n++) {
    await s.pause(10, 90);
    crew.step(n, pKill);
  }
  crew.resumeAll();
}

// ---- Locks -----------------------------------------------------------------------

const HOLDER_MODES = ['sync', 'async', 'with'] as const;

describe('soak', () => {
  it('Queue: producers and consumers (sync, async, for await) SIGKILLed and SIGSTOPped at random: nothing lost but what a killed consumer took, nothing twice, nothing torn', async () => {
    const s = schedule('queue');
    const before = objectsNow();
    // A small ring: puts wrap around it and wait for room; every 64th item
    // is too big for it and goes through a side segment.
    const q = new Queue(16, { capacityBytes: 2048 });
    const r = queueRun(s, q, false);
    await s.until(r.flowing, BOOT_MS, 'the first producers and consumers get going');
    await inject(s, r.crew, QUEUE_FAULTS, 0.6);
    r.stop.set();
    await r.crew.finish(r.producerRoles, 'every producer returns once told to stop');
    q.shutdown();
    await r.crew.finish(r.consumerRoles, 'every consumer drains the shut-down queue and returns');
    const a = account(r.marks, r.seen, r.producers());
    s.report(
      `${a.returned} puts returned, ${a.delivered} delivered, ${a.missing} missing, ` +
        `${a.cutShort} puts cut short; ${r.crew.summary()}; ${r.stats.view[t.Q.empties]} timed-out gets`,
    );
    expect(r.stats.view[t.Q.torn], 'torn items').toBe(0);
    expect(r.stats.view[t.Q.disorder], 'items of one producer out of order').toBe(0);
    expect(r.stats.view[t.Q.unexpected], 'errors other than Empty/ShutDown in consumers').toBe(0);
    expect(a.duplicated, 'items delivered twice').toBe(0);
    expect(a.phantom, 'items delivered that were never put').toBe(0);
    expect(a.missing, 'items lost: at most one per killed consumer').toBeLessThanOrEqual(r.consumerKills());
    expect(q.qsize()).toBe(0);
    await expectNoStrays(s, before, 'Queue', r.allKills());
  });

  it('JoinableQueue: producers and consumers SIGKILLed at random: join() resolves, with every item done but what a killed consumer took', async () => {
    const s = schedule('joinable');
    const before = objectsNow();
    const q = new JoinableQueue(16, { capacityBytes: 2048 });
    const r = queueRun(s, q, true);
    await s.until(r.flowing, BOOT_MS, 'the first producers and consumers get going');
    await inject(s, r.crew, JOINABLE_FAULTS, 0.8);
    r.stop.set();
    await r.crew.finish(r.producerRoles, 'every producer returns once told to stop');
    await s.within(q.join(), HANG_MS, 'JoinableQueue.join() resolves once the producers stopped');
    // At this instant every item put is done: seen by a consumer (which marks
    // it before taskDone()), or taken by one that was killed.
    const atJoin = account(r.marks, r.seen, r.producers());
    expect(q.unfinished()).toBe(0);
    expect(q.qsize()).toBe(0);
    q.shutdown();
    await r.crew.finish(r.consumerRoles, 'every consumer returns once the queue is shut down');
    const a = account(r.marks, r.seen, r.producers());
    s.report(
      `${a.returned} puts returned, ${a.delivered} delivered, ${a.missing} missing, ` + `${a.cutShort} puts cut short; ${r.crew.summary()}`,
    );
    expect(a.delivered, 'nothing was delivered after join() resolved').toBe(atJoin.delivered);
    expect(atJoin.missing, 'items not done when join() resolved: at most one per killed consumer').toBeLessThanOrEqual(r.consumerKills());
    expect(r.stats.view[t.Q.torn], 'torn items').toBe(0);
    expect(r.stats.view[t.Q.disorder], 'items of one producer out of order').toBe(0);
    expect(r.stats.view[t.Q.unexpected], 'errors other than Empty/ShutDown in consumers').toBe(0);
    expect(a.duplicated, 'items delivered twice').toBe(0);
    expect(a.phantom, 'items delivered that were never put').toBe(0);
    await expectNoStrays(s, before, 'JoinableQueue', r.allKills());
  });

  for (const kind of ['Lock', 'RLock'] as const) {
    it(`${kind}: holders SIGKILLed and SIGSTOPped at random and killed inside the critical section: mutual exclusion holds, the counter stays exact, the next acquirer sees ownerDied`, async () => {
      const s = schedule(`lock-${kind}`);
      const L = t.L as Record<string, number>;
      const lock = kind === 'Lock' ? new Lock() : new RLock();
      const sh = RawArray('i', 16);
      const log = RawArray('B', scaled(1 << 21)); // ~150k sections a second here
      const tally = RawArray('i', 255);
      const idOf = new Map<Process, number>();
      const crew = new Crew(s, (mode) => {
        const id = idOf.size;
        if (id >= 254) throw new Error('more holders than the soak has room for');
        const p = run(t.lockHolder, lock, sh, log, tally, id, mode, kind === 'RLock');
        idOf.set(p, id);
        return p;
      });
      for (const mode of HOLDER_MODES) crew.add(mode);
      await s.until(() => HOLDER_MODES.every((_, id) => tally.view[id] > 0), BOOT_MS, 'every first holder completes a critical section');
      let suicides = 0;
      let pausedInside = 0;
      for (let n = 0; n < LOCK_FAULTS; n++) {
        await s.pause(10, 90);
        const fault = s.pick(['random', 'random', 'random', 'die inside', 'stop inside'] as const);
        if (fault === 'random') {
          crew.step(n, 0.5);
          continue;
        }
        crew.resumeAll(); // nobody else may be stopped holding the lock
        const victim = s.pick(crew.live());
        const id = idOf.get(victim.proc)!;
        if (fault === 'stop inside') {
          // A holder stopped inside its critical section, for certain: the
          // others wait (no takeover of a live holder) until it is resumed.
          Atomics.store(sh.view, L.pause, id + 1);
          await s.until(
            () => procState(victim.proc.pid!) === 'T' || victim.proc.exitCode !== null,
            HANG_MS,
            `holder ${id} (${victim.role}) gets the ${kind} and stops itself inside`,
          );
          Atomics.store(sh.view, L.pause, 0);
          if (victim.proc.exitCode === null) {
            victim.resumeAt = n + s.int(1, 3);
            pausedInside++;
          }
          continue;
        }
        // A holder that dies inside its critical section, for certain.
        Atomics.store(sh.view, L.doom, id + 1);
        await s.within(victim.proc.join(), HANG_MS, `holder ${id} (${victim.role}) gets the ${kind} and kills itself inside`);
        Atomics.store(sh.view, L.doom, 0);
        if (victim.proc.exitCode === -9) {
          suicides++;
          crew.died(victim);
        }
      }
      Atomics.store(sh.view, L.stop, 1);
      crew.resumeAll();
      await crew.finish(HOLDER_MODES, 'every holder leaves once told to stop');
      expect(Atomics.load(sh.view, L.full), 'the log filled up: make it bigger').toBe(0);

      // The last acquirer is this process: the same checks as the holders'.
      expect(await s.within(lock.acquire({ timeout: HANG_MS }), HANG_MS + 1000, `this process gets the ${kind}`)).toBe(true);
      const inside = Atomics.load(sh.view, L.inside);
      if (lock.ownerDied) Atomics.add(sh.view, L.ownerDied, 1);
      if (inside !== 0) Atomics.add(sh.view, lock.ownerDied ? L.takeovers : L.violations, 1);
      lock.release();

      const counter = Atomics.load(sh.view, L.counter);
      const logged = new Map<number, number>();
      for (let k = 0; k < counter; k++) logged.set(log.view[k] - 1, (logged.get(log.view[k] - 1) ?? 0) + 1);
      expect(logged.has(-1), 'a completed section left no entry in the log').toBe(false);
      const killed = new Set(crew.members.filter((m) => m.killed).map((m) => idOf.get(m.proc)!));
      for (const [proc, id] of idOf) {
        const diff = (logged.get(id) ?? 0) - tally.view[id];
        // A holder killed between moving the counter and counting its own
        // section has one more in the log than in its tally; no other gap.
        expect(
          diff,
          `holder ${id} (pid ${proc.pid}${killed.has(id) ? ', killed' : ''}): sections in the log minus its own count`,
        ).toBeGreaterThanOrEqual(0);
        expect(diff).toBeLessThanOrEqual(killed.has(id) ? 1 : 0);
      }
      const deaths = crew.allKills();
      s.report(
        `${counter} critical sections, ${Atomics.load(sh.view, L.takeovers)} takeovers from a holder that died inside, ` +
          `${Atomics.load(sh.view, L.ownerDied)} ownerDied, ${suicides} deaths and ${pausedInside} stops inside for certain; ${crew.summary()}`,
      );
      expect(Atomics.load(sh.view, L.violations), 'times a holder found another inside (mutual exclusion broken)').toBe(0);
      expect(Atomics.load(sh.view, L.suicides)).toBe(suicides);
      expect(Atomics.load(sh.view, L.paused)).toBe(pausedInside);
      // Each holder that died inside made the next acquirer see ownerDied ...
      expect(Atomics.load(sh.view, L.takeovers)).toBeGreaterThanOrEqual(suicides);
      // ... and ownerDied was never reported without a death.
      expect(Atomics.load(sh.view, L.ownerDied), 'acquisitions that reported ownerDied, at most one per death').toBeLessThanOrEqual(deaths);
      expect(lock.locked()).toBe(false);
    });
  }

  it('Barrier: a party SIGKILLed or SIGSTOPped while the others cycle: they get BrokenBarrierError (at their timeout for a stopped one), and after reset() a full cycle completes', async () => {
    const s = schedule('barrier');
    const P = 3;
    const PARTY_TIMEOUT = 750; // what a stopped (live) party, or a dead one that had not arrived, costs the others
    const b = new Barrier(P);
    for (let round = 0; round < BARRIER_ROUNDS; round++) {
      const out = RawArray('i', 2 * P);
      const forms = Array.from({ length: P }, () => s.chance(0.5));
      const parties = forms.map((sync, slot) => run(t.barrierParty, b, out, slot, P, sync, PARTY_TIMEOUT));
      await s.until(
        () => parties.every((p, i) => out.view[P + i] >= 2 || p.exitCode !== null),
        BOOT_MS,
        `round ${round}: the parties complete cycles together`,
      );
      const victim = s.int(0, P - 1);
      const stop = s.chance(0.4);
      await s.pause(0, 30);
      // On a very loaded machine a wait may have timed out already (that
      // breaks the barrier too); then the fault hits a process that is done.
      const early = parties.some((p) => p.exitCode !== null);
      if (stop) parties[victim].sendSignal('SIGSTOP');
      else parties[victim].kill();
      const others = parties.filter((_, i) => i !== victim);
      const state = (): string =>
        `victim ${victim} ${stop ? 'stopped' : 'killed'}${early ? ' (early)' : ''}; forms ${forms.map((f) => (f ? 'sync' : 'async'))}; ` +
        `out ${[...out.view]}; exit codes ${parties.map((p) => p.exitCode)}; pids ${parties.map((p) => p.pid)}; ${inspect(b)}`;
      await s.within(Promise.all(others.map((p) => p.join())), HANG_MS, `round ${round}: the other parties see the barrier broken`, state);
      if (stop) parties[victim].sendSignal('SIGCONT');
      await s.within(parties[victim].join(), HANG_MS, `round ${round}: the ${stop ? 'stopped' : 'killed'} party ends`);
      for (const [i, p] of parties.entries()) {
        // A party that timed out early may have ended before the kill.
        const killed = i === victim && !stop && !(early && p.exitCode === 0);
        expect(p.exitCode, `round ${round}, party ${i}`).toBe(killed ? -9 : 0);
        if (!killed) expect(out.view[i], `round ${round}, party ${i}: 1 = BrokenBarrierError`).toBe(1);
      }
      expect(b.broken).toBe(true);
      b.reset();
      expect(b.broken).toBe(false);
      expect(b.nWaiting).toBe(0);
      const arrivals = await s.within(
        Promise.all(Array.from({ length: P }, () => b.wait(HANG_MS))),
        HANG_MS + 1000,
        `round ${round}: a full cycle after reset()`,
      );
      expect(arrivals.sort()).toEqual(Array.from({ length: P }, (_, i) => i));
      s.report(`round ${round}: party ${victim} ${stop ? 'stopped' : 'killed'}${early ? ' (the barrier had timed out early)' : ''}`);
    }
  });

  it('Condition: waiters SIGKILLed while waiting and after being notified: each notify(1) wakes exactly one live waiter; timeouts are honoured', async () => {
    const s = schedule('condition');
    const C = t.C as Record<string, number>;
    const cond = new Condition();
    const timedCond = new Condition();
    const W = 4;
    const TIMED_MS = 500;
    let notifies = 0;
    let passedOn = 0;
    let kills = 0;
    for (let round = 0; round < CONDITION_ROUNDS; round++) {
      const sh = RawArray('i', 64);
      const waiters = Array.from({ length: W }, (_, slot) => run(t.condWaiter, cond, sh, slot, 600_000, s.chance(0.5)));
      // Meanwhile, on another Condition, two waiters with a timeout; one is
      // killed at a random instant: the other returns at its timeout.
      const timedSh = RawArray('i', 64);
      const timed = [0, 1].map((slot) => run(t.condWaiter, timedCond, timedSh, slot, TIMED_MS, s.chance(0.5)));
      const timedVictim = s.int(0, 1);
      const timedDelay = s.int(0, 400);
      const timedPart = (async () => {
        // At a random instant: before, while or after they arrive.
        await new Promise((resolve) => setTimeout(resolve, timedDelay));
        timed[timedVictim].kill();
        await s.within(Promise.all(timed.map((p) => p.join())), HANG_MS, `round ${round}: the timed waiters end`);
      })();

      // A waiter counts its arrival under the lock, then wait() releases it:
      // once all have, all are inside wait().
      await s.until(() => Atomics.load(sh.view, C.arrivals) === W, BOOT_MS, `round ${round}: every waiter waits`);
      // ... and the last one has released the lock (a waiter killed holding
      // it would wake another up holding it: a wake no notify(1) made).
      await s.within(cond.acquire(), HANG_MS, "this process gets the condition's lock");
      cond.release();
      const live = new Set(waiters.keys());
      for (let k = s.int(1, 2); k > 0; k--) {
        const victim = s.pick([...live]);
        waiters[victim].kill();
        await s.within(waiters[victim].join(), HANG_MS, 'a killed waiter is reaped');
        live.delete(victim);
        kills++;
      }
      let woken = Atomics.load(sh.view, C.woke);
      expect(woken).toBe(0);
      while (live.size > 0) {
        let doomed: number | undefined;
        if (live.size >= 2 && s.chance(0.4)) {
          // The oldest live waiter gets the notification, but is stopped and
          // then killed before it can take it: the next one must get it.
          doomed = [...live].sort((a, b) => sh.view[C.order + a] - sh.view[C.order + b])[0]!;
          waiters[doomed].sendSignal('SIGSTOP');
        }
        await s.within(cond.acquire(), HANG_MS, "this process gets the condition's lock");
        cond.notify(1);
        cond.release();
        notifies++;
        if (doomed !== undefined) {
          waiters[doomed].kill();
          await s.within(waiters[doomed].join(), HANG_MS, 'a killed waiter is reaped');
          live.delete(doomed);
          kills++;
          passedOn++;
        }
        woken++;
        const wokeNow = (): number[] => [...live].filter((i) => Atomics.load(sh.view, C.result + i) !== 0);
        await s.until(() => wokeNow().length > 0, HANG_MS, `round ${round}: notify(1) #${woken} wakes a live waiter`);
        const [one, ...more] = wokeNow();
        expect(more, `round ${round}: waiters woken by notify(1) #${woken} besides waiter ${one}`).toEqual([]);
        expect(Atomics.load(sh.view, C.woke), `round ${round}: waits that returned true after ${woken} notify(1)`).toBe(woken);
        await s.within(waiters[one].join(), HANG_MS, 'a woken waiter returns');
        expect(waiters[one].exitCode).toBe(0);
        live.delete(one);
      }
      await timedPart;
      const survivor = 1 - timedVictim;
      expect(timed[survivor].exitCode).toBe(0);
      // Timed out, or (the victim died holding the lock) woke up holding it.
      expect([2, 3], 'the surviving timed waiter: 2 = timed out, 3 = took the lock over').toContain(
        Atomics.load(timedSh.view, C.result + survivor),
      );
      expect(Atomics.load(timedSh.view, C.woke), 'timed waiters woken by a notify nobody made').toBe(0);
      const results = waiters.map((_, i) => Atomics.load(sh.view, C.result + i));
      expect(
        results.filter((r) => r !== 0 && r !== 1),
        'waiters that timed out or woke taking a lock over',
      ).toEqual([]);
      kills++;
    }
    s.report(`${notifies} notify(1), ${passedOn} passed on from a killed waiter, ${kills} waiters killed`);
  });

  it('the resource tracker: its active, its backup or both SIGKILLed while a program and its children create and drop objects: once the program ends, nothing of its tag is left', async () => {
    const s = schedule('tracker');
    for (let round = 0; round < TRACKER_ROUNDS; round++) {
      const faults: string[] = [];
      const program: Child = startNode(['--expose-gc', fixture('soak-tracker-program.mjs')]);
      let tag: string | undefined;
      try {
        const [, t36, pids] = await s.within(program.line(/^tag (\w+) pids (\S+)/), BOOT_MS, 'the program and its children make objects');
        tag = t36!;
        const theTag = tag;
        const state = (): string =>
          `trackers ${JSON.stringify(trackersOf(theTag))}; ${objectsOf(theTag).length} objects of tag ${theTag}; ` +
          `program pids ${pids}; program stderr: ${program.stderr().slice(-2000)}`;
        for (let k = 0; k < TRACKER_FAULTS; k++) {
          await s.pause(20, 150);
          const which = s.pick(['active', 'backup', 'both'] as const);
          faults.push(which);
          const now = trackersOf(tag);
          const victims = which === 'active' ? now.active : which === 'backup' ? now.backup : [...now.active, ...now.backup];
          if (which === 'both')
            killTrackerGroups(victims); // with a backup being forked that we cannot see yet
          else for (const pid of victims) process.kill(pid, 'SIGKILL');
          // The survivor takes over and starts a new partner; after both,
          // the next registration (they never stop) starts a new pair.
          await s.until(
            () => {
              const after = trackersOf(theTag);
              const all = [...after.active, ...after.backup];
              return after.active.length > 0 && after.backup.length > 0 && !victims.some((v) => all.includes(v));
            },
            HANG_MS,
            `round ${round}: the program has a pair of trackers again after its ${which} was killed`,
            state,
          );
        }
        const ending = s.pick(['exit', 'SIGKILL'] as const);
        faults.push(`then ${ending}`);
        if (ending === 'exit') program.proc.stdin!.write('exit\n');
        else program.proc.kill('SIGKILL');
        const code = await s.within(program.exited, HANG_MS, `round ${round}: the program ends (${ending})`, state);
        expect(code, `the program's exit (${ending}); stderr: ${program.stderr()}`).toBe(ending === 'exit' ? 0 : -9);
        if (ending === 'exit') expect(program.stdout()).toContain('exit codes 0,0');
        await s.until(
          () => trackersOf(theTag).active.length + trackersOf(theTag).backup.length === 0,
          HANG_MS,
          `round ${round}: the program's trackers exit once it has ended`,
          state,
        );
        s.report(`round ${round}: ${faults.join(', ')}`);
        if (faults.includes('both')) {
          // Both trackers killed at once: the objects of processes that
          // registered nothing afterwards are nobody's to remove at the end
          // (README, Nothing leaks): `multiproc clean` removes them then,
          // since no tracker of the program lives and no process uses them.
          const kept = cleanOrphansOf(tag);
          expect(kept, `round ${round}: objects clean would keep after ${faults.join(', ')}`).toEqual([]);
        }
        const left = objectsOf(tag).map((o) => `${o.name} (${o.type})`);
        expect(
          left.length,
          `round ${round}: objects of the program's tag left in /dev/shm after ${faults.join(', ')}: ${left.join(', ')}`,
        ).toBe(0);
      } finally {
        if (program.proc.exitCode === null && program.proc.signalCode === null) {
          program.proc.kill('SIGKILL');
          await program.exited;
        }
        if (tag !== undefined) removeObjectsOf(tag); // what a failure left
      }
    }
  });

  it('the main process: a program whose daemon children use a queue and a lock is SIGKILLed (or stopped, then killed) at a random instant: its children die, nothing of its tag is left', async () => {
    const s = schedule('main');
    for (let round = 0; round < MAIN_ROUNDS; round++) {
      const program: Child = startNode([fixture('soak-main-program.mjs')]);
      let tag: string | undefined;
      try {
        const [, t36, list] = await s.within(program.line(/^ready (\w+) (\S+)/), BOOT_MS, "the program's processes get going");
        tag = t36!;
        const theTag = tag;
        const pids = list.split(',').map(Number);
        const starts = pids.map(startTime);
        expect(
          starts.every((x) => x !== undefined),
          `every process of the program runs: ${list}`,
        ).toBe(true);
        const state = (): string =>
          `pids ${pids} running: ${pids.map((p, i) => stillRuns(p, starts[i]))}; ` +
          `trackers ${JSON.stringify(trackersOf(theTag))}; ${objectsOf(theTag).length} objects; stderr: ${program.stderr().slice(-2000)}`;
        await s.pause(0, 300);
        const stopFirst = s.chance(0.3);
        s.report(`round ${round}: ${stopFirst ? 'stopped, then killed' : 'killed'}`);
        if (stopFirst) {
          program.proc.kill('SIGSTOP');
          await s.pause(10, 100);
        }
        program.proc.kill('SIGKILL');
        expect(await s.within(program.exited, HANG_MS, 'the main process dies', state)).toBe(-9);
        await s.until(
          () => pids.every((p, i) => !stillRuns(p, starts[i])),
          HANG_MS,
          `round ${round}: every daemon child (and grandchild) dies with its parent`,
          state,
        );
        await s.until(
          () => trackersOf(theTag).active.length + trackersOf(theTag).backup.length === 0,
          HANG_MS,
          `round ${round}: the program's trackers exit`,
          state,
        );
        const left = objectsOf(tag).map((o) => `${o.name} (${o.type})`);
        expect(left.length, `round ${round}: objects of the killed program left in /dev/shm: ${left.join(', ')}`).toBe(0);
        expect(program.stderr(), 'the program printed no error').toBe('');
      } finally {
        if (program.proc.exitCode === null && program.proc.signalCode === null) {
          program.proc.kill('SIGKILL');
          await program.exited;
        }
        if (tag !== undefined) removeObjectsOf(tag);
      }
    }
  });

  it.skipIf(!canForcePids())(
    'forced pid reuse: holders of a Lock, an RLock, a Condition, a Barrier and a queue die and strangers get their pids: the others still take over',
    async () => {
      const s = schedule('pid-reuse');
      const strangers: ChildProcess[] = [];
      const stranger = async (pid: number): Promise<boolean> => {
        const p = await reusePid(pid);
        if (p) strangers.push(p);
        return p !== undefined;
      };
      const done: string[] = [];
      let reused = 0;
      try {
        for (let round = 0; round < PID_REUSE_ROUNDS; round++) {
          const kind = s.pick(['Lock', 'RLock', 'Condition', 'Barrier', 'Queue'] as const);
          const form = s.pick(['sync', 'async', 'child'] as const);
          const what = `round ${round}: ${kind}, ${form}`;
          if (kind === 'Barrier') {
            const b = new Barrier(3);
            const arrived = new Event();
            const p = run(t.arriveAndWait, b, arrived);
            await s.until(() => b.nWaiting === 1, BOOT_MS, `${what}: the party arrives`);
            p.kill();
            await s.within(p.join(), HANG_MS, `${what}: the party is reaped`);
            if (await stranger(p.pid!)) reused++;
            await expect(s.within(b.wait(600_000), HANG_MS, `${what}: a wait sees the dead party`)).rejects.toThrow(BrokenBarrierError);
            b.reset();
            const arrivals = await s.within(
              Promise.all([0, 1, 2].map(() => b.wait(HANG_MS))),
              HANG_MS + 1000,
              `${what}: a full cycle after reset()`,
            );
            expect(arrivals.sort()).toEqual([0, 1, 2]);
          } else if (kind === 'Queue') {
            // A producer killed at a random instant: perhaps inside the ring's lock.
            const before = objectsNow();
            const q = new Queue(4, { capacityBytes: 512 });
            const marks = RawArray('i', 2);
            const stop = new Event();
            const p = run(form === 'async' ? t.produceAsync : t.produceSync, q, marks, 0, ITEM_CAP, stop);
            await s.until(() => marks.view[1] > 0, BOOT_MS, `${what}: the producer puts`);
            const got: number[] = [];
            for (let k = s.int(0, 20); k > 0; k--)
              got.push(((await s.within(q.get({ timeout: HANG_MS }), HANG_MS, `${what}: a get`)) as { i: number }).i);
            p.kill();
            await s.within(p.join(), HANG_MS, `${what}: the producer is reaped`);
            if (await stranger(p.pid!)) reused++;
            for (;;) {
              try {
                got.push((q.getNowait() as { i: number }).i);
              } catch (e) {
                if (e instanceof Empty) break;
                throw e;
              }
            }
            const returned = marks.view[1];
            const started = marks.view[0];
            expect(got.slice(0, returned), `${what}: every item whose put returned, once, in order`).toEqual(
              Array.from({ length: returned }, (_, i) => i),
            );
            expect(got.length, `${what}: at most the one put cut short besides`).toBeLessThanOrEqual(started);
            q.putSync('after');
            expect(await s.within(q.get({ timeout: HANG_MS }), HANG_MS, `${what}: the queue works`)).toBe('after');
            await expectNoStrays(s, before, what);
          } else {
            const obj = kind === 'Lock' ? new Lock() : kind === 'RLock' ? new RLock() : new Condition();
            const lock = obj instanceof Condition ? obj.lock : obj;
            const p = run(obj instanceof Condition ? t.dieHoldingCondition : t.dieHolding, obj);
            await s.within(p.join(), HANG_MS, `${what}: the holder takes it and dies`);
            expect(p.exitCode).toBe(-9);
            expect(lock.locked()).toBe(true);
            if (await stranger(p.pid!)) reused++;
            let got: boolean;
            let died: boolean;
            if (form === 'child') {
              const res = RawArray('i', 2);
              const c = run(t.acquireAndReport, obj, res, s.chance(0.5));
              await s.within(c.join(), HANG_MS, `${what}: a child takes it over`);
              expect(c.exitCode).toBe(0);
              [got, died] = [res.view[0] === 1, res.view[1] === 1];
            } else {
              got =
                form === 'sync'
                  ? obj.acquireSync({ timeout: HANG_MS })
                  : await s.within(obj.acquire({ timeout: HANG_MS }), HANG_MS + 1000, `${what}: taken over`);
              died = lock.ownerDied;
              if (got) obj.release();
            }
            expect(got, `${what}: the lock is taken over`).toBe(true);
            expect(died, `${what}: ownerDied`).toBe(true);
            expect(lock.locked()).toBe(false);
          }
          done.push(`${kind}/${form}`);
        }
      } finally {
        for (const p of strangers) {
          p.kill('SIGKILL');
          if (p.exitCode === null && p.signalCode === null) await new Promise((resolve) => p.once('exit', resolve));
        }
      }
      s.report(`${done.join(', ')}; ${reused} pids reused`);
      expect(reused, "rounds where a stranger got the dead holder's pid (the machine was too busy for any?)").toBeGreaterThan(0);
    },
  );
});

// What the soak found in the library, reduced to deterministic tests. They
// fail until the library is fixed (the soak scenario above fails now and
// then for the same reason).
describe('found by the soak', () => {
  // A stopped process, with its identity, as if it had stopped holding an internal lock.
  async function stoppedProcess(): Promise<{ pid: number; stamp: number; release: () => Promise<void> }> {
    const p = run(t.idle);
    await new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + BOOT_MS;
      const check = (): void => {
        try {
          stampOf(p.pid!);
          resolve();
        } catch (e) {
          if (Date.now() > deadline) reject(e);
          else setTimeout(check, 5);
        }
      };
      check();
    });
    const stamp = stampOf(p.pid!);
    p.sendSignal('SIGSTOP');
    return {
      pid: p.pid!,
      stamp,
      release: async () => {
        p.kill();
        p.sendSignal('SIGCONT');
        await p.join();
      },
    };
  }

  // Soak: a party SIGSTOPped while arriving (inside the barrier's internal
  // lock) kept the other parties' wait(750) pending for ever. When a wait's
  // deadline passes, it breaks the barrier under the internal lock taken
  // with no deadline (barrier.ts: #critical(Infinity, () => #giveUp(...)),
  // and #criticalSync(Infinity, ...) in waitSync), so it waits as long as
  // the stopped holder stays stopped.
  it('Barrier: a wait already waiting honours its timeout when another process then stops holding the internal lock (async and sync; found by the soak)', async () => {
    const s = schedule('finding-barrier-timeout');
    for (const form of ['async', 'sync'] as const) {
      const b = new Barrier(3);
      const res = RawArray('i', 1);
      let pending: Promise<string> | undefined;
      let child: Process | undefined;
      if (form === 'async') {
        pending = b.wait(300).then(
          () => 'resolved',
          (e: Error) => `rejected ${e.name}`,
        );
      } else {
        child = run(t.waitSyncOnce, b, res, 300);
      }
      await s.until(() => b.nWaiting === 1, BOOT_MS, `the ${form} waiter arrives`);
      const holder = await stoppedProcess();
      writeOwner(`/dev/shm/${nameOf(b)}`, 1024, holder.pid, holder.stamp); // BARRIER.lock, as in stopped-holder.test.ts
      try {
        if (form === 'async') {
          expect(await s.within(pending!, 10_000, 'wait(300) settles while a stopped process holds the internal lock')).toBe(
            'rejected BrokenBarrierError',
          );
        } else {
          await s.within(child!.join(), 10_000, 'waitSync(300) returns while a stopped process holds the internal lock');
          expect(res.view[0]).toBe(1);
        }
      } finally {
        await holder.release(); // the dead holder's lock is taken over: what was pending settles
        await pending;
        await child?.join();
        b.reset();
      }
    }
  });

  // Found by the soak: after both trackers of a program were SIGKILLed, a
  // child that made objects earlier and registered nothing since left them
  // in /dev/shm when the program ended. tracker.cc send_locked(): the
  // process whose send fails starts a new pair and re-registers only what it
  // registered itself; the other processes keep the dead pair's client end.
  // A new pair cannot be handed to them, so this is the documented limit of
  // "both killed at once" (README, Nothing leaks): what is left is an orphan
  // (no tracker, no user) that `multiproc clean` removes.
  it('after both trackers are killed, what a child that registers nothing more made is left to `multiproc clean`, which removes it once the program ended', async () => {
    const s = schedule('finding-tracker-both');
    const program = startNode([fixture('soak-quiet-child.mjs')]);
    let tag: string | undefined;
    try {
      const [, t36, suffix] = await s.within(program.line(/^ready (\w+) ([0-9a-f]{8})/), BOOT_MS, 'the program and its child make objects');
      tag = t36!;
      const theTag = tag;
      const segment = objectsOf(tag).find((o) => o.name.endsWith(suffix));
      expect(segment, "the child's segment").toBeDefined();
      killTrackerGroups(trackerProcesses(tag));
      await s.until(() => trackerProcesses(theTag).length === 0, HANG_MS, 'both trackers are dead');
      program.proc.stdin!.write('make\n'); // the main process's send fails: it starts a new pair
      await s.within(program.line(/^made/), HANG_MS, 'the main process makes a segment');
      program.proc.stdin!.write('exit\n');
      expect(await s.within(program.exited, HANG_MS, 'the program exits')).toBe(0);
      await s.until(() => trackerProcesses(theTag).length === 0, HANG_MS, 'the new trackers exit');
      // The main process's own objects went with its new pair; the child's
      // are orphans now (no tracker, no user), which clean removes.
      expect(cleanOrphansOf(tag), 'objects clean would keep').toEqual([]);
      expect(
        objectsOf(tag).map((o) => o.name),
        'objects of the program left in /dev/shm',
      ).toEqual([]);
    } finally {
      if (program.proc.exitCode === null && program.proc.signalCode === null) {
        program.proc.kill('SIGKILL');
        await program.exited;
      }
      if (tag !== undefined) removeObjectsOf(tag);
    }
  });

  // Found by the soak: after the Queue and JoinableQueue runs, side segments (items too
  // big for the ring) that no process mapped were left in /dev/shm, until
  // the program's end. encoding.ts toSide() makes the item's segment before
  // the put takes the ring (and waits for room); a producer killed from
  // then until its record is in the ring leaves a segment whose name only
  // it knew. (A consumer killed between taking such a record and
  // fromSide()'s unlink does the same, with the item it took.) The tracker
  // removes them only when the whole program ends: a long-running program
  // whose workers get killed accumulates them.
  it('a producer killed while its put of an item too big for the ring waits for room leaves no side segment behind (was: one per killed producer)', async () => {
    const s = schedule('finding-side-segment');
    const before = objectsNow();
    const q = new Queue(1, { capacityBytes: 1024 });
    q.putSync('first'); // full: the next put waits for room
    const waiting = new Event();
    const p = run(t.putBigWhenFull, q, waiting, 4096);
    expect(await s.within(waiting.wait(BOOT_MS), BOOT_MS + 1000, 'the producer starts its put')).toBe(true);
    await s.pause(100, 200); // inside put(), waiting for room: its side segment is made only once there is room
    expect(listSharedObjects().filter((o) => o.type === 'QueueItem' && !before.has(o.name))).toEqual([]);
    p.kill();
    await s.within(p.join(), HANG_MS, 'the producer is reaped');
    expect(q.getSync({ timeout: HANG_MS })).toBe('first');
    expect(q.empty()).toBe(true);
    await expectNoStrays(s, before, 'a producer killed waiting to put a big item');
  });
});
