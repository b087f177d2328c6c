#!/usr/bin/env node
// `npx multiproc ls` lists our objects in /dev/shm: what each is, the program
// that made it and whether its tracker is alive, and who uses it.
// `npx multiproc clean` removes what it can prove orphaned (ts/shm/tracker.ts).
import { logToStderr } from '../base/logging';
import type { WorkerHostOptions } from '../scaleout/worker_host';
import { cleanSharedObjects, listSharedObjects, type SharedObjectInfo } from '../shm/tracker';

const USAGE = `usage: multiproc <command> [flags]

  ls [--json]     list multiproc's objects in /dev/shm (names "mp-..."): type, name, size,
                  owner, the program that made it and whether its resource tracker is
                  alive, and how many processes map it or hold it open
  clean [--dry-run] [--named] [--force]
                  remove orphans: generated objects whose program has no tracker left and
                  that no process maps or holds open (nothing else would remove them)
      --named     also named objects (Lock({ name }), SharedMemory "mp-...") no process uses
      --force     remove every object of ours, even in use: programs using them will fail
      --dry-run   print what would be removed, remove nothing
  worker --redis URL --module M [--queue Q] [--processes N] [--concurrency C]
         [--lock-duration MS] [--stalled-interval MS] [--max-stalled N] [--prefix P]
         [--max-payload-bytes B]
                  run the tasks of scale-out pools (Pool backend 'bullmq') on this machine:
                  N local worker processes (default: CPUs), C jobs at once (default N), only
                  functions exported by M; SIGTERM finishes the running jobs, then leaves
  help            print this text
`;

class UsageError extends Error {}

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

function status(o: SharedObjectInfo): string {
  const used = o.openBy.length > 0 || !o.openByComplete;
  if (o.named) return used ? 'in use' : 'unused';
  if (o.trackerAlive) return 'tracked';
  return used ? 'in use, tracker gone' : 'orphan';
}

function printTable(objects: SharedObjectInfo[]): void {
  if (objects.length === 0) {
    console.log('no multiproc objects in /dev/shm');
    return;
  }
  const rows = objects.map((o) => [
    o.type,
    o.name,
    formatSize(o.size),
    String(o.uid),
    o.program ?? '(named)',
    o.named ? '-' : o.trackerAlive ? `alive (${o.trackers.join(',')})` : 'gone',
    `${o.openBy.length}${o.openByComplete ? '' : '?'}`,
    status(o),
    o.modified.toISOString(),
  ]);
  const header = ['KIND', 'NAME', 'SIZE', 'UID', 'PROGRAM', 'TRACKER', 'USERS', 'STATUS', 'MODIFIED'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const row of [header, ...rows])
    console.log(
      row
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    );
}

function flagsOf(command: string, args: string[], allowed: string[]): Set<string> {
  for (const a of args) {
    if (!allowed.includes(a)) {
      throw new UsageError(
        `unknown ${a.startsWith('-') ? 'flag' : 'argument'} ${JSON.stringify(a)} for "${command}"` +
          (allowed.length ? ` (it takes ${allowed.join(', ')})` : ''),
      );
    }
  }
  return new Set(args);
}

// --flag value pairs of the worker command.
function workerOptions(args: string[]): WorkerHostOptions {
  const names: Record<string, keyof WorkerHostOptions> = {
    '--redis': 'redis',
    '--module': 'module',
    '--queue': 'queue',
    '--prefix': 'prefix',
    '--processes': 'processes',
    '--concurrency': 'concurrency',
    '--lock-duration': 'lockDuration',
    '--stalled-interval': 'stalledInterval',
    '--max-stalled': 'maxStalledCount',
    '--max-payload-bytes': 'maxPayloadBytes',
  };
  const numeric = new Set(['processes', 'concurrency', 'lockDuration', 'stalledInterval', 'maxStalledCount', 'maxPayloadBytes']);
  const out: Record<string, unknown> = {};
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split(/=(.*)/s, 2);
    const key = names[flag];
    if (!key) throw new UsageError(`worker: unknown flag ${JSON.stringify(args[i])}`);
    const value = inline ?? args[++i];
    if (value === undefined) throw new UsageError(`worker: ${flag} needs a value`);
    if (numeric.has(key)) {
      const n = Number(value);
      if (!Number.isInteger(n) || n < (key === 'maxStalledCount' ? 0 : 1))
        throw new UsageError(`worker: ${flag} must be a positive integer, got ${value}`);
      out[key] = n;
    } else out[key] = value;
  }
  if (out.redis === undefined) throw new UsageError('worker: --redis URL is required (redis://host:6379)');
  if (out.module === undefined) throw new UsageError('worker: --module M is required: only the functions it exports can run');
  return out as unknown as WorkerHostOptions;
}

async function worker(args: string[]): Promise<void> {
  const options = workerOptions(args);
  if (!process.env.MULTIPROC_QUIET) logToStderr('info');
  // Loaded here: `ls` and `clean` need none of the pool's machinery.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { startWorkerHost } = require('../scaleout/worker_host') as typeof import('../scaleout/worker_host');
  const host = await startWorkerHost(options);
  let signals = 0;
  const leave = (): void => {
    // A second signal: out now, before a running job can be reported failed (it stalls, and other hosts take it).
    if (++signals > 1) {
      host.abandon();
      process.exit(0);
    }
    void host.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', leave);
  process.on('SIGINT', leave);
}

function main(argv: string[]): number {
  const [command, ...args] = argv;
  if (command === 'worker' && (args.includes('--help') || args.includes('-h'))) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (command === 'worker') {
    worker(args).catch((e: unknown) => {
      if (e instanceof UsageError) process.stderr.write(`multiproc: ${e.message}\n\n${USAGE}`);
      else process.stderr.write(`multiproc worker: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(2);
    });
    return 0;
  }
  if (command === 'help' || command === '--help' || command === '-h') {
    flagsOf(command, args, []);
    process.stdout.write(USAGE);
    return 0;
  }
  if (command === 'ls') {
    const flags = flagsOf(command, args, ['--json']);
    const objects = listSharedObjects();
    if (flags.has('--json')) console.log(JSON.stringify(objects, null, 2));
    else printTable(objects);
    return 0;
  }
  if (command === 'clean') {
    const flags = flagsOf(command, args, ['--dry-run', '--named', '--force']);
    const options = { dryRun: flags.has('--dry-run'), named: flags.has('--named'), force: flags.has('--force') };
    if (options.force) {
      process.stderr.write(
        'multiproc clean --force: removing EVERY multiproc object in /dev/shm, including ones ' + 'in use: programs using them will fail\n',
      );
    }
    const verb = options.dryRun ? 'would remove' : 'removed';
    let removed = 0;
    let failed = 0;
    for (const d of cleanSharedObjects(listSharedObjects(), options)) {
      if (d.error) {
        failed++;
        console.error(`could not remove ${d.object.path}: ${d.error}`);
      } else if (d.remove) {
        removed++;
        console.log(`${verb} ${d.object.type} ${d.object.name}: ${d.reason}`);
      } else if (options.dryRun) {
        console.log(`would keep ${d.object.type} ${d.object.name}: ${d.reason}`);
      }
    }
    console.log(`${removed} object(s) ${options.dryRun ? 'would be removed' : 'removed'}`);
    return failed > 0 ? 1 : 0;
  }
  throw new UsageError(command === undefined ? 'no command given' : `unknown command ${JSON.stringify(command)}`);
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  if (!(e instanceof UsageError)) throw e;
  process.stderr.write(`multiproc: ${e.message}\n\n${USAGE}`);
  process.exitCode = 2;
}
