// Per test file: nothing that this process's tracker is responsible for may
// outlive the file once what the tests dropped has been collected (objects
// that own shared memory unlink it when collected). Objects of child
// processes carry their own tracker's pid; the global teardown checks those.
import { afterAll, expect } from 'vitest';
import { listSharedObjects } from '../../dist/index.js';
import { native } from '../../dist/binding/native.js';
import { running } from './child';
import { describeObjects } from './shm';

afterAll(async () => {
  for (const child of running) child.kill('SIGKILL');
  await Promise.all([...running].map((c) => new Promise((resolve) => c.once('exit', resolve))));
  // Finalizers run as separate tasks after a collection: give them turns.
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const me = native.trackerInfo().pid;
  const left = listSharedObjects()
    .filter((o) => o.trackerPid === me)
    .map((o) => o.name);
  expect(left, `objects this test file created and did not unlink:\n  ${describeObjects(left)}\n`).toEqual([]);
});
