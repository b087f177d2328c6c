// `npx multiproc worker`: a machine's share of a scale-out pool. A BullMQ
// Worker takes the queue's jobs (up to `concurrency` at once) and runs each
// in a local Pool of `processes` worker processes, so a task that crashes
// its process fails (or is retried) alone and the host goes on. Only
// functions exported by the host's own --module can run: a job names an
// export, never a module. SIGTERM: no new jobs, the running ones finish,
// then it leaves (a second SIGTERM leaves at once: its jobs stall and go to
// other hosts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AbortError, WorkerLostError } from '../base/errors';
import { getLogger } from '../base/logging';
import { toWire } from '../base/remote_error';
import { Pool } from '../pool/pool';
import {
  DEFAULT_MAX_PAYLOAD,
  DEFAULT_QUEUE,
  JOB_VERSION,
  abortChannel,
  decodeValue,
  encodeValue,
  failureReason,
  loadBullmq,
  loadIoredis,
  redisOptions,
  withDeadline,
  type JobData,
} from './jobs';

// How long a host waits for Redis at start, and how long it keeps a stop request for a job it does not run.
const CONNECT_TIMEOUT_MS = 10_000;
const STOP_KEEP_MS = 60_000;

export interface WorkerHostOptions {
  redis: string;
  module: string;
  queue?: string;
  prefix?: string;
  processes?: number;
  /** Jobs run at once (default: processes). */
  concurrency?: number;
  /** BullMQ's job lock, ms (default 30 s): a host silent that long loses its jobs to others. */
  lockDuration?: number;
  /** How often stalled jobs are looked for, ms (default 30 s). */
  stalledInterval?: number;
  /** Times a job whose host died is delivered again before it fails with WorkerLostError (default 1). */
  maxStalledCount?: number;
  maxPayloadBytes?: number;
}

export interface WorkerHost {
  /** Stops taking jobs, lets the running ones finish, leaves. */
  close(): Promise<void>;
  /** Kills the local processes at once; the caller exits the process right after (the jobs stall, other hosts take them). */
  abandon(): void;
}

