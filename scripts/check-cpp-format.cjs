#!/usr/bin/env node
// npm run lint: the C++ sources are as clang-format (.clang-format) writes them.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
function sources(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return /\.(cc|h)$/.test(e.name) ? [p] : [];
  });
}
const files = sources(path.join(root, 'native'));
const r = spawnSync('clang-format', ['--dry-run', '--Werror', ...files], { stdio: 'inherit' });
if (r.error) {
  console.error(`cannot run clang-format (${r.error.message}): install it (Debian: apt-get install clang-format)`);
  process.exit(2);
}
if (r.status !== 0) console.error('C++ formatting differs: run `npm run format`');
process.exit(r.status ?? 1);
