// Per test file: nothing that this process's tracker is responsible for may
// outlive the file. (Objects of child processes carry their own tracker's
// pid; the global teardown checks those.)
import { afterAll, expect } from 'vitest';
import { listSharedObjects } from '../../dist/index.js';
import { native } from '../../dist/native.js';
import { running } from './child';

afterAll(async () => {
  for (const child of running) child.kill('SIGKILL');
  await Promise.all([...running].map((c) => new Promise((resolve) => c.once('exit', resolve))));
  const me = native.trackerInfo().pid;
  const left = listSharedObjects().filter((o) => o.trackerPid === me).map((o) => o.name);
  expect(left, 'objects this test file created and did not unlink').toEqual([]);
});
