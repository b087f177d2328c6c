// An error thrown in another process (a Pool task in a worker, a manager
// method in the server), carried back to the caller: its class (the
// built-in ones, AggregateError, DOMException; others keep their name on an
// Error), message, code and other plain fields, its own cause and
// (AggregateError) errors, and the remote stack as its cause (whose cause
// is the error's own).
import { BrokenBarrierError, Empty, Full, ShutDown, TimeoutError } from './errors';

/** What crosses the process boundary for a thrown error. */
export interface WireError {
  name: string;
  message: string;
  stack: string | undefined;
  /** Own enumerable fields that are plain data (code, errno, path, a Date ...). */
  fields: Record<string, unknown>;
  /** The error's own cause, if it had one. */
  cause?: WireError | { value: unknown };
  /** An AggregateError's errors. */
  errors?: WireError[];
  /** A DOMException (an AbortError, a DataCloneError ...): rebuilt as one, with its name and code. */
  dom?: true;
}

const BUILT_IN: Record<string, new (message?: string, options?: { cause?: unknown }) => Error> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
  // Ours that a manager's queue, lock or barrier throws: `instanceof Empty` holds in the caller.
  Empty: withCause(Empty),
  Full: withCause(Full),
  ShutDown: withCause(ShutDown),
  TimeoutError: withCause(TimeoutError),
  BrokenBarrierError: withCause(BrokenBarrierError),
};

// One of our classes (whose constructor takes only a message), taking a cause as Error does.
function withCause(Type: new (message?: string) => Error): new (message?: string, options?: { cause?: unknown }) => Error {
  const named = {
    [Type.name]: class extends Type {
      constructor(message?: string, options?: { cause?: unknown }) {
        super(message);
        if (options) Object.defineProperty(this, 'cause', { value: options.cause, writable: true, configurable: true });
      }
    },
  };
  return named[Type.name];
}

// Data structured clone carries as it is (what JSON-like fields and Dates are made of).
function plain(value: unknown, depth = 0): boolean {
  if (value === null || ['string', 'number', 'boolean', 'bigint'].includes(typeof value)) return true;
  if (depth > 3 || typeof value !== 'object') return false;
  if (value instanceof Date) return true;
  if (Array.isArray(value)) return value.every((v) => plain(v, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  return Object.values(value).every((v) => plain(v, depth + 1));
}

/** In the worker: what a thrown value becomes on the wire. */
export function toWire(thrown: unknown, depth = 0): WireError {
  if (!(thrown instanceof Error)) {
    let text: string;
    try {
      text = typeof thrown === 'string' ? thrown : (JSON.stringify(thrown) ?? String(thrown));
    } catch {
      text = String(thrown);
    }
    return { name: 'Error', message: `the task threw a non-Error value: ${text}`, stack: undefined, fields: {} };
  }
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(thrown)) {
    if (key === 'name' || key === 'message' || key === 'stack' || key === 'cause' || key === 'errors') continue;
    const value = (thrown as unknown as Record<string, unknown>)[key];
    if (plain(value)) fields[key] = value;
  }
  const wire: WireError = { name: thrown.name, message: thrown.message, stack: thrown.stack, fields };
  if (thrown instanceof DOMException) wire.dom = true;
  if (depth < 4 && 'cause' in thrown && thrown.cause !== undefined) {
    wire.cause =
      thrown.cause instanceof Error ? toWire(thrown.cause, depth + 1) : plain(thrown.cause) ? { value: thrown.cause } : undefined;
  }
  if (depth < 4 && thrown instanceof AggregateError && Array.isArray(thrown.errors)) {
    wire.errors = (thrown.errors as unknown[]).slice(0, 100).map((e) => toWire(e, depth + 1));
  }
  return wire;
}

// A DOMException (its code follows from its name); Node 20's constructor takes no cause.
function domException(message: string, name: string, options: { cause?: unknown } | undefined): Error {
  const error = new DOMException(message, name);
  if (options) Object.defineProperty(error, 'cause', { value: options.cause, writable: true, configurable: true });
  return error;
}

function rebuild(wire: WireError): Error {
  const cause = wire.cause === undefined ? undefined : 'value' in wire.cause ? wire.cause.value : rebuild(wire.cause);
  const options = wire.cause === undefined ? undefined : { cause };
  let error: Error;
  if (wire.errors !== undefined) error = new AggregateError(wire.errors.map(rebuild), wire.message, options);
  else if (wire.dom) error = domException(wire.message, wire.name, options);
  else {
    const Type = Object.prototype.hasOwnProperty.call(BUILT_IN, wire.name) ? BUILT_IN[wire.name] : Error;
    error = new Type(wire.message, options);
    if (Type === Error && wire.name !== 'Error') error.name = wire.name;
  }
  if (wire.stack !== undefined) error.stack = wire.stack;
  Object.assign(error, wire.fields);
  return error;
}

/**
 * In the caller: the error to reject with; `where` says which worker ran
 * the task. Its stack is the caller's; its cause carries the worker's
 * stack, and that one's cause is the task's own cause, if any.
 */
export function fromWire(wire: WireError, where: string): Error {
  const Type = Object.prototype.hasOwnProperty.call(BUILT_IN, wire.name) ? BUILT_IN[wire.name] : Error;
  const inWorker = rebuild(wire);
  // Defined, not assigned: a DOMException's message is a getter.
  Object.defineProperty(inWorker, 'message', { value: `${wire.message} (thrown in ${where})`, writable: true, configurable: true });
  const error =
    wire.errors !== undefined
      ? new AggregateError((inWorker as AggregateError).errors, wire.message, { cause: inWorker })
      : wire.dom
        ? domException(wire.message, wire.name, { cause: inWorker })
        : new Type(wire.message, { cause: inWorker });
  if (!(error instanceof AggregateError) && !wire.dom && Type === Error && wire.name !== 'Error') error.name = wire.name;
  Object.assign(error, wire.fields);
  return error;
}
