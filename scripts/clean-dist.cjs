#!/usr/bin/env node
// Empties dist/ before tsc writes it: a module that was moved or removed in
// ts/ must not live on in dist/ (and in the published package) from an
// earlier build.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

fs.rmSync(path.join(__dirname, '..', 'dist'), { recursive: true, force: true });
