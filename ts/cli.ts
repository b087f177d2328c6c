#!/usr/bin/env node
// `npx multiproc ls` lists our objects in /dev/shm with the tracker that owns
// them; `npx multiproc clean` removes orphans (their tracker is gone).
import fs from 'node:fs';
import { listSharedObjects, type SharedObjectInfo } from './tracker';

const USAGE = `usage: multiproc <command>

  ls [--json]      list multiproc's shared-memory segments and semaphores in /dev/shm,
                   with the resource tracker that will remove them and whether it is alive
  clean [--force]  remove orphans: objects whose tracker is gone (nothing else would remove
                   them). --force removes every object of ours, even those in use.
`;

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

function printTable(objects: SharedObjectInfo[]): void {
  if (objects.length === 0) {
    console.log('no multiproc objects in /dev/shm');
    return;
  }
  const rows = objects.map((o) => [
    o.kind, o.name, formatSize(o.size), String(o.uid), String(o.trackerPid),
    o.trackerAlive ? 'alive' : 'gone (orphan)', o.modified.toISOString(),
  ]);
  const header = ['KIND', 'NAME', 'SIZE', 'UID', 'TRACKER', 'TRACKER STATE', 'MODIFIED'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows]) console.log(row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
}

function main(argv: string[]): number {
  const [command, ...flags] = argv;
  if (command === 'ls') {
    const objects = listSharedObjects();
    if (flags.includes('--json')) console.log(JSON.stringify(objects, null, 2));
    else printTable(objects);
    return 0;
  }
  if (command === 'clean') {
    const force = flags.includes('--force');
    let removed = 0;
    for (const o of listSharedObjects()) {
      if (o.trackerAlive && !force) continue;
      try {
        fs.unlinkSync(o.path);
        removed++;
        console.log(`removed ${o.kind} ${o.name}`);
      } catch (e) {
        console.error(`could not remove ${o.path}: ${(e as Error).message}`);
      }
    }
    console.log(`${removed} object(s) removed`);
    return 0;
  }
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return command === undefined ? 1 : 0;
  }
  process.stderr.write(`multiproc: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
  return 1;
}

process.exitCode = main(process.argv.slice(2));
