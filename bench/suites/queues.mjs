// Queues and pipes (issue 5): round trips, one-way throughput and big
// buffers, against child_process IPC (async.fork-ipc) and CPython's
// multiprocessing.Queue and Pipe.
import path from 'node:path';
import { BENCH_DIR, REPO_ROOT, measureLoop } from '../lib/index.mjs';
import { runPython } from '../lib/python.mjs';

const TARGETS = path.join(BENCH_DIR, 'bench-targets.mjs');
const lib = () => import(path.join(REPO_ROOT, 'dist', 'index.js')).then((m) => m.default ?? m);
const SMALL = { id: 12345, name: 'small object', ok: true };
const ITEM64 = 'x'.repeat(64); // 64 bytes (the string fast path)

async function roundTrip(ctx, asyncSide) {
  const mp = await lib();
  const t = await import(TARGETS);
  const inbox = new mp.Queue();
  const outbox = new mp.Queue();
  const p = new mp.Process({ target: t.queueEcho, args: [inbox, outbox], module: TARGETS, daemon: true });
  p.start();
  try {
    const body = asyncSide
      ? async (n) => { for (let i = 0; i < n; i++) { await inbox.put(SMALL); await outbox.get(); } }
      : (n) => { for (let i = 0; i < n; i++) { inbox.putSync(SMALL); outbox.getSync(); } };
    const r = await measureLoop(body, ctx);
    return { samples: r.samples, extra: { roundTripsPerSample: r.opsPerSample } };
  } finally {
    inbox.putSync(null);
    await p.join(5000);
    if (p.exitCode === null) p.kill();
  }
}

async function pipeRoundTrip(ctx) {
  const mp = await lib();
  const t = await import(TARGETS);
  const [mine, theirs] = mp.Pipe();
  const p = new mp.Process({ target: t.pipeEchoBench, args: [theirs], module: TARGETS, daemon: true });
  p.start();
  try {
    const r = await measureLoop((n) => { for (let i = 0; i < n; i++) { mine.sendSync(SMALL); mine.recvSync(); } }, ctx);
    return { samples: r.samples, extra: { roundTripsPerSample: r.opsPerSample } };
  } finally {
    mine.sendSync(null);
    await p.join(5000);
    if (p.exitCode === null) p.kill();
  }
}

// One-way: producers in children, consumers in children (or this process);
// ns per item over the whole transfer. Timing starts once every producer and
// consumer process is up (a process start is ~100 ms, which is not what this
// measures). Each producer ends with one null: one per consumer.
async function throughput(ctx, producers, consumers, item, perProducer, capacityBytes = 1 << 20, consumerEnv = {}) {
  if (consumers !== 0 && consumers !== producers) throw new Error('each consumer stops at a null, and each producer sends one');
  const mp = await lib();
  const t = await import(TARGETS);
  const samples = [];
  for (let k = 0; k < ctx.samples; k++) {
    const q = new mp.Queue(4096, { capacityBytes });
    const done = new mp.Semaphore(0);
    const ready = new mp.Semaphore(0);
    const go = new mp.Event();
    const cons = Array.from({ length: consumers }, () =>
      new mp.Process({ target: t.queueConsume, args: [q, done, ready], module: TARGETS, daemon: true }));
    const prods = Array.from({ length: producers }, () =>
      new mp.Process({ target: t.queueProduce, args: [q, perProducer, item, ready, go], module: TARGETS, daemon: true }));
    const saved = { ...process.env };
    Object.assign(process.env, consumerEnv); // children take the environment at start
    try {
      for (const c of cons) c.start();
    } finally {
      for (const key of Object.keys(consumerEnv)) if (saved[key] === undefined) delete process.env[key]; else process.env[key] = saved[key];
    }
    for (const p of prods) p.start();
    for (let i = 0; i < producers + consumers; i++) await ready.acquire();
    const started = performance.now();
    go.set();
    if (consumers === 0) {
      let ended = 0;
      while (ended < producers) if (q.getSync() === null) ended++;
    } else {
      for (let i = 0; i < consumers; i++) await done.acquire();
    }
    const ms = performance.now() - started;
    for (const p of [...prods, ...cons]) await p.join();
    samples.push((ms * 1e6) / (producers * perProducer));
  }
  return { samples, extra: { note: `from the moment all producers are up; items per producer: ${perProducer}` } };
}

