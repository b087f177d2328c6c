// One server under load (bench/http-load.mjs starts it): `pool` offloads the
// handler to a multiproc Pool of 2, `piscina` to piscina with 2 threads,
// `cluster` runs it inline in each of 2 cluster workers. Prints the port.
'use strict';
const cluster = require('node:cluster');
const http = require('node:http');
const path = require('node:path');

const kind = process.argv[2];
const ROUNDS = Number(process.argv[3] ?? 300);
const TASKS = path.join(__dirname, 'tasks.cjs');

function serve(handle) {
  const server = http.createServer((req, res) => {
    handle(req.url).then(
      (hash) => res.end(hash),
      (e) => {
        res.statusCode = 500;
        res.end(String(e));
      },
    );
  });
  server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => console.log(`port ${server.address().port}`));
}

if (kind === 'pool') {
  const { Pool } = require('../../dist/index.js');
  const { hashChain } = require(TASKS);
  const pool = new Pool(2, { module: TASKS });
  serve((url) => pool.apply(hashChain, [url, ROUNDS]));
} else if (kind === 'piscina') {
  const { Piscina } = require('piscina');
  const pool = new Piscina({ filename: TASKS, minThreads: 2, maxThreads: 2 });
  serve((url) => pool.run({ seed: url, rounds: ROUNDS }));
} else if (kind === 'cluster') {
  const { hashChain } = require(TASKS);
  if (cluster.isPrimary) {
    // A fixed port shared by the workers (cluster hands out connections).
    const port = 20000 + (process.pid % 20000);
    process.env.PORT = String(port);
    let listening = 0;
    for (let i = 0; i < 2; i++) cluster.fork({ PORT: String(port) }).on('listening', () => ++listening === 2 && console.log(`port ${port}`));
  } else {
    const server = http.createServer((req, res) => res.end(hashChain(req.url, ROUNDS)));
    server.listen(Number(process.env.PORT), '127.0.0.1');
  }
} else {
  throw new Error(`unknown server kind ${kind}`);
}
