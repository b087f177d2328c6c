// A Pool whose tasks run on other machines: each task is a BullMQ job on a
// Redis queue, taken by `npx multiproc worker` hosts (worker_host.ts). The
// pool's calls (apply, map, imap ... pool/) are the local pool's; this is
// only their backend (pool/backend.ts). Outcomes come back on the queue's
// event stream (QueueEvents); every job is removed from Redis once it is done.
import { randomUUID } from 'node:crypto';
import { WorkerLostError, codedError } from '../base/errors';
import { checkKeys, describe } from '../base/validate';
import { fromWire } from '../base/remote_error';
import { getLogger } from '../base/logging';
import { registerBackend, type Backend } from '../pool/backend';
import { describeTask } from '../pool/outcomes';
import { moduleUrl } from '../base/modules';
import type { CallSink, Task } from '../pool/task';
import {
  DEFAULT_MAX_PAYLOAD,
  DEFAULT_QUEUE,
  JOB_VERSION,
  abortChannel,
  decodeValue,
  encodeValue,
  loadBullmq,
  loadIoredis,
  parseFailure,
  redisOptions,
  withDeadline,
  type JobData,
} from './jobs';

export interface BullmqBackendOptions {
  type: 'bullmq';
  /** redis://[user:password@]host:port[/db] or rediss:// (TLS), or ioredis options. */
  connection: string | URL | Record<string, unknown>;
  /** The BullMQ queue the worker hosts take from (default 'multiproc'). */
  queue?: string;
  /** BullMQ's key prefix (default 'bull'). */
  prefix?: string;
  /** The largest serialized payload of a task (default 16 MiB). */
  maxPayloadBytes?: number;
  /** BullMQ's event stream keeps about this many entries (default 10 000; ~4 per job): a pool further behind misses outcomes, and then adds those jobs again. */
  eventsMaxLen?: number;
  /** How long the pool waits for Redis at first, ms (default 10 s): then its calls fail. */
  connectTimeout?: number;
}

declare module '../pool/options' {
  interface BackendTypes {
    bullmq: BullmqBackendOptions;
  }
}

type Bullmq = ReturnType<typeof loadBullmq>;

// join(): how long closing the connections may wait for Redis before they are cut.
const CLOSE_WAIT_MS = 5000;
// How long the outcome of a job cancelled while it ran is watched for (to delete its entry in the event stream).
const DROPPED_KEEP_MS = 10 * 60_000;
// How often a pool with tasks out looks for worker hosts on its queue, and how often it repeats that there are none.
const HOST_CHECK_MS = 2000;
const NO_HOST_REPEAT_MS = 30_000;
// The most jobs one check looks for in Redis (the oldest first).
const LOST_CHECK_MAX = 10_000;
// The pool's marker key lives this long after the last reconnection (a pool that died leaves it that long).
const MARKER_TTL_MS = 7 * 24 * 3600 * 1000;

