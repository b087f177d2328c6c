// The word count of examples/wordcount_distributed.mjs, timed: `node
// bench/wordcount-run.mjs SAMPLES [REDIS_URL QUEUE]` runs its map and reduce
// SAMPLES times on a local Pool of 2 processes, or on the bullmq backend
// (worker hosts already started on QUEUE), and prints the ms of each run as
// JSON on its last line (the tasks print their "reading" lines before it).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const example = pathToFileURL(path.join(root, 'examples/wordcount_distributed.mjs')).href;
const { fileToWords, countWords } = await import(example);
const { Pool } = await import(pathToFileURL(path.join(root, 'dist/index.js')).href);

const [samples, url, queue] = process.argv.slice(2);
const inputs = fs
  .readdirSync(root)
  .filter((f) => f.endsWith('.md'))
  .map((f) => [f, fs.readFileSync(path.join(root, f), 'utf8')]);
const pool = new Pool(2, { module: example, ...(url ? { backend: { type: 'bullmq', connection: url, queue } } : {}) });
const times = [];
try {
  for (let k = 0; k <= Number(samples); k++) {
    const t = performance.now();
    const partitions = new Map();
    for (const pairs of await pool.map(fileToWords, inputs, { chunksize: 1 }))
      for (const [word, one] of pairs) (partitions.get(word) ?? partitions.set(word, []).get(word)).push(one);
    const counts = await pool.map(countWords, [...partitions], { chunksize: 100 });
    if (counts.length !== partitions.size) throw new Error('a word was lost');
    if (k > 0) times.push(performance.now() - t); // the first run warms up
  }
} finally {
  pool.close();
  await pool.join();
}
console.log(JSON.stringify(times));
