// The partner thread of the worker_threads peers (bench/suites/async-wake.mjs).
//   workerData.mode 'message': echo every postMessage back.
//   workerData.mode 'atomics': the futex protocol of echo-process.mjs on a
//     SharedArrayBuffer, answering with Atomics.wait / Atomics.notify (the
//     in-process, pure-JS analogue of the addon's cells). STOP is -1 here
//     because the view is an Int32Array (Atomics.wait needs one).
import { parentPort, workerData } from 'node:worker_threads';

if (workerData.mode === 'message') {
  parentPort.on('message', (m) => parentPort.postMessage(m));
} else if (workerData.mode === 'atomics') {
  const word = new Int32Array(workerData.sab);
  parentPort.postMessage('ready');
  let mine = 0;
  for (;;) {
    Atomics.wait(word, 0, mine);
    const v = Atomics.load(word, 0);
    if (v === mine) continue;
    if (v === -1) break;
    mine = v + 1;
    Atomics.store(word, 0, mine);
    Atomics.notify(word, 0, 1);
  }
}
