#!/usr/bin/env node
// Prints a short hash of the native sources. It is compiled into the addon
// (addon.sourceHash), so a test can tell whether the committed prebuild was
// built from the native code in this tree.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');

function nativeSources() {
  const files = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      // native/tests/ is not compiled into the addon.
      if (entry.isDirectory()) { if (full !== path.join(root, 'native', 'tests')) walk(full); }
      else if (/\.(cc|h)$/.test(entry.name)) files.push(full);
    }
  };
  walk(path.join(root, 'native'));
  files.push(path.join(root, 'binding.gyp'));
  return files.map((f) => path.relative(root, f).split(path.sep).join('/')).sort();
}

function sourceHash() {
  const h = crypto.createHash('sha256');
  for (const rel of nativeSources()) {
    h.update(rel + '\0');
    // Normalise line endings so a checkout with CRLF hashes the same.
    h.update(fs.readFileSync(path.join(root, rel), 'utf8').replace(/\r\n/g, '\n') + '\0');
  }
  return h.digest('hex').slice(0, 16);
}

module.exports = { sourceHash };
if (require.main === module) process.stdout.write(sourceHash());
