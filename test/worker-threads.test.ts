// worker_threads that use multiproc: terminating one, or one exiting, while
// it has async waits pending must leave the process running and every other
// thread's waits intact (regression: shared/repro/worker-terminate-crashes-
// process.mjs crashed the whole process with SIGSEGV or SIGABRT).
// Each case runs in a child `node`, so a crash is an exit by signal there,
// not the end of this test file.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeCode, repo, startNode } from './helpers/child';

const dist = path.join(repo, 'dist/index.js');

// Runs `body` in a child that has an Event `ev` (also the main thread's) and
// a helper `spawnWorker(code)` starting a worker that has `mp` and its `ev`.
async function scenario(body: string): Promise<{ code: number; out: string; err: string }> {
  const child = startNode(
    nodeCode(`
    const { Worker } = require('node:worker_threads');
    const ev = new mp.Event();
    const handle = mp.serialize(ev);
    function spawnWorker(code) {
      return new Worker(\`
        const mp = require(${JSON.stringify(dist)});
        const { workerData, parentPort } = require('node:worker_threads');
        const ev = mp.deserialize(Buffer.from(workerData));
        \${code}\`, { eval: true, workerData: handle });
    }
    const message = (w) => new Promise((resolve) => w.once('message', resolve));
    const exited = (w) => new Promise((resolve) => w.once('exit', resolve));
    (async () => { ${body} })().then(
      () => console.log('survived'),
      (e) => { console.log('failed', e && e.stack); process.exitCode = 1; });`),
  );
  const code = await child.exited;
  return { code, out: child.stdout(), err: child.stderr() };
}

describe('worker_threads', () => {
  it('terminating a worker whose async waits are pending leaves the process running (was SIGSEGV)', async () => {
    const r = await scenario(`
      for (let i = 0; i < 5; i++) {
        const w = spawnWorker("ev.wait(60000); new mp.Lock().acquire(); parentPort.postMessage('waiting');");
        await message(w);
        await w.terminate();
      }`);
    expect(r.err).not.toMatch(/terminate called|Segmentation/);
    expect(r.out).toContain('survived');
    expect(r.code).toBe(0);
  });

  it('terminating a worker whose wait just completed, and one that never waited, is harmless (was SIGABRT)', async () => {
    const r = await scenario(`
      for (let i = 0; i < 5; i++) {
        const w = spawnWorker("ev.wait(60000).then(() => parentPort.postMessage('woke')); parentPort.postMessage('waiting');");
        await message(w);
        ev.set();
        await w.terminate();
        ev.clear();
        const idle = spawnWorker("parentPort.postMessage('idle');");
        await message(idle);
        await idle.terminate();
      }`);
    expect(r.err).not.toMatch(/terminate called|Segmentation/);
    expect(r.code).toBe(0);
  });

  it('a worker that exits with waits pending (process.exit inside it) leaves the waits of the other threads intact', async () => {
    const r = await scenario(`
      // The main thread waits on the same event as the workers.
      const mine = ev.wait(60000);
      const other = spawnWorker("ev.wait(60000).then((r) => parentPort.postMessage('other woke ' + r)); parentPort.postMessage('waiting');");
      await message(other);
      for (let i = 0; i < 3; i++) {
        const w = spawnWorker("ev.wait(60000); setImmediate(() => process.exit(3));");
        const code = await exited(w);
        if (code !== 3) throw new Error('worker exited with ' + code);
      }
      const woke = message(other);
      ev.set();
      if ((await mine) !== true) throw new Error('the wait of the main thread did not resolve true');
      console.log(await woke);
      await other.terminate();`);
    expect(r.out).toContain('other woke true');
    expect(r.out).toContain('survived');
    expect(r.code).toBe(0);
  });

  it('a worker that ends normally after its waits settled exits 0', async () => {
    const r = await scenario(`
      const w = spawnWorker("ev.wait(60000).then((r) => parentPort.postMessage('woke ' + r));");
      const woke = message(w);
      ev.set();
      console.log(await woke);
      console.log('exit', await exited(w));`);
    expect(r.out).toContain('woke true');
    expect(r.out).toContain('exit 0');
    expect(r.code).toBe(0);
  });
});
