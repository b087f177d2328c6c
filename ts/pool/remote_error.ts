// An error thrown by a task in a worker, carried back to the caller: its
// class (the built-in ones; others keep their name on an Error), message,
// code and other plain fields, and the worker's stack as its cause.

/** What crosses the process boundary for a thrown error. */
export interface WireError {
  name: string;
  message: string;
  stack: string | undefined;
  /** Own enumerable fields that are plain data (code, errno, path ...). */
  fields: Record<string, unknown>;
}

const BUILT_IN: Record<string, new (message?: string, options?: { cause?: unknown }) => Error> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

function plain(value: unknown, depth = 0): boolean {
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return true;
  if (depth > 3 || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.every((v) => plain(v, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  return Object.values(value).every((v) => plain(v, depth + 1));
}

/** In the worker: what a thrown value becomes on the wire. */
export function toWire(thrown: unknown): WireError {
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
    if (key === 'name' || key === 'message' || key === 'stack' || key === 'cause') continue;
    const value = (thrown as unknown as Record<string, unknown>)[key];
    if (plain(value)) fields[key] = value;
  }
  return { name: thrown.name, message: thrown.message, stack: thrown.stack, fields };
}

/** In the caller: the error to reject with; `where` says which worker ran the task. */
export function fromWire(wire: WireError, where: string): Error {
  const Type = Object.prototype.hasOwnProperty.call(BUILT_IN, wire.name) ? BUILT_IN[wire.name] : Error;
  const cause = new Error(`${wire.name}: ${wire.message} (thrown in ${where})`);
  if (wire.stack !== undefined) cause.stack = `${wire.stack}\n    (thrown in ${where})`;
  const error = new Type(wire.message, { cause });
  if (Type === Error && wire.name !== 'Error') error.name = wire.name;
  Object.assign(error, wire.fields);
  return error;
}
