// A long map with a progress bar: onProgress is called after every finished
// chunk with the inputs done so far and the total. Plain `\r` output on a
// terminal; one line per quarter when stdout is not one (a log, a pipe).
import { createHash } from 'node:crypto';
import { Pool, isMainProcess } from 'multiproc';

export function work(seed) {
  let h = String(seed);
  for (let i = 0; i < 200; i++) h = createHash('sha256').update(h).digest('hex');
  return h.length;
}

if (isMainProcess()) {
  const inputs = Array.from({ length: 2000 }, (_, i) => i);
  const pool = new Pool();
  const tty = process.stdout.isTTY;
  let quarter = 0;
  const bar = (done, total) => {
    const width = 30;
    const filled = Math.round((done / total) * width);
    if (tty) process.stdout.write(`\r[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total}`);
    else if (done * 4 >= (quarter + 1) * total) console.log(`progress: ${done}/${total} (${25 * ++quarter}%)`);
  };
  const results = await pool.map(work, inputs, { chunksize: 50, onProgress: bar });
  if (tty) process.stdout.write('\n');
  console.log(`done: ${results.length} results`);
  pool.close();
  await pool.join();
}