class BullmqBackend implements Backend {
  #queue: InstanceType<Bullmq['Queue']> | undefined;
  #events: InstanceType<Bullmq['QueueEvents']> | undefined;
  readonly #where: string;
  readonly #queueName: string;
  readonly #maxPayload: number;
  readonly #ready: Promise<void>;
  readonly #jobs = new Map<string, Task>(); // jobs added and not done
  readonly #data = new Map<string, JobData>(); // what each was added with (added again if Redis loses it)
  // Jobs added: the stream's last entry when a check first found the job gone from Redis (undefined: there).
  readonly #inRedis = new Map<string, string | undefined>();
  #readUpTo = '0-0'; // the last event-stream entry the reader has handed on
  readonly #jobKey: string; // a job's key is this and its id
  readonly #marker: string; // a key of this pool's: gone after a reconnection means Redis lost its data
  readonly #byTask = new Map<Task, string>();
  readonly #abortChannel: string;
  readonly #eventsKey: string;
  // Entries of the event stream that carried this pool's outcomes (results), deleted in batches.
  #readEvents: string[] = [];
  #trimming: NodeJS.Timeout | undefined;
  readonly #adding = new Map<string, Promise<boolean>>(); // jobs whose add is under way: whether it was added
  readonly #dropped = new Map<string, number>(); // jobs cancelled while they ran: their outcome's entry is deleted too
  readonly #chores = new Set<Promise<unknown>>(); // removals and stop requests not yet sent: join() waits for them
  readonly #live = new Set<CallSink>();
  #state: 'open' | 'closing' | 'terminated' = 'open';
  #failed: Error | undefined;
  #idle: (() => void)[] = [];
  #reached = false;
  #lastError: Error | undefined; // the connections' last error: the reason given when Redis cannot be reached
  #teardown: Promise<void> | undefined;
  readonly #module: string | undefined; // the pool's module: the only one whose exports the hosts run
  readonly #processes: number; // the hosts' processes in all (the pool's size): jobs beyond them wait
  readonly #redis: InstanceType<ReturnType<typeof loadIoredis>>[];

