// The child side: what runs first in every process multiproc starts.
// It reads its start payload, becomes the named process, imports the
// target's module (with isMainProcess() false) and runs the target. Then it
// ends as any Node program does: once the target has settled and the event
// loop has nothing left (a listening server or a pending timer keeps it
// alive, as non-daemon threads keep a Python process), or at process.exit().
// The exit code is Python's: 0 (or process.exitCode) when the target
// returns, 1 when it throws or anything is left uncaught (the stack printed
// under "Process <name>:"), n for process.exit(n).
import fs from 'node:fs';
import { addon, inheritTracker } from './binding/addon';
import { deserialize, loadHandleKinds } from './share/handles';
import { getLogger, logToStderr } from './base/logging';
import { CHILD } from './base/child';
import { installKindModules } from './kinds';
import { decodePayload, type StartPayload } from './process/payload';
import type { Process } from './process/process';
import { reviveProcess } from './process/revive';
import { state } from './base/identity';
import { importExport } from './base/modules';

/** Reads a variable of ours and removes it from the environment. */
function takeEnv(name: string): string | undefined {
  const value = process.env[name];
  delete process.env[name];
  return value;
}

// The tracker pipe arrives as an inherited fd named in the environment. Take
// it out of process.env at once: a process the user spawns from here would
// inherit the variable but not the fd.
function takeTrackerFromEnv(): void {
  const fd = Number(takeEnv(CHILD.env.trackerFd));
  const pid = Number(takeEnv(CHILD.env.trackerPid));
  if (Number.isInteger(fd) && fd > 2 && Number.isInteger(pid) && pid > 0) inheritTracker(fd, pid);
}

function readPayload(): StartPayload | undefined {
  const data = fs.readFileSync(CHILD.payloadFd);
  fs.closeSync(CHILD.payloadFd);
  // EOF with nothing: a spare that was never used (its parent retired it or exited).
  return data.length === 0 ? undefined : decodePayload(data);
}

// A spare (process/spares.ts) gets ready before it knows what it will run: it
// imports the module most targets live in and dies with its parent until
// it is claimed. The blocking read of its payload then waits idle.
async function prepareSpare(): Promise<void> {
  const parentPid = Number(takeEnv(CHILD.env.parentPid));
  const preload = takeEnv(CHILD.env.preload);
  state.name = 'SpareProcess';
  state.parent = { name: 'MainProcess', pid: parentPid }; // isMainProcess() is false from here on
  if (addon().setParentDeathSignal(9) !== parentPid) process.kill(process.pid, 'SIGKILL');
  // Idle until claimed: load what reopening the claimer's arguments needs now.
  loadHandleKinds();
  if (preload) {
    state.bootstrapping = true;
    try {
      state.loadedModules.set(preload, (await import(preload)) as Record<string, unknown>);
    } finally {
      state.bootstrapping = false;
    }
  }
}

function fail(name: string, error: unknown): never {
  const text = error instanceof Error ? (error.stack ?? String(error)) : String(error);
  process.stderr.write(`Process ${name}:\n${text}\n`);
  process.exit(1);
}

// An error nobody caught, at any time (also after the target returned): an
// unhandled rejection reaches here too, since Node's default
// (--unhandled-rejections=throw) turns it into an uncaught exception. When
// the user installed handlers of their own, they decide, as in any program.
function onUncaught(error: unknown): void {
  if (process.listenerCount('uncaughtException') > 1) return;
  fail(state.name, error);
}

// Python's last two log lines, once the process really ends: after the loop
// drained (or at process.exit(), or after an uncaught error).
function logExit(code: number): void {
  const logger = getLogger();
  logger.info('process shutting down');
  logger.info(`process exiting with exitcode ${code}`);
}

// The loop drained while the target's promise was still pending: nothing can
// settle it any more. Node ends a main module whose top-level await is stuck
// the same way, with exit code 13; say so rather than exit 0 as if it had
// finished.
function onUnsettled(name: string): void {
  process.stderr.write(
    `Process ${name}:\nWarning: the target never settled (its promise is still pending, ` +
      'and nothing is left for the event loop to do that could settle it); exiting with code 13, ' +
      'as Node does for an unsettled top-level await\n',
  );
  process.exitCode ??= 13;
}

function becomeDaemon(parentPid: number): void {
  // The kernel kills us when our parent dies, however it dies. If it died
  // before the request took effect, we have been re-parented: die now.
  if (addon().setParentDeathSignal(9) !== parentPid) process.kill(process.pid, 'SIGKILL');
}

function findExport(p: StartPayload): Promise<unknown> {
  return importExport(
    p,
    (ref) =>
      new Error(
        `cannot find the target: ${ref.module} has no export named "${ref.exportName}". ` +
          `The child process imports the ${p.kind === 'subclass' ? 'Process subclass' : 'target function'} by name: ` +
          'export it from that module, or pass { module } naming the module that exports it.',
      ),
  );
}

async function main(): Promise<void> {
  installKindModules();
  takeTrackerFromEnv();
  const spare = takeEnv(CHILD.env.spare) === '1';
  if (spare) await prepareSpare();
  const p = readPayload();
  if (!p) process.exit(0);
  // A claimed spare that is not a daemon must outlive its parent like any child.
  if (spare && !p.daemon) addon().setParentDeathSignal(0);
  Object.assign(state, {
    name: p.name,
    daemon: p.daemon,
    identity: p.identity,
    parent: p.parent,
    mainModule: p.mainModule,
    childCounter: 0,
    authkey: Buffer.from(p.authkey),
  });
  process.title = `node (multiproc ${p.name})`;
  if (p.daemon) becomeDaemon(p.parent.pid);
  const logger = getLogger();
  if (p.log.stderr) logToStderr(p.log.level);
  else logger.setLevel(p.log.level);
  process.on('uncaughtException', onUncaught);

  let self: Process;
  try {
    const exported = await findExport(p);
    const args = deserialize(p.args) as unknown[];
    const fields = deserialize(p.fields) as Record<string, unknown>;
    self = reviveProcess(p, exported, args, fields);
  } catch (e) {
    fail(p.name, e);
  }
  logger.info('child process calling run()');
  process.once('exit', logExit);
  let settled = false;
  const onBeforeExit = (): void => {
    if (!settled) onUnsettled(state.name);
  };
  process.once('beforeExit', onBeforeExit);
  try {
    await self.run();
  } catch (e) {
    fail(p.name, e);
  }
  settled = true;
  process.removeListener('beforeExit', onBeforeExit);
  // No process.exit() here: whatever the target left running (a server, a
  // timer, non-daemon children, a pending wait) keeps the process alive,
  // and the exit code is process.exitCode, 0 unless the user set it.
  // multiproc's own handles (the payload pipe, the tracker's pipe, the idle
  // async-wait bridge, idle spares, daemon children) never do.
  process.on('beforeExit', endAtBeforeExit);
}

// The loop has drained after the target settled: Node ends the process
// right after 'beforeExit' unless a listener schedules more work. With no
// listener but this one nothing can, so end it here with the code it would
// have had (process.exitCode, 0 unless set; 'exit' listeners run as usual),
// minus the teardown of the environment (finalizers, the heap), which costs
// a child ~1.5 ms more than process.exit() and serves nothing at this point.
function endAtBeforeExit(): void {
  if (process.listenerCount('beforeExit') === 1) process.exit();
}

void main();
