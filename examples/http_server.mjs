// A Node server that offloads a CPU-bound handler to a Pool: the event loop
// stays free for other requests while the workers hash. GET /hash?n=700
// answers the sha256 chain of n rounds; GET / answers at once.
//
//   node examples/http_server.mjs            # serves on PORT (default 8080)
//   node examples/http_server.mjs --selftest # serves on a free port, sends itself 20 requests, exits
import { createHash } from 'node:crypto';
import http from 'node:http';
import { Pool, isMainProcess } from 'multiproc';

export function hashChain(seed, rounds) {
  let h = seed;
  for (let i = 0; i < rounds; i++) h = createHash('sha256').update(h).digest('hex');
  return h;
}

if (isMainProcess()) {
  const selftest = process.argv.includes('--selftest');
  const pool = new Pool();
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    if (url.pathname !== '/hash') {
      res.end('ok\n');
      return;
    }
    const rounds = Math.min(Number(url.searchParams.get('n') ?? 700) || 700, 100_000);
    try {
      // A request that takes too long is stopped, not left running in a worker.
      const hash = await pool.apply(hashChain, [url.searchParams.get('seed') ?? 'multiproc', rounds], { timeout: 10_000 });
      res.end(`${hash}\n`);
    } catch (e) {
      res.statusCode = e.name === 'TimeoutError' ? 503 : 500;
      res.end(`${e.name}: ${e.message}\n`);
    }
  });
  // Ctrl-C or SIGTERM: stop taking requests, let the running ones finish, then close the pool.
  const stop = () => {
    server.close();
    pool.close();
    void pool.join().then(() => console.log('pool closed'));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  server.listen(selftest ? 0 : Number(process.env.PORT ?? 8080), '127.0.0.1', async () => {
    const { port } = server.address();
    console.log(`listening on http://127.0.0.1:${port}`);
    if (!selftest) return;
    const get = (path) =>
      new Promise((resolve, reject) =>
        http
          .get(`http://127.0.0.1:${port}${path}`, (r) => {
            let body = '';
            r.on('data', (d) => (body += d)).on('end', () => resolve(body.trim()));
          })
          .on('error', reject),
      );
    const hashes = await Promise.all(Array.from({ length: 20 }, (_, i) => get(`/hash?n=700&seed=s${i % 2}`)));
    console.log(`20 requests: ${new Set(hashes).size} distinct answers, each ${hashes[0].length} hex digits`);
    console.log(`the loop answered / meanwhile: ${await get('/')}`);
    console.log(`the same as here: ${hashes[0] === hashChain('s0', 700)}`);
    stop();
  });
}
