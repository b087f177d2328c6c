// The partner process of the cross-process benchmarks: a separate `node`
// that answers every ping, started by harness.spawnNode().
//
//   node bench/echo-process.mjs futex-sync  <segment> <parent pid> [<maxSpinNs> <adaptive 0|1> [<guardMs>]]
//   node bench/echo-process.mjs futex-async <segment> <parent pid> [<maxSpinNs> <adaptive 0|1> [<guardMs>]]
//   (an empty maxSpinNs keeps the default policy; guardMs: the timeout of
//   each async wait, see GUARD_MS in async-wake.mjs)
//   node bench/echo-process.mjs ipc                        (child_process.fork)
//
// futex protocol (same as bench/native/pingpong.c): the 32-bit word at offset
// 0 counts hand-offs. The parent stores an odd value; this side waits while
// the word holds the even value it wrote last, then answers value + 1.
// STOP (0xFFFFFFFF) ends the loop. Prints "ready" once it can answer, and
// at the end one JSON line: its spin policy (the adaptive budget it ended
// with is part of the story) and how many async waits lost their wake-up.

import { loadNative } from './lib/index.mjs';

const STOP = 0xffffffff;
const [mode, segName, parentPid, maxSpinNs = '', adaptive, guardMs = '1000'] = process.argv.slice(2);

if (mode === 'ipc') {
  process.on('message', (m) => process.send(m));
  process.on('disconnect', () => process.exit(0));
  // A message that arrives before the listener above exists is dropped, so
  // the parent sends nothing until it hears this.
  process.send('ready');
} else if (mode === 'futex-sync' || mode === 'futex-async') {
  const native = loadNative();
  // A child blocked in a futex must not outlive a bench that was killed.
  if (native.setParentDeathSignal(9) !== Number(parentPid)) process.exit(1);
  if (maxSpinNs !== '') native.setSpinPolicy(Number(maxSpinNs), adaptive === '1');
  const seg = native.Segment.open(segName);
  const word = new Uint32Array(seg.buffer.buffer, seg.buffer.byteOffset, 2);
  // stdout is a pipe: on Linux that write is synchronous, so "ready" is out
  // before the sync loop below takes the thread for good.
  process.stdout.write('ready\n');
  let mine = 0;
  let lostWakeups = 0;
  if (mode === 'futex-sync') {
    for (;;) {
      native.waitSync(seg, 0, mine);
      const v = Atomics.load(word, 0);
      if (v === mine) continue; // spurious wake-up
      if (v === STOP) break;
      mine = (v + 1) >>> 0;
      native.storeAndWake(seg, 0, mine, 1);
    }
  } else {
    let id = 0;
    for (;;) {
      const r = await native.wait(seg, 0, mine, Number(guardMs), ++id);
      const v = Atomics.load(word, 0);
      if (v === mine) continue; // spurious, or the parent is just slow
      if (r === 'timed-out') lostWakeups++;
      if (v === STOP) break;
      mine = (v + 1) >>> 0;
      native.storeAndWake(seg, 0, mine, 1);
    }
  }
  seg.close();
  process.stdout.write(`${JSON.stringify({ spinPolicy: native.getSpinPolicy(), lostWakeups })}\n`);
} else {
  process.stderr.write(`echo-process: unknown mode ${mode}\n`);
  process.exit(2);
}
