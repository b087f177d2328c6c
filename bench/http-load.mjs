// node bench/http-load.mjs [seconds=8] [rounds=300] [connections=16]
//
// The HTTP server a Node author would write (issue 11): each request runs
// ~0.3 ms of sha256 (rounds), offloaded to a multiproc Pool of 2, to
// piscina with 2 threads, or run inline in a `cluster` of 2. Each server is
// loaded by autocannon on loopback for the same time, in turn, twice;
// prints requests/s and p50/p99 latency of each run. Not part of
// `npm run bench`: its unit is requests, not ns per operation.
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const here = path.dirname(fileURLToPath(import.meta.url));
const [seconds = 8, rounds = 300, connections = 16] = process.argv.slice(2).map(Number);

function start(kind) {
  const child = spawn(process.execPath, [path.join(here, 'http', 'server.cjs'), kind, String(rounds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).on('line', (l) => {
      const m = /^port (\d+)$/.exec(l);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.once('exit', (code) => reject(new Error(`${kind} server exited (${code})`)));
  });
}

async function load(kind) {
  const { child, port } = await start(kind);
  try {
    await autocannon({ url: `http://127.0.0.1:${port}/warm`, connections, duration: 1 });
    const r = await autocannon({ url: `http://127.0.0.1:${port}/x`, connections, duration: seconds });
    return { kind, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx };
  } finally {
    child.kill();
  }
}

const rows = [];
for (let round = 0; round < 2; round++) {
  for (const kind of ['pool', 'piscina', 'cluster']) {
    const r = await load(kind);
    rows.push(r);
    console.log(`${kind.padEnd(8)} ${r.rps.toFixed(0).padStart(6)} req/s   p50 ${String(r.p50).padStart(4)} ms   p99 ${String(r.p99).padStart(4)} ms   errors ${r.errors}`);
  }
}
