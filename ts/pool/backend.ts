// The seam between a Pool's calls and what runs their tasks: the local
// backend (local.ts, worker processes of this machine) or another one
// registered by a layer above (the BullMQ backend of ts/scaleout/). Calls
// hand tasks in and get their outcomes through each task's sink.
import type { CallSink, Task } from './task';

export interface Backend {
  /** A call began: it may hold tasks (a terminate fails it). */
  callBegan(call: CallSink): void;
  /** A call finished (settled, stopped, its loop left). */
  callEnded(call: CallSink): void;
  /** Tasks submitted and not yet sent on. */
  readonly backlog: number;
  /** The local worker processes (none for a backend whose workers are elsewhere). */
  readonly pids: number[];
  submit(task: Task): void;
  /** Calls `fn` once the backlog is below `limit` (now, if it is). */
  whenRoom(limit: number, fn: () => void): void;
  /** A call no longer wants `task`; `stop`: stop it where it runs. */
  cancel(task: Task, stop: boolean): void;
  /** Whether the Sync calls work (pumpSync): a backend that cannot block says so before a Sync call submits anything. */
  readonly canBlock: boolean;
  /** Runs the pool on this thread until `done()` or the deadline; whether done (a backend that cannot block throws). */
  pumpSync(done: () => boolean, deadline: number): boolean;
  close(): void;
  terminate(error: Error): void;
  readonly closed: boolean;
  /** Why the backend stopped by itself (its engine unreachable), if it did: the pool's new calls fail with it. */
  readonly failure: Error | undefined;
  join(): Promise<void>;
}

/** Makes a backend of a `type` from the options given for it and the pool's own. */
export type BackendFactory = (options: Record<string, unknown>, pool: { processes: number; module: string | URL | undefined }) => Backend;

const factories = new Map<string, BackendFactory>();

/** Registers a kind of backend (`new Pool(n, { backend: { type, ... } })`). */
export function registerBackend(type: string, factory: BackendFactory): void {
  factories.set(type, factory);
}

export function backendFactory(type: string): BackendFactory | undefined {
  return factories.get(type);
}
