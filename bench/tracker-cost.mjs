// The resource tracker's cost (issue 2): how long the first object's creation
// waits for the tracker to start, and the tracker's memory. Each sample is a
// fresh `node` that starts its own tracker.
//   node bench/tracker-cost.mjs [samples]
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const probe = `
const fs = require('node:fs');
const { native } = require(${JSON.stringify(path.join(repo, 'dist/binding/native.js'))});
const t0 = process.hrtime.bigint();
const { pid } = native.trackerInfo();
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
const roll = (p) => fs.readFileSync('/proc/' + p + '/smaps_rollup', 'utf8');
const kib = (text, key) => Number(new RegExp('^' + key + ':\\\\s+(\\\\d+)', 'm').exec(text)[1]);
const t = roll(pid), me = roll('self');
console.log(JSON.stringify({ ms, rss: kib(t, 'Rss'), pss: kib(t, 'Pss'),
  private: kib(t, 'Private_Clean') + kib(t, 'Private_Dirty'), parentRss: kib(me, 'Rss') }));`;

const n = Number(process.argv[2] ?? 15);
const runs = Array.from({ length: n }, () => JSON.parse(execFileSync(process.execPath, ['-e', probe], { encoding: 'utf8' })));
const median = (key) => runs.map((r) => r[key]).sort((a, b) => a - b)[n >> 1];
const range = (key) => `${Math.min(...runs.map((r) => r[key]))}-${Math.max(...runs.map((r) => r[key]))}`;
console.log(`tracker start: median ${median('ms').toFixed(2)} ms (${n} fresh processes; min ${Math.min(...runs.map((r) => r.ms)).toFixed(2)}, max ${Math.max(...runs.map((r) => r.ms)).toFixed(2)})`);
console.log(`tracker memory: private ${median('private')} KiB (${range('private')}), PSS ${median('pss')} KiB, RSS ${median('rss')} KiB`);
console.log(`for scale, the node process that started it: RSS ${median('parentRss')} KiB`);
