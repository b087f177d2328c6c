// Manager (issue 12): a dict proxy's get and set round trips, local manager,
// against CPython's Manager().dict() and a Map behind child_process.fork
// IPC, in the same run; a Namespace attribute read and write; and a remote
// manager over loopback TCP with 1 and 8 concurrent client processes,
// against CPython's remote manager and redis-server (GET/SET with ioredis),
// each started by the benchmark (skipped where absent).
import { fork, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import readline from 'node:readline';
import { BENCH_DIR, REPO_ROOT, freePort, measureLoop } from '../lib/index.mjs';
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

// ---- remote: N client processes, one request at a time each, for the same windows

const REMOTE_CLIENT = path.join(BENCH_DIR, 'manager-remote-client.mjs');

// Starts `count` clients, lets them go together once all are ready; ns per op over all clients, per window.
async function runClients(count, args, env, ctx) {
  const children = [];
  try {
    for (let c = 0; c < count; c++) {
      const child = spawn(process.execPath, [REMOTE_CLIENT, ...args, ctx.samples, ctx.sampleMs], {
        env: { ...process.env, ...env },
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      const lines = readline.createInterface({ input: child.stdout });
      const next = () => new Promise((resolve, reject) => {
        lines.once('line', resolve);
        child.once('exit', (code) => reject(new Error(`a bench client exited (${code})`)));
      });
      children.push({ child, next });
    }
    const ready = children.map((c) => c.next());
    for (const r of await Promise.all(ready)) if (r !== 'ready') throw new Error(`a bench client said ${r}`);
    const results = children.map((c) => c.next());
    for (const c of children) c.child.stdin.write('go\n');
    const counts = (await Promise.all(results)).map((l) => JSON.parse(l));
    return { samples: counts[0].map((_, w) => (ctx.sampleMs * 1e6) / counts.reduce((sum, c) => sum + c[w], 0)) };
  } finally {
    for (const c of children) c.child.kill();
  }
}

const remoteOurs = (op, count) => async (ctx) => {
  const mp = await lib();
  const authkey = randomBytes(16).toString('hex');
  const mgr = new mp.Manager({ address: { host: '127.0.0.1', port: 0 }, authkey });
  await mgr.start();
  try {
    await mgr.publish('d', mgr.dict({ k: 1 }));
    return await runClients(count, ['mp', '127.0.0.1', mgr.address.port, op], { MANAGER_AUTHKEY: authkey }, ctx);
  } finally {
    await mgr.shutdown();
  }
};


async function hasIoredis() {
  try {
    await import('ioredis');
    return true;
  } catch {
    return false;
  }
}

const remoteRedis = (op, count) => async (ctx) => {
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) return { skipped: 'redis-server is not installed (apt-get install redis-server)' };
  if (!(await hasIoredis())) return { skipped: 'ioredis is not installed (a devDependency)' };
  const port = await freePort();
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  try {
    const { default: Redis } = await import('ioredis');
    for (let tries = 0; ; tries++) {
      const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      try {
        await probe.connect();
        await probe.set('k', '1');
        await probe.quit();
        break;
      } catch (e) {
        probe.disconnect();
        if (tries > 100) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    return await runClients(count, ['redis', '127.0.0.1', port, op], {}, ctx);
  } finally {
    server.kill();
  }
};

const PY_REMOTE = String.raw`
import json, multiprocessing as mp, os, sys, time
from multiprocessing.managers import BaseManager, DictProxy

store = {'k': 1}
def get_dict():
    return store

class DictManager(BaseManager):
    pass
DictManager.register('get_dict', callable=get_dict, proxytype=DictProxy)

def client(address, authkey, op, windows, window_s, ready, go, out):
    m = DictManager(address=address, authkey=authkey)
    m.connect()
    d = m.get_dict()
    for i in range(2000):
        d['k'] if op == 'get' else d.__setitem__('k', i)
    ready.release()
    go.wait()
    counts = []
    i = 0
    for _ in range(windows):
        end = time.perf_counter() + window_s
        n = 0
        while time.perf_counter() < end:
            if op == 'get':
                d['k']
            else:
                d['k'] = i
            i += 1
            n += 1
        counts.append(n)
    out.put(counts)

if __name__ == '__main__':
    op, count, windows, window_ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    authkey = os.urandom(16)
    m = DictManager(address=('127.0.0.1', 0), authkey=authkey)
    m.start()
    ready, go, out = mp.Semaphore(0), mp.Event(), mp.Queue()
    ps = [mp.Process(target=client, args=(m.address, authkey, op, windows, window_ms / 1000, ready, go, out)) for _ in range(count)]
    for p in ps: p.start()
    for _ in ps: ready.acquire()
    go.set()
    counts = [out.get() for _ in ps]
    for p in ps: p.join()
    m.shutdown()
    print(json.dumps([window_ms * 1e6 / sum(c[w] for c in counts) for w in range(windows)]))
`;

const remotePython = (op, count) => (ctx) => pythonSamples(PY_REMOTE, [op, count, ctx.samples, ctx.sampleMs]);

const RT = 'manager round trip';
const REMOTE = 'remote manager (loopback TCP)';
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
  ...[1, 8].flatMap((count) =>
    ['get', 'set'].flatMap((op) => [
      {
        name: `manager.remote-${op}-${count}c`,
        group: REMOTE,
        unit: 'ns/op',
        description: `${count} client process${count > 1 ? 'es' : ''}, await d.${op}() one at a time each (ops/s = 1e9 / figure)`,
        run: remoteOurs(op, count),
      },
      {
        name: `python.remote-${op}-${count}c`,
        group: REMOTE,
        unit: 'ns/op',
        description: `CPython remote BaseManager dict, ${count} client process${count > 1 ? 'es' : ''}`,
        run: remotePython(op, count),
      },
      {
        name: `redis.${op}-${count}c`,
        group: REMOTE,
        unit: 'ns/op',
        description: `redis-server ${op.toUpperCase()} via ioredis, ${count} client process${count > 1 ? 'es' : ''}`,
        run: remoteRedis(op, count),
      },
    ]),
  ),
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
  ...[1, 8].flatMap((count) =>
    ['get', 'set'].flatMap((op) => [
      { name: `remote ${op}, ${count} client(s), vs CPython remote manager`, of: `manager.remote-${op}-${count}c`, against: `python.remote-${op}-${count}c` },
      { name: `remote ${op}, ${count} client(s), vs redis-server`, of: `manager.remote-${op}-${count}c`, against: `redis.${op}-${count}c` },
    ]),
  ),
  { name: 'Namespace read vs CPython Manager dict get', of: 'manager.ns-read', against: 'python.manager-get' },
];
