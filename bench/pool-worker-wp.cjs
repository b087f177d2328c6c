// workerpool's worker script: the same task functions.
'use strict';
const workerpool = require('workerpool');
const { noop, hashLoop } = require('./pool-tasks.cjs');
workerpool.worker({ noop, hashLoop });
