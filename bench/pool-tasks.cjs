// Task functions for the Pool benchmarks: multiproc's Pool, piscina and
// tinypool load this file by name; workerpool through pool-worker-wp.cjs.
'use strict';
const crypto = require('node:crypto');

function noop(x) {
  return x;
}

// ~1 ms of CPU on this VM: a fixed number of sha256 rounds, so every process and peer does the same work.
const ROUNDS = 700;
function hashLoop(seed) {
  let h = String(seed);
  for (let i = 0; i < ROUNDS; i++) h = crypto.createHash('sha256').update(h).digest('hex');
  return h.length;
}

module.exports = { noop, hashLoop, default: noop };
