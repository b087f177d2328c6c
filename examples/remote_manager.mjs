// A job queue served over TCP with an authkey (CPython's "Using a remote
// manager" from the multiprocessing docs): this script starts a manager that
// listens on loopback, publishes a job queue and a result queue, and starts
// a worker as an unrelated program -- as another host would run it -- that
// connects with the address and the key and works through the jobs.
//
//   node examples/remote_manager.mjs            # the manager, and one worker it starts
//   MANAGER_ADDRESS=127.0.0.1:PORT MANAGER_AUTHKEY=... node examples/remote_manager.mjs worker
//
// (the key travels in the environment, not on the command line: `ps` shows arguments to everyone)
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Manager, isMainProcess } from 'multiproc';

async function worker() {
  const [host, port] = process.env.MANAGER_ADDRESS.split(':');
  const mgr = await Manager.connect({ host, port: Number(port) }, process.env.MANAGER_AUTHKEY);
  const jobs = await mgr.lookup('jobs');
  const results = await mgr.lookup('results');
  for (;;) {
    const n = await jobs.get();
    if (n === null) break;
    await results.put([n, n * n]);
  }
  await mgr.close();
}

async function serve() {
  const authkey = randomBytes(16).toString('hex');
  const mgr = new Manager({ address: { host: '127.0.0.1', port: 0 }, authkey });
  await mgr.start();
  const { host, port } = mgr.address;
  const jobs = mgr.Queue();
  const results = mgr.Queue();
  await mgr.publish('jobs', jobs);
  await mgr.publish('results', results);
  console.log(`manager listening on ${host}:${port}`);

  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'worker'], {
    env: { ...process.env, MANAGER_ADDRESS: `${host}:${port}`, MANAGER_AUTHKEY: authkey },
    stdio: 'inherit',
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  for (let n = 1; n <= 5; n++) await jobs.put(n);
  await jobs.put(null); // no more jobs
  for (let i = 0; i < 5; i++) {
    const [n, square] = await results.get();
    console.log(`${n} squared is ${square}`);
  }
  console.log(`worker exited with code ${await exited}`);

  // The wrong key is refused before the manager reads anything else.
  try {
    await Manager.connect({ host, port }, 'not the key');
  } catch (e) {
    console.log(`with a wrong key: ${e.name}`);
  }
  await mgr.shutdown();
}

if (isMainProcess()) await (process.argv[2] === 'worker' ? worker() : serve());
