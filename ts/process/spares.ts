// Spare processes: children started ahead of time, so that start() skips
// Node's own boot (~50-100 ms) and runs its target within a few ms -- what
// CPython's fork and forkserver give Python programs. A spare is a bootstrap
// that has already imported the module most targets live in (the main script
// by default) and blocks reading its payload pipe; start() claims one,
// writes the payload, and a replacement is started in the background.
//
// Spares are opt-in (setSpareProcesses). Idle ones do not keep the event loop
// alive, die with their parent however it dies (parent-death signal), and
// exit quietly when their pipe closes at the parent's exit. A spare runs with
// the environment the parent had when the spare was started.
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { addon } from '../binding/addon';
import { sendPayload, spawnBootstrap, type Booted, type Launched } from './launcher';
import { describe } from '../base/validate';
import { CHILD } from '../base/child';
import { state } from '../base/identity';
import { moduleUrl, prepareExports } from '../base/modules';

export interface SpareOptions {
  /** The module to import ahead of time (path, file URL or import.meta.url). Default: the main script. */
  module?: string | URL;
}

let wanted = 0; // setSpareProcesses()
let demand = 0; // demandSpares(): pools that recycle workers
let preload: string | undefined;
const target = (): number => wanted + demand;
const idle: Booted[] = [];
let refilling = false;

function preloadUrl(module: string | URL | undefined): string | undefined {
  if (module === undefined) return state.mainModule ? pathToFileURL(state.mainModule).href : undefined;
  return moduleUrl(module, 'the targets of spare processes');
}

function retire(spare: Booted): void {
  try {
    // EOF on its pipe: the spare exits quietly.
    fs.closeSync(spare.payloadFd);
  } catch {
    // already closed
  }
}

function startSpare(): void {
  const spare = spawnBootstrap({
    [CHILD.env.spare]: '1',
    [CHILD.env.parentPid]: String(process.pid),
    ...(preload ? { [CHILD.env.preload]: preload } : {}),
  });
  spare.child.unref();
  spare.child.once('exit', () => {
    const i = idle.indexOf(spare);
    if (i >= 0) {
      idle.splice(i, 1);
      retire(spare);
    }
  });
  idle.push(spare);
}

function refillSoon(): void {
  if (refilling) return;
  refilling = true;
  setImmediate(() => {
    refilling = false;
    while (idle.length < target()) startSpare();
  }).unref();
}

/**
 * Keeps `count` processes started ahead of time (0 retires them), so that
 * Process.start() runs its target within milliseconds instead of after a
 * Node start-up.
 */
export function setSpareProcesses(count: number, options: SpareOptions = {}): void {
  if (typeof count !== 'number' || !Number.isInteger(count)) throw new TypeError(`count must be an integer, got ${describe(count)}`);
  if (count < 0 || count > 256) throw new RangeError(`count must be from 0 to 256, got ${count}`);
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  const url = preloadUrl(options.module);
  if (url !== preload) {
    for (const spare of idle.splice(0)) retire(spare);
    preload = url;
  }
  wanted = count;
  while (idle.length > target()) retire(idle.pop()!);
  while (idle.length < target()) startSpare();
  // Off start()'s path: what start() will check the targets against.
  if (count > 0 && preload) {
    const url = preload;
    setImmediate(() => prepareExports(url)).unref();
  }
}

/** A live spare for start(), if one is ready; a replacement follows in the background. */
export function takeSpare(): Booted | undefined {
  while (idle.length > 0) {
    const spare = idle.shift()!;
    // A spare that died while idle ('exit' not yet delivered) is skipped.
    if (spare.child.exitCode === null && spare.child.signalCode === null && addon().waitChildExit(spare.pid, 0) === null) {
      refillSoon();
      return spare;
    }
    retire(spare);
  }
  if (target() > 0) refillSoon();
  return undefined;
}

/**
 * More (or, negative, fewer) spares for multiproc's own use: a Pool that
 * recycles its workers keeps one per worker, so a replacement runs within
 * milliseconds. They preload `module` (the module the pool's workers
 * import anyway), unless setSpareProcesses() chose one.
 */
export function demandSpares(delta: number, module?: string | URL): void {
  demand = Math.max(0, demand + delta);
  if (demand > 0 && wanted === 0 && idle.length === 0) preload = preloadUrl(module);
  while (idle.length > target()) retire(idle.pop()!);
  while (idle.length < target()) startSpare();
}

/** Starts a child (a pre-started spare if one is ready) and hands it `payload`. */
export function launch(payload: Buffer, daemon: boolean): Launched {
  const booted = takeSpare() ?? spawnBootstrap();
  sendPayload(booted.payloadFd, payload);
  // Daemons do not keep the event loop alive; others do, until they exit.
  if (daemon) booted.child.unref();
  else booted.child.ref();
  return { child: booted.child, pid: booted.pid };
}
