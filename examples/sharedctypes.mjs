// The sharedctypes example of Python's multiprocessing documentation: a Value
// with its own lock, a raw Value, and arrays sharing one lock, changed by a
// child process in place.
import { Lock, Process, SharedArray, Value, isMainProcess } from 'multiproc';

export function modify(n, x, s, points) {
  n.value **= 2;
  x.value **= 2;
  s.getLock().acquireSync();
  s.view.set(Buffer.from(String.fromCharCode(...s.view).toUpperCase(), 'latin1'));
  s.getLock().release();
  for (let i = 0; i < points.length; i++) points.set(i, points.get(i) ** 2);
}

if (isMainProcess()) {
  const lock = new Lock();
  const n = new Value('i', 7);
  const x = new Value('d', 1 / 3, { lock: false });
  const s = new SharedArray('c', 'hello world', { lock });
  const points = new SharedArray('d', [1.875, -6.25, -5.75, 2.0, 2.375, 9.5], { lock }); // (x, y) pairs

  const p = new Process({ target: modify, args: [n, x, s, points] });
  p.start();
  await p.join();

  console.log(n.value);
  console.log(x.value);
  console.log(s.toArray().join(''));
  const xy = points.toArray();
  console.log(JSON.stringify([0, 2, 4].map((i) => [xy[i], xy[i + 1]])));
}
