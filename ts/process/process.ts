// Process: Python's multiprocessing.Process. This file is the API and its
// state machine; launcher.ts knows how a child is spawned and bootstrap.ts
// what runs inside it.
import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { inspect } from 'node:util';
import { addChild, removeChild, runningChildren } from './children';
import { getLogger } from '../base/logging';
import { addon } from '../binding/addon';
import { AbortError, isSystemError } from '../base/errors';
import { describe, waitArguments, type SyncWaitOptions, type WaitOptions } from '../base/validate';
import { encodePayload, type StartPayload } from './payload';
import { collectTickets, serialize } from '../share/handles';
import { processAuthkey, state } from '../base/identity';
import { resolveExport } from '../base/modules';
import { delay } from '../base/timers';
import { checkProcessOptions, exitCodeName, type ProcessOptions, type Target } from './options';

export type { ProcessOptions, Target };

type Phase = 'initial' | 'started' | 'exited' | 'closed';

/**
 * Python's multiprocessing.Process. F, the target's type, exists only to
 * check `args` at construction: every Process<F> is a Process, so
 * activeChildren() and arrays of processes need no type arguments.
 */
export class Process<F extends Target = Target> {
  #target: Target | undefined;
  #args: unknown[];
  #name: string;
  #identity: number[];
  #daemon: boolean;
  #module: string | URL | undefined;
  #phase: Phase = 'initial';
  #child: ChildProcess | undefined;
  #pid: number | undefined;
  #exitCode: number | null = null;
  #exited: Promise<void> | undefined;
  /** Pending join() calls: while any, even a daemon keeps the event loop alive. */
  #joiners = 0;
  /** True for the object that represents the current process inside a child. */
  #isSelf = false;

  constructor(options: ProcessOptions<F> = {} as ProcessOptions<F>) {
    const { target, args, name, daemon, module } = checkProcessOptions(options as ProcessOptions);
    this.#target = target;
    this.#args = args;
    this.#module = module;
    this.#daemon = daemon ?? state.daemon; // Python: children inherit daemon-ness by default
    // Numbered at construction, as in Python: Process-1, Process-1:2 for the
    // second child of Process-1, and Worker-3 for a subclass named Worker.
    this.#identity = [...state.identity, ++state.childCounter];
    this.#name = name ?? `${new.target.name || 'Process'}-${this.#identity.join(':')}`;
  }

  /** Runs in the child. Override it in a subclass; the default calls target(...args). */
  run(): unknown {
    return this.#target?.(...this.#args);
  }