// A consumer copies each big item out of the ring into a new Buffer. glibc
// serves 1 MiB from its heap, but hands freed memory back to the kernel
// (trims) once a garbage collection frees a few dozen such Buffers together,
// so the next ones fault their pages in again: most of a default consumer's
// time. With these tunables (an application's choice; multiproc does not
// change malloc) the memory is kept and reused.
const MALLOC_KEEPS_MEMORY = 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=536870912';

// memcpy from DRAM, the yardstick for big items (the target is half its
// speed): 1 MiB copies between two 256 MiB buffers, far larger than any cache.
async function memcpyFromDram(ctx) {
  const MIB = 1 << 20;
  const src = Buffer.alloc(256 * MIB, 1);
  const dst = Buffer.alloc(256 * MIB, 2);
  let at = 0;
  const r = await measureLoop((n) => {
    for (let i = 0; i < n; i++) {
      src.copy(dst, ((at + 97) % 256) * MIB, at * MIB, (at + 1) * MIB);
      at = (at + 1) % 256;
    }
  }, ctx);
  return { samples: r.samples };
}

const PY_QUEUE = `
import multiprocessing as mp, time, json, sys
def echo(inbox, outbox):
    while True:
        item = inbox.get()
        if item is None: return
        outbox.put(item)
def pecho(conn):
    while True:
        msg = conn.recv()
        if msg is None: return
        conn.send(msg)
if __name__ == '__main__':
    kind, samples, sample_ms = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    small = {'id': 12345, 'name': 'small object', 'ok': True}
    if kind == 'queue':
        a, b = mp.Queue(), mp.Queue()
        p = mp.Process(target=echo, args=(a, b)); p.start()
        def once(): a.put(small); b.get()
        def stop(): a.put(None)
    else:
        mine, theirs = mp.Pipe()
        p = mp.Process(target=pecho, args=(theirs,)); p.start()
        def once(): mine.send(small); mine.recv()
        def stop(): mine.send(None)
    def run(n):
        t = time.perf_counter_ns()
        for _ in range(n): once()
        return (time.perf_counter_ns() - t) / n
    per = run(2000)
    n = max(200, int(sample_ms * 1e6 / per))
    out = [run(n) for _ in range(samples)]
    stop(); p.join()
    print(json.dumps(out))
`;

const PY_THROUGHPUT = `
import multiprocessing as mp, time, json, sys
def produce(q, n, ready, go):
    item = 'x' * 64
    ready.set(); go.wait()
    for _ in range(n): q.put(item)
    q.put(None)
if __name__ == '__main__':
    samples, n = int(sys.argv[1]), int(sys.argv[2])
    out = []
    for _ in range(samples):
        q, ready, go = mp.Queue(), mp.Event(), mp.Event()
        p = mp.Process(target=produce, args=(q, n, ready, go)); p.start()
        ready.wait()
        t = time.perf_counter_ns()
        go.set()
        while q.get() is not None: pass
        out.append((time.perf_counter_ns() - t) / n)
        p.join()
    print(json.dumps(out))
`;

function python(kind, ctx) {
  const samples = runPython(PY_QUEUE, [kind, ctx.samples, ctx.sampleMs]);
  return samples ? { samples } : { skipped: 'python3 with multiprocessing is not available' };
}

