// npm run demo: what multiproc does so far, on real processes.
// Two node processes share one segment of memory: the parent creates it, a
// child opens it by the name it was handed, and each sees the other's writes
// without a byte being copied. The segment is removed by the resource
// tracker even if this program is killed half-way.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { SharedMemory, serialize, deserialize } from 'multiproc';

if (process.argv[2] === 'child') {
  // The handle arrives as serialized text: a name, not the memory.
  const { shm } = deserialize(Buffer.from(process.argv[3], 'base64'));
  const counters = new Float64Array(shm.buf.buffer, shm.buf.byteOffset, 2);
  console.log(`  child  ${process.pid}: opened ${shm.name}, reads "${shm.buf.toString('utf8', 16, 16 + 29)}"`);
  for (let i = 0; i < 1_000_000; i++) counters[1] += 1; // counts in shared memory
  shm.buf.write('hello from the child', 64);
  shm.close();
} else {
  const shm = new SharedMemory({ create: true, size: 4096 });
  console.log(`parent ${process.pid}: created ${shm.name} (${shm.size} bytes, mode 0600, tracked)`);
  shm.buf.write('hello from the parent process', 16);

  const handle = serialize({ shm }).toString('base64');
  const started = performance.now();
  const child = spawn(process.execPath, [new URL(import.meta.url).pathname, 'child', handle], { stdio: 'inherit' });
  const [code] = await once(child, 'exit');

  const counters = new Float64Array(shm.buf.buffer, shm.buf.byteOffset, 2);
  console.log(`parent ${process.pid}: child exited with code ${code} after ${(performance.now() - started).toFixed(0)} ms`);
  console.log(`parent ${process.pid}: the child counted to ${counters[1]} in memory we share`);
  console.log(`parent ${process.pid}: and left "${shm.buf.toString('utf8', 64, 64 + 20)}"`);
  shm.close();
  shm.unlink();
  console.log(`parent ${process.pid}: unlinked ${shm.name}; \`npx multiproc ls\` shows nothing left`);
}
