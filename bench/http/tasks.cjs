// The CPU-bound handler every server under test runs: a chain of sha256 rounds.
'use strict';
const { createHash } = require('node:crypto');

function hashChain(seed, rounds) {
  let h = seed;
  for (let i = 0; i < rounds; i++) h = createHash('sha256').update(h).digest('hex');
  return h;
}

// piscina's entry: one object argument.
module.exports = ({ seed, rounds }) => hashChain(seed, rounds);
module.exports.hashChain = hashChain;
