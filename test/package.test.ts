// What a user gets from npm: the packed tarball installs with no compiler on
// PATH (the committed prebuild is loaded), works from ESM and CommonJS, and
// the prebuild was built from the native sources in this tree.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repo } from './helpers/child';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { sourceHash } = require('../scripts/source-hash.cjs') as { sourceHash(): string };

let work: string;
let project: string;
let noCompilerPath: string;

function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, {
    cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PATH: noCompilerPath, npm_config_nodedir: '', npm_config_update_notifier: 'false' },
  });
}

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'multiproc-pack-'));
  // A PATH with node, npm and sh only: no cc, c++, make or python for node-gyp.
  const bin = path.join(work, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  const npmCli = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
  fs.symlinkSync(fs.existsSync(npmCli) ? npmCli : execFileSync('which', ['npm'], { encoding: 'utf8' }).trim(), path.join(bin, 'npm'));
  fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
  noCompilerPath = bin;

  // --ignore-scripts: `prepare` would rebuild dist/ while other test files'
  // children load it (a half-written module fails to load); npm test has
  // built it already.
  const tarball = execFileSync('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', work], {
    cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
  }).trim().split('\n').pop()!;
  project = path.join(work, 'app');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  run(process.execPath, [path.join(bin, 'npm'), 'install', '--prefer-offline', '--no-audit', '--no-fund', path.join(work, tarball)], project);
}, 300_000);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('was installed where no compiler could be found', () => {
    for (const tool of ['cc', 'gcc', 'g++', 'c++', 'make', 'python3']) {
      expect(() => execFileSync('sh', ['-c', `command -v ${tool}`], { env: { PATH: noCompilerPath } })).toThrow();
    }
    expect(fs.existsSync(path.join(project, 'node_modules/multiproc/build'))).toBe(false);
    expect(fs.existsSync(path.join(project, 'node_modules/multiproc/prebuilds/linux-x64'))).toBe(true);
  });

  it('loads from CommonJS and shares memory', () => {
    const out = run(process.execPath, ['-e', `
      const { SharedMemory } = require('multiproc');
      const shm = new SharedMemory({ create: true, size: 16 });
      shm.buf[0] = 5;
      const again = new SharedMemory({ name: shm.name });
      console.log(again.buf[0]);
      again.close(); shm.close(); shm.unlink();`], project);
    expect(out.trim()).toBe('5');
  });

  it('loads from ESM with named exports and types', () => {
    const out = run(process.execPath, ['--input-type=module', '-e', `
      import { SharedMemory, Empty } from 'multiproc';
      import cjs from 'multiproc';
      console.log(typeof SharedMemory, new Empty() instanceof Error, cjs.SharedMemory === SharedMemory);`], project);
    expect(out.trim()).toBe('function true true');
    expect(fs.existsSync(path.join(project, 'node_modules/multiproc/dist/index.d.ts'))).toBe(true);
  });

  it('runs the prebuild built from this tree\'s native sources', () => {
    const loaded = run(process.execPath, ['-e', `
      const { native } = require('multiproc/package.json') && require(require.resolve('multiproc').replace(/index\\.js$/, 'native.js'));
      console.log(native.sourceHash);`], project).trim();
    expect(loaded, 'prebuilds/ is stale: run `npm run build:prebuild` and commit prebuilds/').toBe(sourceHash());
  });

  it('has no npm pre/post hooks around its own scripts (a `prebuild` script used to rewrite the committed binary on every `npm run build`)', () => {
    const { scripts } = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const hooks = Object.keys(scripts).filter((k) => /^(pre|post)/.test(k) && k.replace(/^(pre|post)/, '') in scripts);
    expect(hooks).toEqual([]);
  });

  it('has a working CLI', () => {
    const out = run(process.execPath, [path.join(project, 'node_modules/.bin/multiproc'), 'ls'], project);
    expect(out).toMatch(/multiproc objects|KIND/);
  });
});
