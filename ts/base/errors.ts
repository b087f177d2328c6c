// The exported error classes (SPEC "Errors") and helpers that give native
// errors messages a user can act on.

/** A get found nothing within its timeout (or `Nowait`). */
export class Empty extends Error {
  override name = 'Empty';
  constructor(message = 'the queue is empty') {
    super(message);
  }
}

/** A put found no room within its timeout (or `Nowait`). */
export class Full extends Error {
  override name = 'Full';
  constructor(message = 'the queue is full') {
    super(message);
  }
}

/**
 * The queue was shut down (Queue.shutdown(), Python 3.13's queue.ShutDown):
 * puts fail at once, gets once what was left has been taken.
 */
export class ShutDown extends Error {
  override name = 'ShutDown';
  readonly code = 'ERR_MP_SHUTDOWN';
  constructor(message = 'the queue is shut down') {
    super(message);
  }
}

export class TimeoutError extends Error {
  override name = 'TimeoutError';
}

export class BrokenBarrierError extends Error {
  override name = 'BrokenBarrierError';
}

export class ProcessError extends Error {
  override name = 'ProcessError';
}

/**
 * The worker process that held a Pool task died (SIGKILL, out of memory,
 * process.exit() in the task) before the task finished: only the tasks it
 * held reject so; the pool replaces it and goes on.
 */
export class WorkerLostError extends Error {
  override name = 'WorkerLostError';
  readonly code = 'ERR_MP_WORKER_LOST';
  /** The worker's pid. */
  readonly pid: number;
  /** Its exit code, or null when a signal ended it. */
  readonly exitCode: number | null;
  /** The signal that ended it ('SIGKILL' ...), or null. */
  readonly signal: string | null;
  /** Which task of the call: its index for apply (0), the chunk's first input index for map. */
  readonly index: number;
  constructor(message: string, details: { pid: number; exitCode: number | null; signal: string | null; index: number }) {
    super(message);
    this.pid = details.pid;
    this.exitCode = details.exitCode;
    this.signal = details.signal;
    this.index = details.index;
  }
}

/**
 * A manager's server is gone (it was shut down, or its process died): every
 * call of its proxies fails so, at once, instead of hanging.
 */
export class ManagerGoneError extends Error {
  override name = 'ManagerGoneError';
  readonly code = 'ERR_MP_MANAGER_GONE';
  /** The server's pid. */
  readonly pid: number;
  constructor(message: string, pid: number, options?: { cause?: unknown }) {
    super(message, options);
    this.pid = pid;
  }
}

/**
 * A remote manager and its client did not prove to each other that they
 * hold the same authkey (Python's multiprocessing.AuthenticationError).
 */
export class AuthenticationError extends Error {
  override name = 'AuthenticationError';
  readonly code = 'ERR_MP_AUTHENTICATION';
}

/** What an aborted async wait rejects with, as Node's own APIs do. */
export class AbortError extends Error {
  override name = 'AbortError';
  readonly code = 'ABORT_ERR';
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * The table of multiproc's own error codes: every `code` an error of ours
 * carries (besides errno names from the addon and Node's ABORT_ERR), and
 * what it means. Errors with a code are made by codedError(), here.
 */
export const ERROR_CODES = {
  /** This handle (or end, or mapping) was closed in this process. */
  ERR_MP_CLOSED: 'closed in this process',
  /** The other end of a pipe is closed in every process that had it (recv). */
  ERR_MP_EOF: 'end of file: the other end is closed',
  /** A queue was shut down (the ShutDown class). */
  ERR_MP_SHUTDOWN: 'shut down',
  /** Shared memory another process wrote garbage into, or that shrank. */
  ERR_MP_CORRUPT: 'corrupt shared memory',
  /** A MULTIPROC_* environment variable multiproc cannot use. */
  ERR_MP_BAD_ENV: 'bad environment variable',
  /** This Node cannot wrap shared memory in a Buffer (external buffers disabled, as in Electron's V8 sandbox). */
  ERR_MP_EXTERNAL_BUFFERS_UNSUPPORTED: 'this Node cannot map shared memory into a Buffer',
  /** A Pool worker died holding the task (the WorkerLostError class). */
  ERR_MP_WORKER_LOST: 'the worker process running the task died',
  /** A Pool task's result could not be sent back (not cloneable). */
  ERR_MP_RESULT_NOT_CLONEABLE: 'a task result that cannot be cloned',
  /** A Pool was closed or terminated. */
  ERR_MP_POOL_CLOSED: 'the pool is closed',
  /** A manager's server was shut down or died (the ManagerGoneError class). */
  ERR_MP_MANAGER_GONE: 'the manager is gone',
  /** A remote manager or its client refused the other's authkey (the AuthenticationError class). */
  ERR_MP_AUTHENTICATION: 'the authkeys differ',
  /** A message over a manager's socket was larger than maxMessageBytes. */
  ERR_MP_MESSAGE_TOO_LARGE: 'a message over the size limit',
  /** A C++ exception inside the addon that is not a system error (a bug: please report it). */
  ERR_MP_INTERNAL: 'internal error in the addon',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An Error (or `Type` of error) carrying one of our codes. */
export function codedError(
  code: ErrorCode,
  message: string,
  options?: { cause?: unknown; Type?: new (message: string, options?: { cause?: unknown }) => Error },
): Error & { code: ErrorCode } {
  const Type = options?.Type ?? Error;
  return Object.assign(new Type(message, options?.cause === undefined ? undefined : { cause: options.cause }), { code });
}

/** An error for shared memory another process wrote garbage into. */
export function corruptError(message: string, cause?: unknown): Error {
  return codedError('ERR_MP_CORRUPT', message, { cause });
}

/** Something used after close() in this process. */
export function closedError(message: string): Error {
  return codedError('ERR_MP_CLOSED', message);
}

/** An Error from the addon: code is an errno name or ERR_MP_*. */
export interface SystemError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
}

export function isSystemError(e: unknown, code?: string): e is SystemError {
  return e instanceof Error && typeof (e as SystemError).code === 'string' && (code === undefined || (e as SystemError).code === code);
}

/**
 * Re-throws a native error with a clearer message, keeping code/errno/syscall.
 * The native message follows when it says more than the code (why a file
 * was refused, how big it is), not for a plain ENOENT or EEXIST.
 */
export function rethrowWith(e: unknown, message: string): never {
  if (isSystemError(e)) {
    const detail = e.code === 'ENOENT' || e.code === 'EEXIST' ? ` (${e.code})` : `: ${e.message}`;
    const err = new Error(`${message}${detail}`, { cause: e }) as SystemError;
    err.code = e.code;
    if (e.errno !== undefined) err.errno = e.errno;
    if (e.syscall !== undefined) err.syscall = e.syscall;
    throw err;
  }
  throw e;
}
