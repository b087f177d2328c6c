// PyMOTW's word count (wordcount.mjs) from one machine to many: the same map
// and reduce on a Pool whose backend is BullMQ on Redis, run by two worker
// hosts (`npx multiproc worker`) started as separate programs -- on other
// machines they would be started the same way, with the same Redis URL.
//
//   node examples/wordcount_distributed.mjs [redis://host:6379]
//
// Without a URL it starts a redis-server of its own on a free loopback port
// (the binary must be installed: apt-get install redis-server), and stops it
// at the end. Needs `npm install bullmq ioredis`.
//
// Only the Pool's options change: the backend, and a chunksize, since a job
// costs about a millisecond of Redis round trips where a local task costs
// microseconds. A job carries a file's text, not its name: a host on another
// machine needs no shared disk, only this module.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Pool, currentProcess } from 'multiproc';

const STOP_WORDS = new Set('a an and are as be by for if in is it of or py rst that the to with'.split(' '));
const PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;

/** A file's [word, 1] pairs (the worker hosts run this: it is an export of their --module). */
export function fileToWords([name, text]) {
  console.log(`${currentProcess().name} reading ${name}`);
  const output = [];
  for (let line of text.split('\n')) {
    if (line.trimStart().startsWith('..')) continue; // skip comment lines
    line = line.replace(PUNCTUATION, ' '); // strip punctuation
    for (let word of line.split(/\s+/)) {
      word = word.toLowerCase();
      if (/^[a-z]+$/.test(word) && !STOP_WORDS.has(word)) output.push([word, 1]);
    }
  }
  return output;
}

/** The partitioned data for a word as [word, number of occurrences]. */
export function countWords([word, occurrences]) {
  return [word, occurrences.reduce((a, b) => a + b, 0)];
}

// --- the program (a worker host imports this module for its exports only) ---

const here = fileURLToPath(import.meta.url);
const cli = path.join(path.dirname(createRequire(import.meta.url).resolve('multiproc/package.json')), 'dist/cli/main.js');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function ownRedis() {
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) {
    console.error('no Redis URL given and no redis-server to start: apt-get install redis-server, or pass redis://host:6379');
    process.exit(2);
  }
  const port = await freePort();
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', ''], { stdio: 'ignore' });
  const accepts = () =>
    new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => resolve(true, c.destroy()));
      c.once('error', () => resolve(false));
    });
  while (!(await accepts())) {
    if (server.exitCode !== null) throw new Error('redis-server exited');
    await new Promise((r) => setTimeout(r, 20));
  }
  return { url: `redis://127.0.0.1:${port}`, stop: () => server.kill() };
}

/** `multiproc worker`, as a separate program; resolves once it takes jobs. Its lines are printed with its name. */
function startHost(name, url, queue) {
  const child = spawn(process.execPath, [cli, 'worker', '--redis', url, '--queue', queue, '--module', here, '--processes', '2'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((r) => child.once('exit', r));
  return new Promise((resolve, reject) => {
    let ready = false;
    const lines = (stream, out) => {
      let rest = '';
      stream.on('data', (d) => {
        const parts = (rest + d).split('\n');
        rest = parts.pop();
        for (const line of parts) out(line);
      });
    };
    lines(child.stdout, (line) => console.log(`[${name}] ${line}`));
    // Its log: what the host does ("worker: ..."), warnings and errors; not its processes' start-up chatter.
    lines(child.stderr, (line) => {
      if (/\] worker: /.test(line)) console.log(`[${name}] ${line.replace(/^\[\w+\/\w+\] /, '')}`);
      else if (/^\[(WARNING|ERROR)/.test(line)) console.error(`[${name}] ${line}`);
      if (!ready && /\] worker: \d+ process/.test(line)) {
        ready = true;
        resolve({ stop: () => (child.kill('SIGTERM'), exited) });
      }
    });
    child.once('exit', (code) => ready || reject(new Error(`${name} exited with code ${code}`)));
  });
}

if (process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url) {
  const redis = process.argv[2] ? { url: process.argv[2], stop() {} } : await ownRedis();
  const queue = 'wordcount';
  const starting = [startHost('host A', redis.url, queue), startHost('host B', redis.url, queue)];
  const hosts = await Promise.all(starting).catch(async (e) => {
    // One did not start: the other, and our redis-server, go too.
    for (const h of await Promise.allSettled(starting)) if (h.status === 'fulfilled') await h.value.stop();
    redis.stop();
    throw e;
  });

  const dir = path.join(path.dirname(here), '..');
  const inputs = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.md'))
    .map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]);

  const pool = new Pool(4, { backend: { type: 'bullmq', connection: redis.url, queue }, module: import.meta.url });
  try {
    // Map: a file per job. Partition here. Reduce: a hundred words per job.
    const partitions = new Map();
    for (const pairs of await pool.map(fileToWords, inputs, { chunksize: 1 }))
      for (const [word, one] of pairs) (partitions.get(word) ?? partitions.set(word, []).get(word)).push(one);
    const wordCounts = await pool.map(countWords, [...partitions], { chunksize: 100 });
    wordCounts.sort((a, b) => b[1] - a[1]);

    console.log('\nTOP 20 WORDS BY FREQUENCY\n');
    const top20 = wordCounts.slice(0, 20);
    const longest = Math.max(...top20.map(([word]) => word.length));
    for (const [word, count] of top20) console.log(`${word.padEnd(longest + 1)}: ${String(count).padStart(5)}`);
  } finally {
    pool.close();
    await pool.join();
    await Promise.all(hosts.map((h) => h.stop()));
    redis.stop();
  }
}