  constructor(options: Record<string, unknown>, pool: { processes: number; module: string | URL | undefined }) {
    checkKeys(
      options,
      ['type', 'connection', 'queue', 'prefix', 'maxPayloadBytes', 'connectTimeout', 'eventsMaxLen'],
      "Pool backend 'bullmq'",
    );
    const o = options as unknown as BullmqBackendOptions;
    const connection = redisOptions(o.connection, "Pool backend 'bullmq'");
    if (o.prefix !== undefined && (typeof o.prefix !== 'string' || o.prefix === ''))
      throw new TypeError(`Pool backend 'bullmq': prefix must be a non-empty string, got ${describe(o.prefix)}`);
    this.#module = poolModule(pool.module);
    this.#processes = pool.processes;
    const name = o.queue ?? DEFAULT_QUEUE;
    if (typeof name !== 'string' || name === '' || name.includes(':'))
      throw new TypeError(`Pool backend 'bullmq': queue must be a non-empty name without ':', got ${describe(name)}`);
    this.#maxPayload = o.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD;
    if (!Number.isInteger(this.#maxPayload) || this.#maxPayload < 1024)
      throw new TypeError(`Pool backend 'bullmq': maxPayloadBytes must be an integer >= 1024, got ${describe(o.maxPayloadBytes)}`);
    const limit = o.connectTimeout ?? 10_000;
    if (typeof limit !== 'number' || !(limit > 0) || !Number.isFinite(limit))
      throw new TypeError(`Pool backend 'bullmq': connectTimeout must be a finite number of ms > 0, got ${describe(limit)}`);
    const eventsMaxLen = o.eventsMaxLen;
    if (eventsMaxLen !== undefined && (!Number.isInteger(eventsMaxLen) || eventsMaxLen < 1))
      throw new TypeError(`Pool backend 'bullmq': eventsMaxLen must be a positive integer, got ${describe(eventsMaxLen)}`);
    const { Queue, QueueEvents } = loadBullmq();
    const Redis = loadIoredis();
    // Connections of our own, given to BullMQ: cut at once when Redis is not there (BullMQ's close waits for it).
    const redisOptionsFull = { ...connection, maxRetriesPerRequest: null };
    const redis = [new Redis(redisOptionsFull), new Redis(redisOptionsFull)];
    this.#redis = redis;
    for (const r of redis) {
      r.on('error', (e: Error) => this.#connectionError(e));
      // A clean close (Redis stopped) is no error to ioredis: it is one to the calls waiting.
      r.on('close', () => this.#teardown === undefined && this.#connectionError(new Error('the connection to Redis closed'), false));
    }
    const keys = `${o.prefix ?? 'bull'}:${name}:`; // BullMQ's keys of the queue begin so
    const eventsKey = `${keys}events`;
    this.#eventsKey = eventsKey;
    this.#jobKey = keys;
    const marker = `${keys}multiproc-pool:${randomUUID()}`;
    this.#marker = marker;
    this.#abortChannel = abortChannel(o.prefix, name);
    this.#where = `${String(connection.host)}:${String(connection.port)} queue ${name}`;
    this.#queueName = name;
    // Not reachable at first: the pool's calls fail (later, a lost connection is retried and calls resume).
    // BullMQ's objects are made only once Redis answers: their connections, once made, wait for it for ever.
    this.#ready = (async () => {
      await withDeadline(
        Promise.all(redis.map((r) => r.ping())),
        limit,
        () => new Error(`no answer within ${limit} ms${this.#lastError ? ` (${this.#lastError.message})` : ''}`),
      );
      // Closed meanwhile: BullMQ's objects are not made (their connections would outlive the pool).
      const closedMeanwhile = (): void => {
        if (this.#teardown) throw codedError('ERR_MP_POOL_CLOSED', 'the pool was closed before it reached Redis');
      };
      closedMeanwhile();
      await redis[0].set(marker, '1', 'PX', MARKER_TTL_MS);
      closedMeanwhile();
      redis[0].on('ready', () => void this.#reconnected());
      this.#queue = new Queue(name, {
        prefix: o.prefix,
        connection: redis[0],
        ...(eventsMaxLen !== undefined ? { streams: { events: { maxLen: eventsMaxLen } } } : {}),
      });
      // The event stream is read from its last entry now: BullMQ's default ('$', "from the first read") would miss the
      // outcomes of jobs done before its first read is under way.
      const last = await redis[1].xrevrange(eventsKey, '+', '-', 'COUNT', 1);
      closedMeanwhile();
      this.#readUpTo = last[0]?.[0] ?? '0-0';
      this.#events = new QueueEvents(name, { prefix: o.prefix, connection: redis[1], lastEventId: this.#readUpTo });
      // Where the reader is (each event's entry id comes last among its listener's arguments): see #checkLost.
      const events = this.#events as unknown as { on(kind: string, fn: (...args: unknown[]) => void): void };
      for (const kind of STREAM_EVENTS) events.on(kind, (...args: unknown[]) => void (this.#readUpTo = args[args.length - 1] as string));
      this.#queue.on('error', (e: Error) => this.#connectionError(e));
      this.#events.on('error', (e: Error) => this.#connectionError(e));
      this.#events.on('completed', ({ jobId, returnvalue }, event: string) => {
        if (this.#jobs.has(jobId) || this.#dropped.delete(jobId)) this.#read(event);
        this.#completed(jobId, returnvalue);
      });
      this.#events.on('failed', ({ jobId, failedReason }, event: string) => {
        if (this.#jobs.has(jobId) || this.#dropped.delete(jobId)) this.#read(event);
        this.#failedJob(jobId, failedReason);
      });
      await Promise.all([this.#events.waitUntilReady(), this.#queue.waitUntilReady()]);
      closedMeanwhile();
      this.#reached = true;
      this.#watch = setInterval(() => void this.#check(), HOST_CHECK_MS).unref();
    })();
    this.#ready.catch((e: unknown) => {
      if (this.#teardown === undefined) this.terminate(this.#unreachable(e));
    });
  }

  #unreachable(e: unknown): Error {
    return codedError('ERR_MP_POOL_CLOSED', `the pool cannot reach Redis at ${this.#where}: ${(e as Error).message}`, {
      cause: this.#lastError ?? e,
    });
  }

  // Redis came back. Its data kept (persistence): jobs and their outcomes are where they were. Lost (a restart
  // without persistence, a failover to an empty replica): the jobs not done are added again, under their ids.
  #markerSet = Date.now();
  async #reconnected(): Promise<void> {
    if (!this.#reached || this.#state === 'terminated') return;
    try {
      const redis = this.#redis[0];
      this.#markerSet = Date.now();
      if ((await redis.exists(this.#marker)) === 1) return void (await redis.pexpire(this.#marker, MARKER_TTL_MS));
      await redis.set(this.#marker, '1', 'PX', MARKER_TTL_MS);
      const lost = [...this.#data];
      getLogger().warn(`pool (bullmq ${this.#where}): Redis came back without its data; adding its ${lost.length} unfinished job(s) again`);
      await Promise.all(lost.map(([id, data]) => this.#add(id, data)));
    } catch {
      // Gone again: the next 'ready' checks again.
    }
  }

  #add(id: string, data: JobData): Promise<unknown> {
    return this.#queue!.add(data.fn, data, {
      jobId: id,
      removeOnComplete: true,
      removeOnFail: true,
      // Deaths of the host's worker process a task may survive (a thrown error is its result: not retried).
      attempts: 1 + (this.#jobs.get(id)?.sink.retries ?? 0),
    });
  }

  // Tasks waiting on a queue no worker host takes from would wait for ever, silently: say so.
  #watch: NodeJS.Timeout | undefined;
  #warnedNoHost = 0;
  #noHostBefore = false;
  #checking = false;
  async #check(): Promise<void> {
    const now = Date.now();
    for (const [id, at] of this.#dropped) if (now - at > DROPPED_KEEP_MS) this.#dropped.delete(id);
    if (this.#checking || this.#jobs.size === 0 || this.#state === 'terminated') return;
    this.#checking = true;
    try {
      await this.#checkHosts();
      await this.#checkLost();
    } finally {
      this.#checking = false;
    }
  }

  // An outcome can be lost: the event stream is trimmed to its length (eventsMaxLen) and a pool that fell further
  // behind (its event loop blocked, a flood of jobs) never reads some; or someone deleted the jobs, or an older
  // snapshot of Redis came back. A job whose key is gone finished (or vanished) before that check: its outcome, if
  // any, is in the stream at or before the stream's last entry then. Once the reader has passed that entry without
  // handing the outcome on, it is lost, and the job is added again (it runs again: at least once). A reader that is
  // merely behind (large results, a slow link) is waited for.
  async #checkLost(): Promise<void> {
    const ids = [...this.#inRedis.keys()].slice(0, LOST_CHECK_MAX);
    if (ids.length === 0) return;
    try {
      const pipe = this.#redis[0].pipeline();
      pipe.xrevrange(this.#eventsKey, '+', '-', 'COUNT', 1);
      for (const id of ids) pipe.exists(this.#jobKey + id);
      const found = (await pipe.exec()) ?? [];
      const tip = ((found[0]?.[1] as [string, string[]][] | undefined) ?? [])[0]?.[0] ?? '0-0';
      const lost: string[] = [];
      ids.forEach((id, i) => {
        const [error, exists] = found[i + 1] ?? [];
        if (error || !this.#inRedis.has(id)) return;
        const goneAt = this.#inRedis.get(id);
        if (exists === 1) this.#inRedis.set(id, undefined);
        else if (goneAt === undefined) this.#inRedis.set(id, tip);
        else if (compareIds(this.#readUpTo, goneAt) >= 0) lost.push(id);
      });
      if (lost.length === 0) return;
      getLogger().warn(
        `pool (bullmq ${this.#where}): ${lost.length} job(s) left Redis with their outcome unread (the event stream was trimmed before this pool read it: raise eventsMaxLen; or the jobs were deleted); adding them again`,
      );
      for (const id of lost) this.#inRedis.set(id, undefined);
      await Promise.all(lost.map((id) => this.#add(id, this.#data.get(id)!)));
    } catch {
      // Redis away: the next check looks again.
    }
  }

  async #checkHosts(): Promise<void> {
    let hosts: number;
    try {
      hosts = await this.#queue!.getWorkersCount();
    } catch {
      return; // Redis away (logged as such), or CLIENT LIST not allowed (managed Redis): nothing to tell
    }
    // None at two checks in a row (hosts reconnecting after a Redis restart are not "none").
    const none = hosts === 0 && this.#noHostBefore;
    this.#noHostBefore = hosts === 0;
    if (!none || Date.now() - this.#warnedNoHost < NO_HOST_REPEAT_MS) return;
    const message = `no worker host takes jobs from ${this.#where}: ${this.#jobs.size} task(s) wait (start one: npx multiproc worker --redis URL --queue ${this.#queueName} --module M)`;
    if (this.#warnedNoHost === 0) process.emitWarning(message, { code: 'MULTIPROC_NO_WORKER_HOST' });
    getLogger().warn(`pool (bullmq): ${message}`);
    this.#warnedNoHost = Date.now();
  }

  #lastLog = 0;
  #warnedLost = false;
  #connectionError(e: Error, isError = true): void {
    if (isError) this.#lastError = e; // the reason given if Redis cannot be reached (a close says less)
    if (!this.#reached || this.#state === 'terminated' || this.#teardown !== undefined) return;
    // ioredis reconnects by itself (calls resume): say so, once as a process warning, then at most once a second.
    if (!this.#warnedLost) {
      this.#warnedLost = true;
      process.emitWarning(
        `pool (bullmq ${this.#where}) lost Redis: ${e.message}; reconnecting, and its calls wait (give them a timeout to bound the wait)`,
        { code: 'MULTIPROC_REDIS_LOST' },
      );
    }
    const now = Date.now();
    if (now - this.#lastLog > 1000) {
      this.#lastLog = now;
      getLogger().warn(`pool (bullmq ${this.#where}): ${e.message}; reconnecting`);
    }
  }

  callBegan(call: CallSink): void {
    this.#live.add(call);
  }

  callEnded(call: CallSink): void {
    this.#live.delete(call);
    this.#checkIdle();
  }

  /** Jobs waiting for a host's process (those out beyond the pool's size, which stands for the hosts' processes). */
  get backlog(): number {
    return Math.max(0, this.#jobs.size - this.#processes);
  }

  readonly canBlock = false;

  get pids(): number[] {
    return [];
  }

  submit(task: Task): void {
    if (this.#state === 'terminated') throw this.#failed ?? codedError('ERR_MP_POOL_CLOSED', 'the pool was terminated');
    let data: JobData;
    try {
      if (this.#module !== undefined && task.fn.def[0] !== this.#module)
        throw new TypeError(
          `the bullmq backend runs only exports of the pool's module (${this.#module}, the hosts' --module): ` +
            `${task.fn.def[1]} of ${task.fn.def[0]} cannot run there`,
        );
      data = {
        v: JOB_VERSION,
        fn: task.fn.def[1],
        kind: task.kind,
        payload: encodeValue(task.payload, `the payload of ${describeTask(task)}`, this.#maxPayload, refuseShared),
      };
    } catch (e) {
      task.state = 'done';
      task.sink.taskFailed(task, e as Error);
      return;
    }
    const id = randomUUID();
    this.#jobs.set(id, task);
    this.#data.set(id, data);
    this.#byTask.set(task, id);
    task.state = 'out';
    // Cancelled before it is added: not added at all.
    const adding = this.#ready
      .then(async () => {
        if (!this.#jobs.has(id)) return false;
        await this.#add(id, data);
        return true;
      })
      .then(
        (added) => {
          if (added && this.#jobs.has(id)) this.#inRedis.set(id, undefined);
          return added;
        },
        (e: unknown) => {
          this.#settle(id, (t) =>
            t.sink.taskFailed(
              t,
              this.#reached
                ? codedError('ERR_MP_POOL_CLOSED', `could not add the job to ${this.#where}: ${(e as Error).message}`, { cause: e })
                : this.#unreachable(e),
            ),
          );
          return false;
        },
      )
      .finally(() => this.#adding.delete(id));
    this.#adding.set(id, adding);
  }

  #roomMade(): void {
    if (this.#state === 'terminated') return;
    const waiting = this.#onRoom;
    this.#onRoom = [];
    for (const f of waiting) f();
  }

  #onRoom: (() => void)[] = [];

  whenRoom(limit: number, fn: () => void): void {
    if (this.backlog < limit) fn();
    else this.#onRoom.push(() => this.whenRoom(limit, fn));
  }

  // A job the pool no longer waits for (its outcome came, or its call no longer wants it).
  #forget(id: string, task: Task): void {
    this.#jobs.delete(id);
    this.#data.delete(id);
    this.#inRedis.delete(id);
    this.#byTask.delete(task);
    task.state = 'done';
  }

  #settle(id: string, how: (task: Task) => void): void {
    const task = this.#jobs.get(id);
    if (!task) return;
    this.#forget(id, task);
    if (!task.sink.finished) how(task);
    this.#roomMade();
    this.#checkIdle();
  }

  #completed(id: string, value: unknown): void {
    if (!this.#jobs.has(id)) return;
    let result: unknown;
    try {
      result = decodeValue(value);
    } catch (e) {
      return this.#settle(id, (t) => t.sink.taskFailed(t, e as Error));
    }
    this.#settle(id, (t) => t.sink.taskDone(t, result));
  }

  #failedJob(id: string, reason: string): void {
    if (!this.#jobs.has(id)) return;
    const failure = parseFailure(reason);
    this.#settle(id, (t) => {
      if (failure && 'threw' in failure) return t.sink.taskFailed(t, fromWire(failure.threw, `a worker host of ${this.#where}`));
      // A host's process died holding it (its retries used up), or its host died and BullMQ's stall limit was reached.
      const why = failure && 'lost' in failure ? failure.lost : reason;
      t.sink.taskFailed(
        t,
        new WorkerLostError(`the worker running ${describeTask(t)} was lost: ${why}`, {
          pid: 0,
          exitCode: null,
          signal: null,
          index: t.index,
        }),
      );
    });
  }

  cancel(task: Task, stop: boolean): void {
    const id = this.#byTask.get(task);
    if (!id) return;
    this.#forget(id, task);
    this.#dropped.set(id, Date.now());
    // Waiting: removed. Running on a host: left to finish (its outcome is dropped); `stop` asks the hosts to stop it.
    // Both once its add is done (or skipped: then there is nothing to remove or stop).
    const chore = (this.#adding.get(id) ?? Promise.resolve(true)).then(async (added) => {
      if (!added || !this.#reached) return void this.#dropped.delete(id);
      // Removed if it waits; running, it finishes and its outcome's entry is deleted when read (#dropped).
      await this.#queue!.remove(id).catch(() => {});
      if (stop) await this.#redis[0].publish(this.#abortChannel, id).catch(() => {});
    });
    this.#chores.add(chore);
    void chore.finally(() => this.#chores.delete(chore));
    this.#roomMade();
    this.#checkIdle();
  }

  // An outcome read: its entry in the event stream (which holds the result) goes, soon, with the others read.
  #read(event: string): void {
    this.#readEvents.push(event);
    if (this.#readEvents.length >= 256) void this.#trim();
    else this.#trimming ??= setTimeout(() => void this.#trim(), 50);
  }

  async #trim(): Promise<void> {
    clearTimeout(this.#trimming);
    this.#trimming = undefined;
    const ids = this.#readEvents;
    this.#readEvents = [];
    if (ids.length > 0 && Date.now() - this.#markerSet > MARKER_TTL_MS / 2) {
      this.#markerSet = Date.now();
      void this.#redis[0].pexpire(this.#marker, MARKER_TTL_MS).catch(() => {});
    }
    if (ids.length > 0) await this.#redis[0].xdel(this.#eventsKey, ...ids).catch(() => {});
  }

  pumpSync(): boolean {
    throw new TypeError('a pool with the bullmq backend has no Sync calls (its outcomes arrive over the network): await the async form');
  }

  #checkIdle(): void {
    if (this.#state === 'open' || this.#jobs.size > 0 || this.#live.size > 0) return;
    for (const f of this.#idle.splice(0)) f();
    // Closed and idle: the connections go now, whether or not join() is awaited (they would keep the process alive).
    void this.#tearDown();
  }

  close(): void {
    if (this.#state === 'open') this.#state = 'closing';
    this.#checkIdle();
  }

  terminate(error: Error): void {
    if (this.#state === 'terminated') return;
    this.#state = 'terminated';
    clearInterval(this.#watch);
    this.#failed = error;
    this.#onRoom = []; // calls waiting for room are failed below, not woken
    // Every task is stopped first: failing one may end its call, which drops its other tasks without stopping them.
    const tasks = [...this.#jobs.values()];
    for (const task of tasks) this.cancel(task, true);
    for (const task of tasks) if (!task.sink.finished) task.sink.taskFailed(task, error);
    for (const call of [...this.#live]) call.fail(error);
    this.#checkIdle();
  }

  get closed(): boolean {
    return this.#state !== 'open';
  }

  get failure(): Error | undefined {
    return this.#failed;
  }

  async join(): Promise<void> {
    if (this.#state === 'open') throw new Error('join() before close() or terminate()');
    if (this.#jobs.size > 0 || this.#live.size > 0) await new Promise<void>((r) => this.#idle.push(r));
    await this.#tearDown();
  }

  // Once: the stop requests and removals are sent, the read outcomes deleted, the connections closed. Closing waits
  // for Redis; one that is not there (never reached, or gone now) is waited for only so long.
  #tearDown(): Promise<void> {
    return (this.#teardown ??= (async () => {
      clearInterval(this.#watch);
      const closed = (async () => {
        if (this.#reached) {
          await Promise.allSettled([...this.#chores]);
          await Promise.all([this.#trim(), this.#redis[0].del(this.#marker).catch(() => {})]);
        }
        await Promise.allSettled([this.#events?.close(), this.#queue?.close()]);
        // BullMQ leaves connections it was given open: ours are quit here (or they would reconnect for ever).
        await Promise.allSettled(this.#redis.map((r) => r.quit()));
      })();
      const limit = new Promise<'late'>((r) => setTimeout(() => r('late'), this.#reached ? CLOSE_WAIT_MS : 0).unref());
      if ((await Promise.race([closed, limit])) === 'late') {
        void closed.catch(() => {});
        for (const r of this.#redis) r.disconnect();
        // BullMQ's QueueEvents reads on a copy of the connection it was given: that one goes too (not awaited: a
        // connection already reconnecting never says it ended).
        void Promise.allSettled([this.#events?.disconnect(), this.#queue?.disconnect()]);
      }
    })());
  }
}

// Every kind of event BullMQ writes to the stream (the reader's position is taken from any of them).
const STREAM_EVENTS = [
  'added',
  'waiting',
  'active',
  'completed',
  'failed',
  'drained',
  'progress',
  'delayed',
  'removed',
  'stalled',
  'retries-exhausted',
  'duplicated',
  'deduplicated',
  'debounced',
  'waiting-children',
  'paused',
  'resumed',
  'cleaned',
];

// Stream entry ids ("ms-seq") in order.
function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
}

// The pool's module as the tasks' refs name it (the main script when not given), or undefined if there is none.
function poolModule(module: string | URL | undefined): string | undefined {
  try {
    return moduleUrl(module, 'the task functions');
  } catch (e) {
    if (module !== undefined) throw e;
    return undefined;
  }
}

/** The bullmq backend's payloads go to other machines: shared objects (names of this machine's memory) cannot. */
const refuseShared = (): string => 'it is shared memory of this machine, and a worker host may be on another';

registerBackend('bullmq', (options, pool) => new BullmqBackend(options, pool));
