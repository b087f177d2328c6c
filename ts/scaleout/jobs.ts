// What a Pool's task is as a BullMQ job, and its outcome: shared by the
// pool's side (bullmq_backend.ts) and the worker hosts' (worker_host.ts).
// Payloads and results are serialize()d (structured clone: a Map, a bigint,
// a Date arrive as they were) and carried as base64 in BullMQ's JSON.
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { deserialize, serialize, type Refuse } from '../share/handles';
import { delay } from '../base/timers';
import type { WireError } from '../base/remote_error';

export const JOB_VERSION = 1;
/** The largest payload or result a job carries (serialized), by default. */
export const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024;
/** The default queue: pools and worker hosts meet on it. */
export const DEFAULT_QUEUE = 'multiproc';

export interface JobData {
  v: typeof JOB_VERSION;
  /** The export of the worker host's --module to run: nothing else can be named. */
  fn: string;
  /** 0 apply: fn(...payload); 1 map: payload.map(fn); 2 starmap. */
  kind: 0 | 1 | 2;
  /** serialize(payload), base64. */
  payload: string;
}

/** What a failed job's reason says: a task's own error (its wire form), or its worker host's process died. */
export type Failure = { threw: WireError } | { lost: string };

const FAILURE_TAG = 'multiproc:';

export function encodeValue(value: unknown, what: string, max: number, refuse?: Refuse, limitName = 'maxPayloadBytes'): string {
  const bytes = serialize(value, what, refuse);
  if (bytes.length > max) {
    throw Object.assign(new RangeError(`${what} is ${bytes.length} bytes serialized, over the scale-out limit of ${max} (${limitName})`), {
      code: 'ERR_MP_MESSAGE_TOO_LARGE',
    });
  }
  return bytes.toString('base64');
}

/** A payload or result: plain data only (a job's writer is not trusted with names of this machine's shared objects). */
export function decodeValue(text: unknown): unknown {
  if (typeof text !== 'string') throw new TypeError('a job held no multiproc payload (another program uses this queue?)');
  return deserialize(Buffer.from(text, 'base64'), true);
}

export function failureReason(f: Failure): string {
  return FAILURE_TAG + JSON.stringify(f);
}

/** The failure a job's failedReason holds, or undefined: BullMQ's own reason (a stall limit, a lost lock). */
export function parseFailure(reason: string): Failure | undefined {
  if (!reason.startsWith(FAILURE_TAG)) return undefined;
  try {
    return JSON.parse(reason.slice(FAILURE_TAG.length)) as Failure;
  } catch {
    return undefined;
  }
}

// An optional dependency, loaded only when a scale-out pool or worker host is made: from the
// program's own node_modules first, then from where multiproc is installed.
function optional<T>(name: string): T {
  for (const req of [createRequire(process.cwd() + '/'), require]) {
    try {
      return req(name) as T;
    } catch (e) {
      if ((e as { code?: string }).code !== 'MODULE_NOT_FOUND') throw e;
    }
  }
  throw Object.assign(new Error(`the bullmq backend needs the ${name} package: npm install bullmq ioredis`), {
    code: 'MODULE_NOT_FOUND',
  });
}

export const loadBullmq = (): typeof import('bullmq') => optional<typeof import('bullmq')>('bullmq');
export const loadIoredis = (): typeof import('ioredis').default => optional<typeof import('ioredis')>('ioredis').default;

/** `work`, or the error `late()` makes once `ms` have passed (Redis not answering at start, on either side). */
export async function withDeadline<T>(work: Promise<T>, ms: number, late: () => Error): Promise<T> {
  const d = delay(ms);
  try {
    return await Promise.race([
      work,
      d.promise.then(() => {
        throw late();
      }),
    ]);
  } finally {
    d.clear();
  }
}

/** The channel a pool asks the worker hosts of a queue to stop a job on (its id as the message). */
export const abortChannel = (prefix: string | undefined, queue: string): string => `${prefix ?? 'bull'}:${queue}:multiproc-abort`;

/** ioredis options for a redis:// or rediss:// URL (password, user, database, TLS), or the object given. */
export function redisOptions(connection: unknown, what: string): Record<string, unknown> {
  if (typeof connection === 'object' && connection !== null && !(connection instanceof URL)) {
    if (typeof (connection as { duplicate?: unknown }).duplicate === 'function')
      throw new TypeError(`${what}: connection must be a URL or ioredis options, not a client (the pool makes its own connections)`);
    return { ...connection };
  }
  if (typeof connection !== 'string' && !(connection instanceof URL))
    throw new TypeError(`${what}: connection must be a redis:// or rediss:// URL or ioredis options, got ${typeof connection}`);
  let url: URL;
  try {
    url = new URL(String(connection));
  } catch {
    throw new TypeError(`${what}: connection ${JSON.stringify(String(connection))} is not a URL (redis://host:6379)`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    throw new TypeError(`${what}: connection must be a redis:// or rediss:// URL, got ${url.protocol}//`);
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new TypeError(`${what}: the database in ${url.pathname} must be a number`);
  const host = url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  return {
    host,
    port: url.port ? Number(url.port) : 6379,
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    db,
    // TLS: the certificate is checked against the host name (an IP address is checked against the certificate's IP names).
    ...(url.protocol === 'rediss:' ? { tls: isIP(host) ? {} : { servername: host } } : {}),
  };
}
