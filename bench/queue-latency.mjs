// The distribution of single queue round trips (a small object to an
// echoing child and back), which the medians of `npm run bench` hide:
//   node bench/queue-latency.mjs [sync|async] [rounds] [per-round]
// Prints p10/p50/p90/p99 and the mean per round, in microseconds. Needs
// `npm run build` first (it loads dist/).
import path from 'node:path';
import { BENCH_DIR, REPO_ROOT } from './lib/index.mjs';

const mp = await import(path.join(REPO_ROOT, 'dist', 'index.js')).then((m) => m.default ?? m);
const TARGETS = path.join(BENCH_DIR, 'bench-targets.mjs');
const t = await import(TARGETS);
const SMALL = { id: 12345, name: 'small object', ok: true };
const mode = process.argv[2] ?? 'sync';
const rounds = Number(process.argv[3] ?? 4);
const n = Number(process.argv[4] ?? 20000);

const inbox = new mp.Queue();
const outbox = new mp.Queue();
const p = new mp.Process({ target: t.queueEcho, args: [inbox, outbox], module: TARGETS, daemon: true });
p.start();
// Not timed: the child's start-up, and both sides' JIT and spin budgets settling.
for (let i = 0; i < 2000; i++) {
  inbox.putSync(SMALL);
  outbox.getSync();
}
for (let round = 0; round < rounds; round++) {
  const us = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    if (mode === 'async') {
      await inbox.put(SMALL);
      await outbox.get();
    } else {
      inbox.putSync(SMALL);
      outbox.getSync();
    }
    us[i] = (performance.now() - start) * 1000;
  }
  const mean = us.reduce((a, b) => a + b) / n;
  us.sort();
  const at = (q) => us[Math.floor(q * (n - 1))].toFixed(1);
  console.log(`${mode} round ${round + 1}: p10 ${at(0.1)}  p50 ${at(0.5)}  p90 ${at(0.9)}  p99 ${at(0.99)}  mean ${mean.toFixed(1)} us`);
}
inbox.putSync(null);
await p.join();