  start(): void {
    if (this.#isSelf) throw new Error('cannot start the current process');
    if (this.#phase === 'closed') throw new Error(`process ${this.#name} is closed`);
    if (this.#phase !== 'initial') throw new Error(`process ${this.#name} can only be started once`);
    if (state.bootstrapping) {
      throw new Error(
        'a new process was started while this child process was still importing its main module. ' +
          'The main script is imported again in every child: guard its top-level work with ' +
          '`if (isMainProcess()) { ... }` (Python\'s `if __name__ == "__main__":`).',
      );
    }
    // Shared objects among the arguments reserve an entry for the child
    // (their holder tables): once its pid is known, the entries are its, so
    // a child that dies before it revives them does not keep them for ever.
    state.spawning = true;
    let encoded: ReturnType<typeof collectTickets<Buffer>>;
    try {
      encoded = collectTickets(() => encodePayload(this.#describeForChild()));
    } finally {
      state.spawning = false;
    }
    const [payload, sent] = encoded;
    // Required here, not at the top: a child that never starts a process of
    // its own should not load child_process and the tracker at start-up.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { launch } = require('./spares') as typeof import('./spares');
    let launched: { child: ChildProcess; pid: number };
    try {
      launched = launch(payload, this.#daemon);
    } catch (e) {
      sent?.drop();
      throw e;
    }
    const { child, pid } = launched;
    // Its stamp too: should it die and its pid be reused, the entries are a dead process's.
    sent?.assign(pid, addon().threadStampOf(pid));
    this.#child = child;
    this.#pid = pid;
    this.#phase = 'started';
    addChild(this);
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#recordExit(code, signal === null ? 0 : constants.signals[signal]);
        resolve();
      });
    });
    child.on('error', (e) => getLogger().error(`${this.#name}: ${e.message}`));
    getLogger().debug(`started ${this.#name} (pid ${pid})`);
  }

  #describeForChild(): Omit<StartPayload, 'version'> {
    const cls = this.constructor as typeof Process;
    const subclass = cls !== Process;
    if (!subclass && this.#target === undefined) throw new TypeError(`process ${this.#name} has no target to run: pass { target }`);
    // Before anything is spawned: a target the child could not find is an
    // error here, not a message on the child's stderr.
    const { module, exportName } = subclass
      ? resolveExport(cls, this.#module, 'the Process subclass')
      : resolveExport(this.#target!, this.#module, 'the target', 'module', 'target');
    const fields: Record<string, unknown> = {};
    for (const key of Object.keys(this)) fields[key] = (this as Record<string, unknown>)[key];
    const logger = getLogger();
    return {
      name: this.#name,
      daemon: this.#daemon,
      identity: this.#identity,
      parent: { name: state.name, pid: process.pid },
      module,
      mainModule: state.mainModule,
      kind: subclass ? 'subclass' : 'function',
      exportName,
      args: serialize(this.#args, 'args'),
      fields: serialize(fields, 'this'),
      log: { level: logger.level, stderr: logger.toStderr },
      authkey: processAuthkey(),
    };
  }

  #recordExit(code: number | null, signal: number | undefined): void {
    if (this.#exitCode !== null) return;
    this.#exitCode = code ?? -(signal ?? 0);
    if (this.#phase === 'started') this.#phase = 'exited';
    removeChild(this);
    getLogger().debug(`${this.#name} exited with exitcode ${this.#exitCode}`);
  }

  #requireStarted(what: string): void {
    if (this.#phase === 'closed') throw new Error(`process ${this.#name} is closed`);
    if (this.#phase === 'initial' && !this.#isSelf) throw new Error(`cannot ${what} process ${this.#name}: it was never started`);
  }

  /**
   * Resolves when the process exits, or after the timeout (ms, or `{ timeout, signal }`;
   * then check exitCode). An abort of the signal rejects with AbortError; the process runs on.
   */
  async join(timeout?: number | WaitOptions, options?: WaitOptions): Promise<void> {
    const { timeout: ms, signal } = waitArguments(timeout, options, 'Process.join');
    if (this.#isSelf) throw new Error('a process cannot join itself');
    this.#requireStarted('join');
    if (this.#exitCode !== null) return;
    getLogger().debug(`calling join() for process ${this.#name}`);
    // A daemon does not keep the event loop alive, but a pending join must.
    const child = this.#child!;
    if (this.#daemon && this.#joiners++ === 0) child.ref();
    // Not setTimeout: it fires after 1 ms for delays past 2^31-1 ms (Infinity included).
    const timer = ms === Infinity ? undefined : delay(ms);
    let onAbort: (() => void) | undefined;
    const aborted =
      signal &&
      new Promise<never>((_, reject) => {
        onAbort = () => reject(new AbortError(undefined, { cause: signal.reason }));
        signal.addEventListener('abort', onAbort, { once: true });
      });
    try {
      const exited = this.#exited!; // set by start(), which join() requires
      await Promise.race([exited, ...(timer ? [timer.promise] : []), ...(aborted ? [aborted] : [])]);
    } finally {
      timer?.clear();
      if (onAbort) signal!.removeEventListener('abort', onAbort);
      if (this.#daemon && --this.#joiners === 0 && this.#exitCode === null) child.unref();
    }
  }

  /** Blocks the calling thread until the process exits, or for the timeout (ms, or `{ timeout }`). */
  joinSync(timeout?: number | SyncWaitOptions): void {
    const { timeout: ms } = waitArguments(timeout, undefined, 'Process.joinSync', false);
    if (this.#isSelf) throw new Error('a process cannot join itself');
    this.#requireStarted('join');
    if (this.#exitCode !== null) return;
    this.#poll(ms === Infinity ? -1 : ms);
  }

  // Peeks at (or waits up to timeoutMs for) the child's exit without reaping
  // it, so libuv still delivers 'exit'.
  #poll(timeoutMs: number): void {
    let status: { code: number; signal: number } | null;
    try {
      status = addon().waitChildExit(this.#pid!, timeoutMs);
    } catch (e) {
      // ECHILD: libuv reaped it already; its 'exit' has recorded (or will
      // record) the status. Anything else (EMFILE for the pidfd...) is a
      // real failure: do not pretend the wait happened.
      if (!isSystemError(e, 'ECHILD')) throw e;
      const child = this.#child!;
      if (child.exitCode !== null || child.signalCode !== null) {
        this.#recordExit(child.exitCode, child.signalCode ? constants.signals[child.signalCode] : undefined);
      }
      return;
    }
    if (status) this.#recordExit(status.signal ? null : status.code, status.signal);
  }

  isAlive(): boolean {
    if (this.#isSelf) return true;
    if (this.#phase !== 'started' || this.#exitCode !== null) return false;
    this.#poll(0);
    return this.#exitCode === null;
  }

  /** SIGTERM. Does nothing once the process has exited. */
  terminate(): void {
    this.sendSignal('SIGTERM');
  }

  /** SIGKILL. Does nothing once the process has exited. */
  kill(): void {
    this.sendSignal('SIGKILL');
  }

  sendSignal(signal: NodeJS.Signals | number): void {
    let number: number;
    if (typeof signal === 'number') {
      if (!Number.isInteger(signal) || signal < 0 || signal > 64)
        throw new RangeError(`signal must be an integer from 0 to 64, got ${signal}`);
      number = signal;
    } else if (typeof signal === 'string' && signal in constants.signals) {
      number = constants.signals[signal];
    } else {
      throw new TypeError(`unknown signal ${JSON.stringify(signal)}: use a name like 'SIGUSR1' or a number`);
    }
    this.#requireStarted('signal');
    if (this.#isSelf) {
      process.kill(process.pid, number);
      return;
    }
    // A process that exited but was not yet reaped is a zombie: signalling it
    // is harmless; once reaped its pid may be reused, so never signal then.
    if (this.#exitCode !== null) return;
    process.kill(this.#pid!, number);
  }

  /**
   * @internal Resolves when the child has exited (its 'exit' was delivered),
   * without keeping the event loop alive as a pending join() does.
   */
  _whenExited(): Promise<void> {
    this.#requireStarted('watch');
    return this.#exited!;
  }

  /** Releases the process object; it must have exited. */
  close(): void {
    if (this.#phase === 'started' && this.isAlive()) {
      throw new Error(`cannot close process ${this.#name} while it is still running: join() or terminate() it first`);
    }
    this.#phase = 'closed';
    this.#child?.removeAllListeners();
    removeChild(this);
  }

  get pid(): number | undefined {
    return this.#isSelf ? process.pid : this.#pid;
  }

  /** null while running (or not started); the exit code; -N when killed by signal N. */
  get exitCode(): number | null {
    if (this.#phase === 'started' && this.#exitCode === null) this.#poll(0);
    return this.#exitCode;
  }

  get name(): string {
    return this.#name;
  }

  set name(value: string) {
    if (typeof value !== 'string') throw new TypeError(`name must be a string, got ${describe(value)}`);
    this.#name = value;
    if (this.#isSelf) state.name = value;
  }

  get daemon(): boolean {
    return this.#daemon;
  }

  set daemon(value: boolean) {
    if (typeof value !== 'boolean') throw new TypeError(`daemon must be a boolean, got ${describe(value)}`);
    if (this.#phase !== 'initial' || this.#isSelf) throw new Error('daemon can only be set before start()');
    this.#daemon = value;
  }

  /** Python's repr: <Process(Process-1, started daemon)>, <Worker(Worker-2, stopped[SIGTERM])>. */
  toString(): string {
    let status: string;
    if (this.#isSelf) status = 'started';
    else if (this.#phase === 'closed') status = 'closed';
    else if (this.#phase === 'initial') status = 'initial';
    else {
      const code = this.exitCode;
      status = code === null ? 'started' : code === 0 ? 'stopped' : `stopped[${exitCodeName(code)}]`;
    }
    return `<${this.constructor.name}(${this.#name}, ${status}${this.#daemon ? ' daemon' : ''})>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }

  /** @internal used by the bootstrap to make the object that represents the running child. */
  static _self(p: Process): void {
    p.#isSelf = true;
    p.#phase = 'started';
  }
}

/** The children of this process that are still running (finished ones are dropped). */
export function activeChildren(): Process[] {
  return runningChildren() as Process[];
}
