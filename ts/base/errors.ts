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

/** What an aborted async wait rejects with, as Node's own APIs do. */
export class AbortError extends Error {
  override name = 'AbortError';
  readonly code = 'ABORT_ERR';
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** An error for shared memory another process wrote garbage into. */
export function corruptError(message: string, cause?: unknown): Error {
  return Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { code: 'ERR_MP_CORRUPT' });
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
