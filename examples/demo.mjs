// npm run demo: what multiproc does so far, on real processes.
// The main process creates one segment of shared memory and starts workers:
// each names itself, writes into its own slot of that memory (no copying, no
// messages), and exits with its own code. The segment travels to each worker
// as a handle -- its name -- and is removed by the resource tracker even if
// this program is killed half-way.
import { setTimeout as sleep } from 'node:timers/promises';
import { Process, SharedMemory, currentProcess, isMainProcess } from 'multiproc';

const SLOT = 8; // bytes per worker: one float64 counter

export function count(shm, slot, n) {
  const counters = new Float64Array(shm.buf.buffer, shm.buf.byteOffset, shm.size / SLOT);
  for (let i = 0; i < n; i++) counters[slot] += 1;
  const me = currentProcess();
  console.log(`  ${me.name.padEnd(10)} pid ${me.pid}: counted to ${counters[slot]} in slot ${slot}`);
}

export function quit(code) {
  console.log(`  ${currentProcess().name.padEnd(10)} pid ${process.pid}: exiting with code ${code}`);
  process.exit(code);
}

export async function linger() {
  console.log(`  ${currentProcess().name.padEnd(10)} pid ${process.pid}: waiting to be terminated`);
  await sleep(60_000);
}

if (isMainProcess()) {
  const shm = new SharedMemory({ create: true, size: 4 * SLOT });
  console.log(`main       pid ${process.pid}: created ${shm.name} (${shm.size} bytes, shared with every worker)`);

  const started = performance.now();
  const workers = [
    ...[0, 1, 2].map((slot) => new Process({ target: count, args: [shm, slot, 1_000_000 * (slot + 1)], name: `counter-${slot}` })),
    new Process({ target: quit, args: [3], name: 'quitter' }),
    new Process({ target: linger, name: 'lingerer' }),
  ];
  for (const w of workers) w.start();
  console.log(`main       pid ${process.pid}: started ${workers.map((w) => `${w.name} (${w.pid})`).join(', ')}`);

  await Promise.all(workers.slice(0, 4).map((w) => w.join()));
  workers[4].terminate();
  await workers[4].join();
  const ms = (performance.now() - started).toFixed(0);

  const counters = new Float64Array(shm.buf.buffer, shm.buf.byteOffset, 4);
  console.log(`main       pid ${process.pid}: all ${workers.length} exited within ${ms} ms:`);
  for (const w of workers) console.log(`    ${String(w).padEnd(42)} exitCode ${w.exitCode}`);
  console.log(`main       pid ${process.pid}: the counters in shared memory read ${[...counters.slice(0, 3)].join(', ')}`);
  shm.close();
  shm.unlink();
  console.log(`main       pid ${process.pid}: unlinked ${shm.name}; \`npx multiproc ls\` shows nothing left`);
}
