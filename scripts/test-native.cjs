#!/usr/bin/env node
// Builds and runs the plain C++ tests of the native core (native/tests/),
// with ASan + UBSan, without Node-API: `npm run test:native`.
//
//   node scripts/test-native.cjs [binary-filter] [test-filter]
//     e.g. node scripts/test-native.cjs wait_cell ping_pong
//   env: MP_CTEST_SANITIZE=0     build without sanitizers
//        MP_CTEST_VERBOSE=1      print every binary's full output
//        CMAKE_BUILD_PARALLEL_LEVEL  build jobs (default 2)
//
// Why plain cmake and not cmake-js here: the tests need no Node headers at
// all, and cmake-js resolves headers before it runs cmake -- with neither
// "binary.napi_versions" in package.json nor npm's `nodedir` set, it
// downloads the node headers tarball, which fails offline. Plain cmake has no
// such step, works from a fresh clone without network, and builds the same
// CMakeLists.txt (cmake-js is for the addon target; see CMakeLists.txt).
//
// If cmake or a C++ compiler is missing, this prints why and exits 0: the
// shipped addon is covered by node-gyp + vitest anyway.
'use strict';
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const buildDir = path.join(root, 'build-native');
const [binaryFilter, testFilter] = process.argv.slice(2);
const verbose = process.env.MP_CTEST_VERBOSE === '1';
const jobs = process.env.CMAKE_BUILD_PARALLEL_LEVEL || '2';
const started = Date.now();

function which(cmd) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    const full = path.join(dir, cmd);
    try {
      fs.accessSync(full, fs.constants.X_OK);
      if (fs.statSync(full).isFile()) return full;
    } catch {
      // not here
    }
  }
  return null;
}

function skipAll(why) {
  console.log(`test:native: SKIPPED -- ${why}`);
  console.log('test:native: the native core tests need cmake (>= 3.16) and a C++17 compiler;');
  console.log('test:native: the shipped addon is still tested by vitest.');
  console.log('0 passed, 0 failed');
  process.exit(0);
}

if (process.platform !== 'linux') skipAll(`the native core has only a Linux backend (this is ${process.platform})`);
if (!which('cmake')) skipAll('cmake was not found on PATH');
const cxx = process.env.CXX ? which(process.env.CXX) || (fs.existsSync(process.env.CXX) && process.env.CXX) : null;
if (!cxx && !['c++', 'g++', 'clang++'].some(which)) skipAll('no C++ compiler (c++, g++, clang++ or $CXX) was found');

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.error) throw r.error;
  return r;
}

// ---- Configure + build ----------------------------------------------------------
const sanitize = process.env.MP_CTEST_SANITIZE === '0' ? 'OFF' : 'ON';
const configureArgs = ['-S', root, '-B', buildDir, `-DMP_SANITIZE=${sanitize}`, '-DMP_BUILD_TESTS=ON'];

// Two runs at once (two terminals) must not build in the same directory
// together: a lock file holding the owner's pid, taken over if it died.
const buildDirHash = crypto.createHash('sha256').update(buildDir).digest('hex').slice(0, 12);
const lock = path.join(os.tmpdir(), `multiproc-test-native-${buildDirHash}.lock`);
function takeLock() {
  const deadline = Date.now() + 600_000;
  for (;;) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    let owner = 0;
    try {
      owner = Number(fs.readFileSync(lock, 'utf8')) || 0;
      process.kill(owner, 0);
    } catch (e) {
      if (!owner || e.code === 'ESRCH') {
        fs.rmSync(lock, { force: true }); // stale
        continue;
      }
    }
    if (Date.now() > deadline) throw new Error(`test:native: ${lock} is held by pid ${owner}`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
  }
}
takeLock();
process.on('exit', () => {
  try {
    if (fs.readFileSync(lock, 'utf8') === String(process.pid)) fs.rmSync(lock, { force: true });
  } catch {
    // already gone
  }
});

// A build directory configured from another checkout path cannot be reused.
const cache = path.join(buildDir, 'CMakeCache.txt');
if (fs.existsSync(cache)) {
  const home = /^CMAKE_HOME_DIRECTORY:INTERNAL=(.*)$/m.exec(fs.readFileSync(cache, 'utf8'));
  if (home && path.resolve(home[1]) !== path.resolve(root)) fs.rmSync(buildDir, { recursive: true, force: true });
}

function step(label, cmd, args) {
  const r = run(cmd, args);
  if (r.status !== 0) {
    process.stdout.write(r.stdout || '');
    process.stderr.write(r.stderr || '');
    console.error(`test:native: ${label} failed (exit ${r.status})`);
  }
  return r.status === 0;
}

let configured = step('configure', 'cmake', configureArgs);
if (!configured && fs.existsSync(cache)) {
  // A stale cache (another compiler, another generator): start over once.
  console.error('test:native: configuring again from scratch');
  fs.rmSync(buildDir, { recursive: true, force: true });
  configured = step('configure', 'cmake', configureArgs);
}
if (!configured) process.exit(1);
if (!step('build', 'cmake', ['--build', buildDir, '-j', jobs])) process.exit(1);
fs.rmSync(lock, { force: true }); // the binaries themselves can run side by side
const builtAt = Date.now();

// ---- Run -------------------------------------------------------------------------
const binaries = fs
  .readdirSync(path.join(root, 'native', 'tests'))
  .filter((f) => /^test_.*\.cc$/.test(f))
  .map((f) => f.replace(/\.cc$/, ''))
  .filter((b) => !binaryFilter || b.includes(binaryFilter))
  .sort();
