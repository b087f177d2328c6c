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
  /** How long the pool waits for Redis at first, ms (default 10 s): then its calls fail. */
  connectTimeout?: number;
}

type Bullmq = ReturnType<typeof loadBullmq>;

// join(): how long closing the connections may wait for Redis before they are cut.
const CLOSE_WAIT_MS = 5000;
// How often a pool with tasks out looks for worker hosts on its queue, and how often it repeats that there are none.
const HOST_CHECK_MS = 2000;
const NO_HOST_REPEAT_MS = 30_000;
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
  readonly #marker: string; // a key of this pool's: gone after a reconnection means Redis lost its data
  readonly #byTask = new Map<Task, string>();
  readonly #connection: Record<string, unknown>;
  readonly #abortChannel: string;
  readonly #eventsKey: string;
  // Entries of the event stream that carried this pool's outcomes (results), deleted in batches.
  #readEvents: string[] = [];
  #trimming: NodeJS.Timeout | undefined;
  #abort: InstanceType<ReturnType<typeof loadIoredis>> | undefined;
  readonly #live = new Set<CallSink>();
  #backlog = 0; // tasks handed in whose job is not added yet
  #state: 'open' | 'closing' | 'terminated' = 'open';
  #failed: Error | undefined;
  #idle: (() => void) | undefined;
  #reached = false;
  readonly #redis: InstanceType<ReturnType<typeof loadIoredis>>[];

  constructor(options: Record<string, unknown>) {
    checkKeys(options, ['type', 'connection', 'queue', 'prefix', 'maxPayloadBytes', 'connectTimeout'], "Pool backend 'bullmq'");
    const o = options as unknown as BullmqBackendOptions;
    const connection = redisOptions(o.connection, "Pool backend 'bullmq'");
    const name = o.queue ?? DEFAULT_QUEUE;
    if (typeof name !== 'string' || name === '' || name.includes(':'))
      throw new TypeError(`Pool backend 'bullmq': queue must be a non-empty name without ':', got ${describe(name)}`);
    this.#maxPayload = o.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD;
    if (!Number.isInteger(this.#maxPayload) || this.#maxPayload < 1024)
      throw new TypeError(`Pool backend 'bullmq': maxPayloadBytes must be an integer >= 1024, got ${describe(o.maxPayloadBytes)}`);
    const limit = o.connectTimeout ?? 10_000;
    if (typeof limit !== 'number' || !(limit > 0))
      throw new TypeError(`Pool backend 'bullmq': connectTimeout must be ms > 0, got ${describe(limit)}`);
    const { Queue, QueueEvents } = loadBullmq();
    const Redis = loadIoredis();
    // Connections of our own, given to BullMQ: cut at once when Redis is not there (BullMQ's close waits for it).
    const redisOptionsFull = { ...connection, maxRetriesPerRequest: null };
    const redis = [new Redis(redisOptionsFull), new Redis(redisOptionsFull)];
    this.#redis = redis;
    for (const r of redis) r.on('error', () => {}); // the queue's own 'error' events are the ones logged
    const eventsKey = `${o.prefix ?? 'bull'}:${name}:events`;
    this.#eventsKey = eventsKey;
    const marker = `${o.prefix ?? 'bull'}:${name}:multiproc-pool:${randomUUID()}`;
    this.#marker = marker;
    this.#connection = redisOptionsFull;
    this.#abortChannel = abortChannel(o.prefix, name);
    this.#where = `${String(connection.host)}:${String(connection.port)} queue ${name}`;
    this.#queueName = name;
    // Not reachable at first: the pool's calls fail (later, a lost connection is retried and calls resume).
    // BullMQ's objects are made only once Redis answers: their connections, once made, wait for it for ever.
    this.#ready = (async () => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${limit} ms`)), limit);
      });
      try {
        await Promise.race([Promise.all(redis.map((r) => r.ping())), late]);
      } finally {
        clearTimeout(timer);
      }
      await redis[0].set(marker, '1', 'PX', MARKER_TTL_MS);
      redis[0].on('ready', () => void this.#reconnected());
      this.#queue = new Queue(name, { prefix: o.prefix, connection: redis[0] });
      // The event stream is read from its last entry now: BullMQ's default ('$', "from the first read") would miss the
      // outcomes of jobs done before its first read is under way.
      const last = await redis[1].xrevrange(eventsKey, '+', '-', 'COUNT', 1);
      this.#events = new QueueEvents(name, { prefix: o.prefix, connection: redis[1], lastEventId: last[0]?.[0] ?? '0-0' });
      this.#queue.on('error', (e: Error) => this.#connectionError(e));
      this.#events.on('error', (e: Error) => this.#connectionError(e));
      this.#events.on('completed', ({ jobId, returnvalue }, event: string) => {
        if (this.#jobs.has(jobId)) this.#read(event);
        this.#completed(jobId, returnvalue);
      });
      this.#events.on('failed', ({ jobId, failedReason }, event: string) => {
        if (this.#jobs.has(jobId)) this.#read(event);
        this.#failedJob(jobId, failedReason);
      });
      await Promise.all([this.#events.waitUntilReady(), this.#queue.waitUntilReady()]);
      this.#reached = true;
      this.#watch = setInterval(() => void this.#checkHosts(), HOST_CHECK_MS).unref();
    })();
    this.#ready.catch((e: unknown) => {
      for (const r of redis) r.disconnect();
      this.terminate(this.#unreachable(e));
    });
  }

  #unreachable(e: unknown): Error {
    return codedError('ERR_MP_POOL_CLOSED', `the pool cannot reach Redis at ${this.#where}: ${(e as Error).message}`, { cause: e });
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
  async #checkHosts(): Promise<void> {
    if (this.#jobs.size === 0 || this.#state === 'terminated') return;
    let hosts: number;
    try {
      hosts = await this.#queue!.getWorkersCount();
    } catch {
      return; // Redis away (logged as such), or CLIENT LIST not allowed (managed Redis): nothing to tell
    }
    if (hosts > 0 || Date.now() - this.#warnedNoHost < NO_HOST_REPEAT_MS) return;
    const message = `no worker host takes jobs from ${this.#where}: ${this.#jobs.size} task(s) wait (start one: npx multiproc worker --redis URL --queue ${this.#queueName} --module M)`;
    if (this.#warnedNoHost === 0) process.emitWarning(message, { code: 'MULTIPROC_NO_WORKER_HOST' });
    getLogger().warn(`pool (bullmq): ${message}`);
    this.#warnedNoHost = Date.now();
  }

  #lastLog = 0;
  #connectionError(e: Error): void {
    // ioredis reconnects by itself (calls resume): say so, at most once a second.
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

  get backlog(): number {
    return this.#backlog;
  }

  get pids(): number[] {
    return [];
  }

  submit(task: Task): void {
    if (this.#state === 'terminated') throw this.#failed ?? codedError('ERR_MP_POOL_CLOSED', 'the pool was terminated');
    let data: JobData;
    try {
      data = {
        v: JOB_VERSION,
        fn: task.fn.def[1],
        kind: task.kind,
        payload: encodeValue(task.payload, `the payload of ${describeTask(task)}`, this.#maxPayload),
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
    this.#backlog++;
    void this.#ready
      .then(() => this.#add(id, data))
      .then(
        () => this.#added(),
        (e: unknown) => {
          this.#added();
          this.#settle(id, (t) => t.sink.taskFailed(t, this.#unreachable(e)));
        },
      );
  }

  #added(): void {
    this.#backlog--;
    const waiting = this.#onRoom;
    this.#onRoom = [];
    for (const f of waiting) f();
  }

  #onRoom: (() => void)[] = [];

  whenRoom(limit: number, fn: () => void): void {
    if (this.#backlog < limit) fn();
    else this.#onRoom.push(() => this.whenRoom(limit, fn));
  }

  #settle(id: string, how: (task: Task) => void): void {
    const task = this.#jobs.get(id);
    if (!task) return;
    this.#jobs.delete(id);
    this.#data.delete(id);
    this.#byTask.delete(task);
    task.state = 'done';
    if (!task.sink.finished) how(task);
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
    this.#jobs.delete(id);
    this.#data.delete(id);
    this.#byTask.delete(task);
    task.state = 'done';
    // Waiting: removed. Running on a host: left to finish (its outcome is dropped); `stop` asks the hosts to stop it.
    void this.#queue?.remove(id).catch(() => {});
    if (stop)
      void this.#publisher()
        .publish(this.#abortChannel, id)
        .catch(() => {});
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
    if (ids.length > 0)
      await this.#publisher()
        .xdel(this.#eventsKey, ...ids)
        .catch(() => {});
  }

  // The connection that publishes stop requests (and trims the stream), made on first need.
  #publisher(): InstanceType<ReturnType<typeof loadIoredis>> {
    if (!this.#abort) {
      this.#abort = new (loadIoredis())({ ...this.#connection });
      this.#abort.on('error', () => {}); // it reconnects; the queue's errors are the ones logged
    }
    return this.#abort;
  }

  pumpSync(): boolean {
    throw new TypeError('a pool with the bullmq backend has no Sync calls (its outcomes arrive over the network): await the async form');
  }

  #checkIdle(): void {
    if (this.#state === 'open' || this.#jobs.size > 0 || this.#live.size > 0) return;
    this.#idle?.();
  }

  close(): void {
    if (this.#state === 'open') this.#state = 'closing';
  }

  terminate(error: Error): void {
    if (this.#state === 'terminated') return;
    this.#state = 'terminated';
    clearInterval(this.#watch);
    this.#failed = error;
    for (const task of [...this.#jobs.values()]) {
      this.cancel(task, true);
      if (!task.sink.finished) task.sink.taskFailed(task, error);
    }
    for (const call of [...this.#live]) call.fail(error);
    this.#onRoom = [];
    this.#idle?.();
  }

  get closed(): boolean {
    return this.#state !== 'open';
  }

  async join(): Promise<void> {
    if (this.#state === 'open') throw new Error('join() before close() or terminate()');
    if (this.#state === 'closing' && (this.#jobs.size > 0 || this.#live.size > 0)) await new Promise<void>((r) => (this.#idle = r));
    clearInterval(this.#watch);
    // Closing waits for Redis; one that is not there (never reached, or gone now) is not waited for.
    const closed = (async () => {
      if (this.#reached) await Promise.all([this.#trim(), this.#redis[0].del(this.#marker).catch(() => {})]);
      await Promise.allSettled([this.#events?.close(), this.#queue?.close()]);
      // BullMQ leaves connections it was given open: ours are quit here (or they would reconnect for ever).
      await Promise.allSettled([...this.#redis, ...(this.#abort ? [this.#abort] : [])].map((r) => r.quit()));
    })();
    const limit = new Promise<'late'>((r) => setTimeout(() => r('late'), this.#reached ? CLOSE_WAIT_MS : 0).unref());
    if ((await Promise.race([closed, limit])) === 'late') {
      void closed.catch(() => {});
      for (const r of this.#redis) r.disconnect();
      this.#abort?.disconnect();
    }
  }
}

registerBackend('bullmq', (options) => new BullmqBackend(options));