export async function startWorkerHost(o: WorkerHostOptions): Promise<WorkerHost> {
  const log = getLogger();
  const file = o.module.startsWith('file:') ? fileURLToPath(o.module) : path.resolve(o.module);
  if (!fs.existsSync(file)) throw new TypeError(`--module ${o.module}: no such file (${file})`);
  const url = pathToFileURL(file).href;
  let exports: Record<string, unknown>;
  try {
    exports = (await import(url)) as Record<string, unknown>;
  } catch (e) {
    // Where it failed is what the person starting the host needs: the stack (a SyntaxError's names the file and line).
    throw new Error(`--module ${o.module} could not be imported: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`, {
      cause: e,
    });
  }
  const connection = redisOptions(o.redis, '--redis');
  const queue = o.queue ?? DEFAULT_QUEUE;
  if (queue === '' || queue.includes(':'))
    throw new TypeError(`--queue must be a non-empty name without ':', got ${JSON.stringify(queue)}`);
  const processes = o.processes ?? os.availableParallelism();
  const maxPayload = o.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD;
  if (!Number.isInteger(maxPayload) || maxPayload < 1024)
    throw new TypeError(`--max-payload-bytes must be an integer >= 1024, got ${maxPayload}`);
  const { Worker, UnrecoverableError } = loadBullmq();
  const Redis = loadIoredis();
  const running = new Map<string, AbortController>();
  // Stop requests for jobs not (yet) running here: one may arrive between BullMQ's taking the job and its start.
  const stopAsked = new Map<string, number>();

  // Stop requests of pools (a call aborted or timed out): the job's local worker process is stopped.
  // Redis must answer first: a host that cannot reach it says so and exits, rather than waiting silently.
  const subscriber = new Redis({ ...connection, maxRetriesPerRequest: null });
  let connectError: Error | undefined;
  subscriber.on('error', (e: Error) => (connectError = e)); // it reconnects; the Worker's errors are the ones logged
  try {
    await withDeadline(
      subscriber.subscribe(abortChannel(o.prefix, queue)),
      CONNECT_TIMEOUT_MS,
      () =>
        new Error(
          `cannot reach Redis at ${String(connection.host)}:${String(connection.port)}${connectError ? `: ${connectError.message}` : ''}`,
        ),
    );
  } catch (e) {
    subscriber.disconnect();
    throw e;
  }
  subscriber.on('message', (_channel: string, id: string) => {
    const run = running.get(id);
    if (run) return run.abort();
    const now = Date.now();
    for (const [old, at] of stopAsked) {
      if (now - at <= STOP_KEEP_MS) break; // in the order they came: the rest are newer
      stopAsked.delete(old);
    }
    stopAsked.set(id, now);
  });
  const pool = new Pool(processes, { module: url });

  const lookup = (name: unknown): ((...args: unknown[]) => unknown) => {
    const fn = typeof name === 'string' && Object.prototype.hasOwnProperty.call(exports, name) ? exports[name] : undefined;
    if (typeof fn !== 'function') {
      const shown = JSON.stringify(typeof name === 'string' && name.length > 100 ? `${name.slice(0, 100)}...` : name);
      throw new UnrecoverableError(
        failureReason({
          threw: toWire(new TypeError(`the worker host's module (${o.module}) exports no function ${shown}`)),
        }),
      );
    }
    return fn as (...args: unknown[]) => unknown;
  };

  const worker = new Worker(
    queue,
    async (job) => {
      const data = job.data as JobData;
      if (typeof data !== 'object' || data === null || data.v !== JOB_VERSION)
        throw new UnrecoverableError(failureReason({ lost: 'the job was not written by a multiproc pool of this version' }));
      const fn = lookup(data.fn);
      // Bounded before it is decoded (base64: 4 characters per 3 bytes).
      if (typeof data.payload === 'string' && data.payload.length > Math.ceil(maxPayload / 3) * 4)
        throw new UnrecoverableError(
          failureReason({
            threw: toWire(
              Object.assign(
                new RangeError(
                  `the payload of ${data.fn} is ${Math.floor((data.payload.length * 3) / 4)} bytes, over this worker host's limit of ${maxPayload} (--max-payload-bytes)`,
                ),
                { code: 'ERR_MP_MESSAGE_TOO_LARGE' },
              ),
            ),
          }),
        );
      const abort = new AbortController();
      running.set(job.id!, abort);
      if (stopAsked.delete(job.id!)) abort.abort();
      try {
        let payload: unknown[];
        try {
          payload = decodeValue(data.payload) as unknown[];
        } catch (e) {
          throw new UnrecoverableError(failureReason({ threw: toWire(e) }));
        }
        if (abort.signal.aborted) throw new UnrecoverableError(failureReason({ lost: "stopped at the pool's request" }));
        let result: unknown;
        const options = { signal: abort.signal };
        if (data.kind === 0) result = await pool.apply(fn, payload, options);
        else if (data.kind === 1) result = await pool.map(fn, payload, { ...options, chunksize: Math.max(1, payload.length) });
        else result = await pool.starmap(fn, payload as unknown[][], { ...options, chunksize: Math.max(1, payload.length) });
        return encodeValue(result, `the result of ${data.fn}`, maxPayload, undefined, "this worker host's --max-payload-bytes");
      } catch (e) {
        if (e instanceof UnrecoverableError) throw e;
        // Its local process died: an ordinary failure, which BullMQ retries while the job has attempts.
        if (e instanceof WorkerLostError) throw new Error(failureReason({ lost: e.message }));
        if (e instanceof AbortError) throw new UnrecoverableError(failureReason({ lost: "stopped at the pool's request" }));
        throw new UnrecoverableError(failureReason({ threw: toWire(e) }));
      } finally {
        running.delete(job.id!);
      }
    },
    {
      connection: { ...connection, maxRetriesPerRequest: null },
      prefix: o.prefix,
      concurrency: o.concurrency ?? processes,
      ...(o.lockDuration !== undefined ? { lockDuration: o.lockDuration } : {}),
      ...(o.stalledInterval !== undefined ? { stalledInterval: o.stalledInterval } : {}),
      ...(o.maxStalledCount !== undefined ? { maxStalledCount: o.maxStalledCount } : {}),
    },
  );
  let lastError = 0;
  worker.on('error', (e: Error) => {
    if (Date.now() - lastError > 1000) log.warn(`worker: ${e.message} (reconnecting)`);
    lastError = Date.now();
  });
  worker.on('failed', (job, e) => log.debug(`worker: job ${job?.id} of ${job?.name} failed: ${e.message.slice(0, 200)}`));
  await worker.waitUntilReady();
  log.info(
    `worker: ${processes} process(es), ${o.concurrency ?? processes} job(s) at once, queue ${queue} at ${String(connection.host)}:${String(connection.port)}, module ${o.module}`,
  );

  let closing: Promise<void> | undefined;
  return {
    close(): Promise<void> {
      closing ??= (async () => {
        log.info('worker: finishing the running jobs, then leaving');
        await worker.close();
        pool.close();
        await pool.join();
        await subscriber.quit().catch(() => {});
        log.info('worker: done');
      })();
      return closing;
    },
    abandon(): void {
      log.info('worker: leaving now (its running jobs go to other hosts once they stall)');
      pool.terminate(); // its processes are killed now: the jobs are neither finished nor failed here
    },
  };
}