if (binaries.length === 0) {
  console.error(`test:native: no test binary matches "${binaryFilter}"`);
  process.exit(1);
}

const env = {
  ...process.env,
  // The user's own settings come last and win.
  ASAN_OPTIONS: ['detect_leaks=1', 'halt_on_error=1', 'abort_on_error=0', 'strict_string_checks=1',
    process.env.ASAN_OPTIONS].filter(Boolean).join(':'),
  UBSAN_OPTIONS: ['print_stacktrace=1', 'halt_on_error=1', process.env.UBSAN_OPTIONS].filter(Boolean).join(':'),
};

// Removes /dev/shm objects left by a test binary that died (a passing one
// removes its own, and fails if it cannot).
function removeLeftovers(pid) {
  let names = [];
  try {
    names = fs.readdirSync('/dev/shm');
  } catch {
    return;
  }
  for (const n of names) {
    const m = /^(?:sem\.)?mp-ctest-(\d+)-/.exec(n);
    if (!m) continue;
    const owner = Number(m[1]);
    let alive = owner !== pid;
    if (alive) {
      try {
        process.kill(owner, 0);
      } catch {
        alive = false;
      }
    }
    if (!alive) fs.rmSync(path.join('/dev/shm', n), { force: true });
  }
}
removeLeftovers(-1); // whatever earlier, killed runs left

// Output goes to build-native/<binary>.log, stdout and stderr through one
// file so that check failures and sanitizer reports stay in order (and no
// pipe is held open by a forked tracker process).
function runBinary(bin, extraEnv = {}, prefix = []) {
  const exe = path.join(buildDir, bin);
  const args = testFilter ? [testFilter] : [];
  const log = path.join(buildDir, `${bin}.log`);
  const fd = fs.openSync(log, 'w');
  const t0 = Date.now();
  const [cmd, argv] = prefix.length ? [prefix[0], [...prefix.slice(1), exe, ...args]] : [exe, args];
  let r;
  try {
    r = spawnSync(cmd, argv, {
      cwd: buildDir,
      env: { ...env, ...extraEnv },
      stdio: ['ignore', fd, fd],
      timeout: 240_000,
      killSignal: 'SIGKILL',
    });
  } finally {
    fs.closeSync(fd);
  }
  removeLeftovers(r.pid);
  return { ...r, ms: Date.now() - t0, output: fs.readFileSync(log, 'utf8') };
}

let passed = 0;
let failed = 0;
let skipped = 0;
const skippedLines = [];
for (const bin of binaries) {
  let r = runBinary(bin);
  let note = '';
  // LeakSanitizer needs ptrace-like access to stop the process; some
  // sandboxes forbid it. That says nothing about our code: rerun without it.
  if (r.status !== 0 && /LeakSanitizer (has encountered a fatal error|does not work under ptrace)/.test(r.output)) {
    note = ' (LeakSanitizer unavailable here: rerun with detect_leaks=0)';
    r = runBinary(bin, { ASAN_OPTIONS: `${env.ASAN_OPTIONS}:detect_leaks=0` });
  }
  // Older sanitizer runtimes crash at startup on kernels with high mmap
  // randomization (vm.mmap_rnd_bits > 28): retry once without ASLR.
  if (r.status !== 0 && !r.output.includes('[ RUN') && /Sanitizer:DEADLYSIGNAL/.test(r.output) && which('setarch')) {
    note += ' (sanitizer runtime crashed at startup: rerun under setarch -R)';
    r = runBinary(bin, {}, ['setarch', process.arch === 'arm64' ? 'aarch64' : 'x86_64', '-R']);
  }
  const m = /^MPTEST-RESULT \S+ passed=(\d+) failed=(\d+) skipped=(\d+)$/m.exec(r.output);
  let p;
  let f;
  let s;
  if (m) {
    [p, f, s] = [Number(m[1]), Number(m[2]), Number(m[3])];
  } else {
    // Died before its summary (crash, sanitizer report, timeout): what ran
    // counts, plus one failure for the binary itself.
    p = (r.output.match(/^\[ {7}OK \]/gm) || []).length;
    f = (r.output.match(/^\[ {2}FAILED {2}\]/gm) || []).length + 1;
    s = (r.output.match(/^\[ {2}SKIPPED \]/gm) || []).length;
  }
  for (const line of r.output.match(/^\[ {2}SKIPPED \] .*$/gm) || []) skippedLines.push(`${bin}: ${line.slice(13)}`);
  const ok = r.status === 0 && f === 0;
  if (!ok && m && f === 0) f = 1; // a non-zero exit with a clean summary still fails
  passed += p;
  failed += f;
  skipped += s;
  if (verbose || !ok) process.stdout.write(r.output.endsWith('\n') ? r.output : `${r.output}\n`);
  let why = '';
  if (r.signal) why = ` killed by ${r.signal}${r.signal === 'SIGKILL' && r.ms >= 240_000 ? ' (timeout)' : ''}`;
  else if (!ok) why = ` exit ${r.status}`;
  console.log(
    `${ok ? 'ok  ' : 'FAIL'} ${bin}: ${p} passed, ${f} failed${s ? `, ${s} skipped` : ''} ` +
      `(${(r.ms / 1000).toFixed(1)} s)${why}${note}`,
  );
}

for (const line of skippedLines) console.log(`skipped ${line}`);
const secs = (ms) => (ms / 1000).toFixed(1);
console.log(
  `test:native: ${binaries.length} binaries, sanitizers ${sanitize}, build ${secs(builtAt - started)} s, ` +
    `tests ${secs(Date.now() - builtAt)} s` +
    (skipped ? `, ${skipped} skipped` : ''),
);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
