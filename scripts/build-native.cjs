#!/usr/bin/env node
// Builds the addon from source into build/Release (which node-gyp-build
// prefers over prebuilds/). Incremental: configures only when needed.
// Headers come from the local Node (npm's `nodedir`, or the installed
// node's own include/node), so the build works offline.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');

function localNodedir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = path.join(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? path.resolve(prefix) : undefined;
}

const nodedir = localNodedir();
const args = nodedir ? [`--nodedir=${nodedir}`] : [];
const run = (cmd) =>
  execFileSync(process.execPath, [nodeGyp, cmd, ...args], { cwd: root, stdio: 'inherit' });

// The source hash is baked in at configure time: configure again when the
// native sources changed since the last configure.
const { sourceHash } = require('./source-hash.cjs');
const stamp = path.join(root, 'build', 'source-hash.txt');
const hash = sourceHash();
const configured = fs.existsSync(path.join(root, 'build', 'Makefile')) &&
  fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === hash;
if (!configured) {
  run('configure');
  fs.writeFileSync(stamp, hash);
}
run('build');
