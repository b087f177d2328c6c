// What a user gets from npm: the packed tarball installs with no compiler on
// PATH (the committed prebuild is loaded), works from ESM and CommonJS, its
// types resolve for both (attw), its README points only at files it ships and
// its snippets and examples run as written; and the prebuild was built from
// the native sources in this tree. (The types themselves: types.test.ts.)
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repo } from './helpers/child';
import { packRepo } from './helpers/pack';
import { promisify } from 'node:util';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { sourceHash } = require('../scripts/source-hash.cjs') as { sourceHash(): string };

let work: string;
let project: string;
let noCompilerPath: string;
let tarball: string;

function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PATH: noCompilerPath, npm_config_nodedir: '', npm_config_update_notifier: 'false' },
  });
}

/** Runs node in the app, for code that starts processes: a hang fails the test instead of blocking it. */
async function runNode(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, args, {
      cwd: project,
      encoding: 'utf8',
      timeout: 90_000,
      killSignal: 'SIGKILL',
      env: { ...process.env, PATH: noCompilerPath },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const { code, stdout, stderr } = e as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}

interface Snippet {
  lang: string;
  code: string;
  line: number;
}

/** The fenced code blocks of a Markdown text, and the text without them. */
function parseMarkdown(md: string): { snippets: Snippet[]; prose: string } {
  const snippets: Snippet[] = [];
  const prose: string[] = [];
  let open: Snippet | undefined;
  md.split('\n').forEach((l, i) => {
    const fence = /^```(\w*)\s*$/.exec(l);
    if (fence && !open) open = { lang: fence[1], code: '', line: i + 1 };
    else if (fence && open) {
      snippets.push(open);
      open = undefined;
    } else if (open) open.code += `${l}\n`;
    else prose.push(l);
  });
  return { snippets, prose: prose.join('\n') };
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
const anchorOf = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

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

  tarball = packRepo(work);
  project = path.join(work, 'app');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  run(process.execPath, [path.join(bin, 'npm'), 'install', '--prefer-offline', '--no-audit', '--no-fund', tarball], project);
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
    const out = run(
      process.execPath,
      [
        '-e',
        `
      const { SharedMemory } = require('multiproc');
      const shm = new SharedMemory({ create: true, size: 16 });
      shm.buf[0] = 5;
      const again = new SharedMemory({ name: shm.name });
      console.log(again.buf[0]);
      again.close(); shm.close(); shm.unlink();`,
      ],
      project,
    );
    expect(out.trim()).toBe('5');
  });

  it('loads from ESM with named exports and types', () => {
    const out = run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `
      import { SharedMemory, Empty } from 'multiproc';
      import cjs from 'multiproc';
      console.log(typeof SharedMemory, new Empty() instanceof Error, cjs.SharedMemory === SharedMemory);`,
      ],
      project,
    );
    expect(out.trim()).toBe('function true true');
    expect(fs.existsSync(path.join(project, 'node_modules/multiproc/dist/index.d.ts'))).toBe(true);
    expect(fs.existsSync(path.join(project, 'node_modules/multiproc/dist/index.d.mts'))).toBe(true);
  });

  it('has types that resolve for ESM and CommonJS consumers (are the types wrong?)', () => {
    // attw reads the tarball (no --pack: that would run `prepare`); no DefinitelyTyped
    // look-up, so it runs offline. It exits 1 when it finds a problem: read the JSON either way.
    const attw = path.join(repo, 'node_modules/@arethetypeswrong/cli/dist/index.js');
    let out: string;
    try {
      out = execFileSync(process.execPath, [attw, '--no-definitely-typed', '--format', 'json', tarball], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (e) {
      out = (e as { stdout: string }).stdout;
    }
    const { analysis } = JSON.parse(out) as {
      analysis: {
        problems: unknown[];
        entrypoints: Record<string, { resolutions: Record<string, { resolution?: { fileName: string } }> }>;
      };
    };
    expect(analysis.problems).toEqual([]);
    const typesFor = (kind: string) => analysis.entrypoints['.'].resolutions[kind]?.resolution?.fileName;
    expect(typesFor('node10')).toBe('/node_modules/multiproc/dist/index.d.ts');
    expect(typesFor('node16-cjs')).toBe('/node_modules/multiproc/dist/index.d.ts');
    expect(typesFor('node16-esm')).toBe('/node_modules/multiproc/dist/index.d.mts');
    expect(typesFor('bundler')).toBe('/node_modules/multiproc/dist/index.d.mts');
  });

  it("runs the prebuild built from this tree's native sources", () => {
    const loaded = run(
      process.execPath,
      [
        '-e',
        `
      const { native } = require('multiproc/package.json') && require(require.resolve('multiproc').replace(/index\\.js$/, 'binding/native.js'));
      console.log(native.sourceHash);`,
      ],
      project,
    ).trim();
    expect(loaded, 'prebuilds/ is stale: run `npm run build:prebuild` and commit prebuilds/').toBe(sourceHash());
  });

  it('has no npm pre/post hooks around its own scripts (a `prebuild` script used to rewrite the committed binary on every `npm run build`)', () => {
    const { scripts } = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const hooks = Object.keys(scripts).filter((k) => /^(pre|post)/.test(k) && k.replace(/^(pre|post)/, '') in scripts);
    expect(hooks).toEqual([]);
  });

  it('ships every file its README links to', () => {
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((f) => f.replace(/^package\//, ''));
    const readme = fs.readFileSync(path.join(project, 'node_modules/multiproc/README.md'), 'utf8');
    const { prose } = parseMarkdown(readme);
    const anchors = new Set([...readme.matchAll(/^#+ (.*)$/gm)].map((m) => anchorOf(m[1])));
    const links = [...prose.matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((l) => !/^[a-z]+:/.test(l));
    expect(links.length).toBeGreaterThan(3);
    const missing = links.filter((link) => {
      const [file, anchor] = link.split('#');
      if (!file) return !anchors.has(anchor);
      const target = path.posix.normalize(file);
      return !files.some((f) => f === target || f.startsWith(target.endsWith('/') ? target : `${target}/`));
    });
    expect(missing, 'README links to what the package does not have').toEqual([]);
    for (const f of ['examples/simple.mjs', 'examples/demo.mjs', 'CHANGELOG.md', 'dist/index.d.mts']) expect(files).toContain(f);
  });

  it('has README snippets that import every name of multiproc they use', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const exported = Object.keys(require(path.join(repo, 'dist/index.js')) as object).filter((n) => n !== '__esModule');
    const readme = fs.readFileSync(path.join(project, 'node_modules/multiproc/README.md'), 'utf8');
    const code = parseMarkdown(readme).snippets.filter((s) => /^(js|ts|mjs|cjs|mts|cts)$/.test(s.lang));
    expect(code.length).toBeGreaterThan(5);
    const problems: string[] = [];
    for (const s of code) {
      const text = s.code.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
      const imported = new Set<string>();
      for (const m of text.matchAll(/(?:import\s*\{([^}]*)\}\s*from|const\s*\{([^}]*)\}\s*=\s*require\()\s*['"]multiproc['"]/g)) {
        for (const item of (m[1] ?? m[2]).split(',')) {
          const name = item.trim().split(/\s+as\s+|\s*:\s*/)[0];
          if (name) imported.add(name);
        }
      }
      const body = text.replace(/^\s*import[^;]*;|const\s*\{[^}]*\}\s*=\s*require\([^)]*\)/gm, '');
      for (const name of exported) {
        if (new RegExp(`(?<![.\\w$])${name}\\b`).test(body) && !imported.has(name))
          problems.push(`README.md:${s.line}: ${name} is used but not imported`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('has README programs that run as written, as ES modules (top-level await)', async () => {
    const readme = fs.readFileSync(path.join(project, 'node_modules/multiproc/README.md'), 'utf8');
    // It says where top-level await works, and how to get there.
    const note =
      readme
        .split('\n\n')
        .map((para) => para.replace(/\s+/g, ' '))
        .find((para) => para.includes('top-level `await`')) ?? '';
    for (const what of ['ES module', '`.mjs`', '"type": "module"', 'CommonJS']) expect(note).toContain(what);
    // The complete programs: they guard their work with isMainProcess().
    const programs = parseMarkdown(readme).snippets.filter((s) => s.lang === 'js' && s.code.includes('isMainProcess()'));
    expect(programs.length).toBeGreaterThanOrEqual(3);
    for (const s of programs) {
      const file = path.join(project, `readme-${s.line}.mjs`);
      fs.writeFileSync(file, s.code);
      const r = await runNode([file]);
      expect({ line: s.line, code: r.code, stderr: r.stderr }).toEqual({ line: s.line, code: 0, stderr: '' });
      expect(r.stdout).not.toBe('');
      // A result written in the snippet's last comment ("// [ 0, 0, 0 ]") is what it prints.
      const promised = /console\.log\(.*\/\/\s*(\[.*\])\s*$/m.exec(s.code)?.[1];
      if (promised) expect(r.stdout.trim().split('\n').pop()).toBe(promised);
    }
  });

  it('runs its examples from node_modules/multiproc/examples/', async () => {
    const simple = await runNode([path.join(project, 'node_modules/multiproc/examples/simple.mjs')]);
    expect(simple).toEqual({ code: 0, stdout: 'Worker\n'.repeat(5), stderr: '' });
    const cjs = await runNode([path.join(project, 'node_modules/multiproc/examples/import_main.cjs')]);
    expect(cjs).toEqual({ code: 0, stdout: 'Worker\n'.repeat(5), stderr: '' });
  });

  it('makes the names its README documents', async () => {
    const readme = fs.readFileSync(path.join(project, 'node_modules/multiproc/README.md'), 'utf8');
    expect(readme).toContain('| `mp-<tag>-<16 hex digits>` |');
    expect(readme).toContain('| `mp-named.<name>` |');
    const name = `readme-names-${process.pid}-${Date.now()}`;
    const r = await runNode([
      '--input-type=module',
      '-e',
      `
      import fs from 'node:fs';
      import { Lock, SharedMemory } from 'multiproc';
      const shm = new SharedMemory({ create: true, size: 16 });
      const lock = new Lock({ name: ${JSON.stringify(name)} });
      const named = fs.existsSync('/dev/shm/mp-named.${name}');
      lock.unlink();
      shm.close();
      shm.unlink();
      console.log(JSON.stringify({ generated: shm.name, named }));`,
    ]);
    expect(r.stderr).toBe('');
    const made = JSON.parse(r.stdout) as { generated: string; named: boolean };
    expect(made.generated).toMatch(/^mp-[0-9a-z]+-[0-9a-f]{16}$/);
    expect(made.named).toBe(true);
  });

  it('has a working CLI', () => {
    const out = run(process.execPath, [path.join(project, 'node_modules/.bin/multiproc'), 'ls'], project);
    expect(out).toMatch(/multiproc objects|KIND/);
  });
});
