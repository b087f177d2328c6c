// npm run demo: what multiproc does, on real processes.
// 1. Workers share one segment of memory: each names itself, writes into its
//    own slot (no copying, no messages) and exits with its own code.
// 2. A producer/consumer pipeline through queues (PyMOTW's poison-pill
//    pattern) reports its throughput.
// 3. A Pool maps CPU-bound work over its workers and reports the speedup
//    over running it here, then survives a worker killed in the middle.
// Every shared object travels to the workers as a handle -- its name -- and
// the resource tracker removes them even if this program is killed half-way.
import { setTimeout as sleep } from 'node:timers/promises';
import { createHash } from 'node:crypto';
import { Pool, Process, Queue, SharedMemory, WorkerLostError, cpuCount, currentProcess, isMainProcess } from 'multiproc';

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

// Pipeline stage: squares numbers until the poison pill (null).
export function square(tasks, results) {
  let n = 0;
  for (let x = tasks.getSync(); x !== null; x = tasks.getSync()) {
    results.putSync(x * x);
    n++;
  }
  results.putSync(null);
  console.log(`  ${currentProcess().name.padEnd(10)} pid ${process.pid}: squared ${n} numbers`);
}

// Pool task: ~1 ms of CPU (sha256 rounds).
export function hashWork(seed) {
  let h = String(seed);
  for (let i = 0; i < 700; i++) h = createHash('sha256').update(h).digest('hex');
  return h.slice(0, 8);
}

export function dieNow() {
  process.kill(process.pid, 'SIGKILL');
}

async function pool() {
  const TASKS = 400;
  const inputs = Array.from({ length: TASKS }, (_, i) => i);
  const workers = Math.max(2, cpuCount());
  const p = new Pool(workers);
  await p.map(hashWork, inputs.slice(0, 20)); // workers started and warm
  let t = performance.now();
  const here = inputs.map(hashWork);
  const oneMs = performance.now() - t;
  t = performance.now();
  const there = await p.map(hashWork, inputs, 1);
  const poolMs = performance.now() - t;
  console.log(
    `main       pid ${process.pid}: ${TASKS} x ~1 ms of sha256: ${oneMs.toFixed(0)} ms here, ${poolMs.toFixed(0)} ms in a Pool of ${workers} ` +
      `(${(oneMs / poolMs).toFixed(2)}x); results ${JSON.stringify(here) === JSON.stringify(there) ? 'identical' : 'DIFFERENT'}`,
  );
  const [lost, ...rest] = await Promise.allSettled([p.apply(dieNow), ...inputs.slice(0, 8).map((x) => p.apply(hashWork, [x]))]);
  const ok = rest.filter((r) => r.status === 'fulfilled').length;
  console.log(
    `main       pid ${process.pid}: a task that SIGKILLs its worker: ${lost.reason instanceof WorkerLostError ? 'WorkerLostError' : 'unexpected'} ` +
      `(pid ${lost.reason?.pid}, ${lost.reason?.signal}); the other ${ok} of ${rest.length} tasks completed; workers now ${p.pids.join(', ')}`,
  );
  p.close();
  await p.join();
}

async function pipeline() {
  const ITEMS = 100_000;
  const WORKERS = 2;
  const tasks = new Queue(1024);
  const results = new Queue(1024);
  const workers = Array.from({ length: WORKERS }, (_, i) => new Process({ target: square, args: [tasks, results], name: `squarer-${i}` }));
  for (const w of workers) w.start();
  const started = performance.now();
  // Async puts: this thread also drains `results`, so it must never block
  // on a full `tasks` (that would deadlock the pipeline).
  const producing = (async () => {
    for (let i = 0; i < ITEMS; i++) await tasks.put(i);
    for (let i = 0; i < WORKERS; i++) await tasks.put(null); // one poison pill per worker
  })();
  let sum = 0;
  let done = 0;
  // Consume on this side while producing: both queues are bounded.
  await Promise.all([
    producing,
    (async () => {
      while (done < WORKERS) {
        const r = await results.get();
        if (r === null) done++;
        else sum += r;
      }
    })(),
  ]);
  const seconds = (performance.now() - started) / 1000;
  for (const w of workers) await w.join();
  const expected = ((ITEMS - 1) * ITEMS * (2 * ITEMS - 1)) / 6;
  console.log(
    `main       pid ${process.pid}: ${ITEMS} items through 2 queues and ${WORKERS} processes in ${(seconds * 1000).toFixed(0)} ms ` +
      `(${Math.round((2 * ITEMS) / seconds).toLocaleString('en-US')} queue hand-offs/s); sum of squares ${sum === expected ? 'correct' : 'WRONG'}`,
  );
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
  console.log(`main       pid ${process.pid}: unlinked ${shm.name}`);
  console.log('');
  await pipeline();
  console.log('');
  await pool();
}