const rt = 'queue round trip';
export const benchmarks = [
  { name: 'queue.roundtrip-sync', group: rt, unit: 'ns/round trip', description: 'putSync a small object, a child echoes it back through a second Queue', run: (ctx) => roundTrip(ctx, false) },
  { name: 'queue.roundtrip-async', group: rt, unit: 'ns/round trip', description: 'the same with await put() / get() on this side', run: (ctx) => roundTrip(ctx, true) },
  { name: 'pipe.roundtrip', group: rt, unit: 'ns/round trip', description: 'Connection.sendSync / recvSync to an echoing child', run: pipeRoundTrip },
  { name: 'python.queue-roundtrip', group: rt, unit: 'ns/round trip', description: 'CPython mp.Queue put/get to an echoing child', run: (ctx) => python('queue', ctx) },
  { name: 'python.pipe-roundtrip', group: rt, unit: 'ns/round trip', description: 'CPython mp.Pipe send/recv to an echoing child', run: (ctx) => python('pipe', ctx) },
  {
    name: 'queue.throughput-1x1', group: 'queue one-way', unit: 'ns/item',
    description: '64-byte items, one producer process -> this process', run: (ctx) => throughput(ctx, 1, 0, ITEM64, 1_000_000),
  },
  {
    name: 'queue.throughput-4x4', group: 'queue one-way', unit: 'ns/item',
    description: '64-byte items, 4 producer processes -> 4 consumer processes', run: (ctx) => throughput(ctx, 4, 4, ITEM64, 250_000),
  },
  {
    name: 'python.queue-throughput', group: 'queue one-way', unit: 'ns/item', description: 'CPython mp.Queue, 64-byte str items, 1 -> 1',
    run: async (ctx) => {
      const samples = runPython(PY_THROUGHPUT, [ctx.samples, 200_000]);
      return samples ? { samples } : { skipped: 'python3 with multiprocessing is not available' };
    },
  },
  { name: 'mem.memcpy-1mib', group: 'queue one-way', unit: 'ns/MiB', description: 'Buffer.copy of 1 MiB between 256 MiB buffers (memcpy from DRAM)', run: memcpyFromDram },
  {
    name: 'queue.1mib-buffers', group: 'queue one-way', unit: 'ns/MiB',
    description: '1 MiB Buffers, one producer process -> this process, through an 8 MiB ring',
    run: (ctx) => throughput(ctx, 1, 0, Buffer.alloc(1 << 20, 1), 2000, 8 << 20),
  },
  {
    name: 'queue.1mib-buffers-malloc-tuned', group: 'queue one-way', unit: 'ns/MiB',
    description: 'the same into a consumer process whose glibc malloc keeps freed memory (GLIBC_TUNABLES)',
    run: (ctx) => throughput(ctx, 1, 1, Buffer.alloc(1 << 20, 1), 2000, 8 << 20, { GLIBC_TUNABLES: MALLOC_KEEPS_MEMORY }),
  },
  {
    name: 'queue.1mib-side-segments', group: 'queue one-way', unit: 'ns/MiB',
    description: 'the same through a 1 MiB ring: each item takes a side segment of its own',
    run: (ctx) => throughput(ctx, 1, 0, Buffer.alloc(1 << 20, 1), 300, 1 << 20),
  },
];

export const comparisons = [
  { name: 'Queue round trip (sync) vs fork IPC', of: 'queue.roundtrip-sync', against: 'async.fork-ipc', target: 0.05 },
  { name: 'Queue round trip (sync) vs CPython Queue', of: 'queue.roundtrip-sync', against: 'python.queue-roundtrip', target: 0.03 },
  { name: 'Queue round trip (async) vs fork IPC', of: 'queue.roundtrip-async', against: 'async.fork-ipc', target: 0.25 },
  { name: 'Pipe round trip vs CPython Pipe', of: 'pipe.roundtrip', against: 'python.pipe-roundtrip', target: 0.05 },
  { name: '64-byte throughput vs CPython Queue', of: 'queue.throughput-1x1', against: 'python.queue-throughput', target: 0.05 },
  { name: '1 MiB Buffers vs memcpy from DRAM (time per MiB)', of: 'queue.1mib-buffers', against: 'mem.memcpy-1mib', target: 2 },
  { name: '1 MiB Buffers, malloc keeping memory, vs memcpy', of: 'queue.1mib-buffers-malloc-tuned', against: 'mem.memcpy-1mib', target: 2 },
];
