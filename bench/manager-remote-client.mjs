// One client of the remote-manager benchmark (bench/suites/manager.mjs):
// connects to our remote manager or to redis-server, says "ready", waits
// for "go" on stdin, then makes one request at a time (get or set) for
// `windows` windows of `windowMs` each and prints the count of each window.
//   node manager-remote-client.mjs mp|redis HOST PORT OP WINDOWS WINDOW_MS   (authkey: MANAGER_AUTHKEY)
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const [kind, host, port, op, windows, windowMs] = process.argv.slice(2);
const here = path.dirname(fileURLToPath(import.meta.url));
let get, set, close;
if (kind === 'mp') {
  const { Manager } = await import(path.join(here, '..', 'dist', 'index.js'));
  const mgr = await Manager.connect({ host, port: Number(port) }, process.env.MANAGER_AUTHKEY);
  const d = await mgr.lookup('d');
  get = () => d.get('k');
  set = (i) => d.set('k', i);
  close = () => mgr.close();
} else {
  const { default: Redis } = await import('ioredis');
  const redis = new Redis({ host, port: Number(port), lazyConnect: true, maxRetriesPerRequest: 0 });
  await redis.connect();
  get = () => redis.get('k');
  set = (i) => redis.set('k', String(i));
  close = () => redis.quit();
}
const call = op === 'get' ? get : set;
for (let i = 0; i < 2000; i++) await call(i); // warm-up
console.log('ready');
const rl = readline.createInterface({ input: process.stdin });
await new Promise((resolve) => rl.once('line', resolve));
rl.close();
const counts = [];
let i = 0;
for (let w = 0; w < Number(windows); w++) {
  const end = performance.now() + Number(windowMs);
  let n = 0;
  while (performance.now() < end) {
    await call(i++);
    n++;
  }
  counts.push(n);
}
console.log(JSON.stringify(counts));
await close();
