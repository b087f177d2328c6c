// Manager (issue 12): a dict proxy's get and set round trips, local manager,
// against CPython's Manager().dict() and a Map behind child_process.fork
// IPC, in the same run; and a Namespace attribute read and write.
import { fork } from 'node:child_process';
import path from 'node:path';
import { BENCH_DIR, REPO_ROOT, measureLoop } from '../lib/index.mjs';
import { pythonSamples } from '../lib/python.mjs';

const lib = () => import(path.join(REPO_ROOT, 'dist', 'index.js')).then((m) => m.default ?? m);

async function withManager(body) {
  const mp = await lib();
  const mgr = new mp.Manager();
  await mgr.start();
  try {
    return await body(mgr);
  } finally {
    await mgr.shutdown();
  }
}

const loop = (ctx, body) => measureLoop(body, ctx).then((r) => ({ samples: r.samples }));

const ours = {
  getSync: (ctx) =>
    withManager((mgr) => {
      const d = mgr.dict({ k: 1 });
      return loop(ctx, (n) => {
        for (let i = 0; i < n; i++) d.getSync('k');
      });
    }),
  setSync: (ctx) =>
    withManager((mgr) => {
      const d = mgr.dict();
      return loop(ctx, (n) => {
        for (let i = 0; i < n; i++) d.setSync('k', i);
      });
    }),
  get: (ctx) =>
    withManager((mgr) => {
      const d = mgr.dict({ k: 1 });
      return loop(ctx, async (n) => {
        for (let i = 0; i < n; i++) await d.get('k');
      });
    }),
  set: (ctx) =>
    withManager((mgr) => {
      const d = mgr.dict();
      return loop(ctx, async (n) => {
        for (let i = 0; i < n; i++) await d.set('k', i);
      });
    }),
  nsRead: (ctx) =>
    withManager((mgr) => {
      const ns = mgr.Namespace({ x: 1 });
      return loop(ctx, (n) => {
        for (let i = 0; i < n; i++) void ns.x;
      });
    }),
  nsWrite: (ctx) =>
    withManager((mgr) => {
      const ns = mgr.Namespace();
      return loop(ctx, (n) => {
        for (let i = 0; i < n; i++) ns.x = i;
      });
    }),
};

async function forkMap(ctx, op) {
  const child = fork(path.join(BENCH_DIR, 'manager-fork-map.cjs'), [], { stdio: 'ignore', serialization: 'advanced' });
  const waiting = new Map();
  let next = 0;
  child.on('message', ([id, v]) => {
    waiting.get(id)(v);
    waiting.delete(id);
  });
  const call = (...args) => new Promise((resolve) => {
    const id = ++next;
    waiting.set(id, resolve);
    child.send([id, ...args]);
  });
  try {
    await call('set', 'k', 1);
    return await loop(ctx, async (n) => {
      for (let i = 0; i < n; i++) await (op === 'get' ? call('get', 'k') : call('set', 'k', i));
    });
  } finally {
    child.kill();
  }
}

const PY_MANAGER = String.raw`
import json, multiprocessing as mp, sys, time
if __name__ == '__main__':
    op, samples = sys.argv[1], int(sys.argv[2])
    m = mp.Manager()
    d = m.dict(); d['k'] = 1
    for i in range(500): d['k']
    out = []
    for _ in range(samples):
        n = 3000; t = time.perf_counter_ns()
        if op == 'get':
            for i in range(n): d['k']
        else:
            for i in range(n): d['k'] = i
        out.append((time.perf_counter_ns() - t) / n)
    m.shutdown()
    print(json.dumps(out))
`;

const python = (op) => (ctx) => pythonSamples(PY_MANAGER, [op, ctx.samples]);

const RT = 'manager round trip';
const NS = 'manager namespace';
export const benchmarks = [
  { name: 'manager.dict-getSync', group: RT, unit: 'ns/op', description: 'd.getSync(k), local manager', run: ours.getSync },
  { name: 'manager.dict-setSync', group: RT, unit: 'ns/op', description: 'd.setSync(k, i), local manager', run: ours.setSync },
  { name: 'manager.dict-get', group: RT, unit: 'ns/op', description: 'await d.get(k), one at a time', run: ours.get },
  { name: 'manager.dict-set', group: RT, unit: 'ns/op', description: 'await d.set(k, i), one at a time', run: ours.set },
  { name: 'python.manager-get', group: RT, unit: 'ns/op', description: "CPython Manager().dict(): d['k']", run: python('get') },
  { name: 'python.manager-set', group: RT, unit: 'ns/op', description: "CPython Manager().dict(): d['k'] = i", run: python('set') },
  { name: 'fork.map-get', group: RT, unit: 'ns/op', description: 'a Map behind child_process.fork IPC: get', run: (ctx) => forkMap(ctx, 'get') },
  { name: 'fork.map-set', group: RT, unit: 'ns/op', description: 'a Map behind child_process.fork IPC: set', run: (ctx) => forkMap(ctx, 'set') },
  { name: 'manager.ns-read', group: NS, unit: 'ns/op', description: 'ns.x (a blocking round trip)', run: ours.nsRead },
  { name: 'manager.ns-write', group: NS, unit: 'ns/op', description: 'ns.x = i (a blocking round trip)', run: ours.nsWrite },
];

export const comparisons = [
  { name: 'dict getSync vs CPython Manager dict get', of: 'manager.dict-getSync', against: 'python.manager-get', target: 0.1 },
  { name: 'dict setSync vs CPython Manager dict set', of: 'manager.dict-setSync', against: 'python.manager-set', target: 0.1 },
  { name: 'dict await get vs CPython Manager dict get', of: 'manager.dict-get', against: 'python.manager-get', target: 0.1 },
  { name: 'dict await set vs CPython Manager dict set', of: 'manager.dict-set', against: 'python.manager-set', target: 0.1 },
  { name: 'dict await get vs a Map behind fork IPC', of: 'manager.dict-get', against: 'fork.map-get' },
  { name: 'dict await set vs a Map behind fork IPC', of: 'manager.dict-set', against: 'fork.map-set' },
  { name: 'Namespace read vs CPython Manager dict get', of: 'manager.ns-read', against: 'python.manager-get' },
];
