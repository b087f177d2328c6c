// The package's types as a TypeScript user gets them: small consumer programs
// (ESM .mts and CommonJS .cts, --strict, no skipLibCheck) compile against the
// packed and installed package, with and without `types: ["node"]` and under
// node16/nodenext and bundler resolution. What must not compile is marked
// `// @ts-expect-error` in the fixtures, and each such line is checked to fail
// for itself: with the markers taken out, the errors are exactly on those lines.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, repo } from './helpers/child';
import { packRepo } from './helpers/pack';

const tsc = path.join(repo, 'node_modules/typescript/bin/tsc');
const FIXTURES = ['consumer.mts', 'consumer.cts'];
const MARKER = '// @ts-expect-error';

let work: string;
let app: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'multiproc-types-'));
  const tarball = packRepo(work);
  app = path.join(work, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  // The @types/node this repo was built with: npm has it in its cache.
  const typesNode = (JSON.parse(fs.readFileSync(path.join(repo, 'node_modules/@types/node/package.json'), 'utf8')) as { version: string })
    .version;
  execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, `@types/node@${typesNode}`], {
    cwd: app,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
}, 300_000);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

interface Diagnostic {
  file: string;
  line: number;
  text: string;
}

/** Compiles the fixtures (as given, or with `transform` applied) in a project of their own; returns tsc's errors. */
async function compile(name: string, options: Record<string, unknown>, transform = (s: string) => s): Promise<Diagnostic[]> {
  const dir = path.join(app, name);
  fs.mkdirSync(dir);
  for (const f of FIXTURES) fs.writeFileSync(path.join(dir, f), transform(fs.readFileSync(fixture(`types/${f}`), 'utf8')));
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { strict: true, target: 'es2022', noEmit: true, skipLibCheck: false, ...options },
      include: FIXTURES,
    }),
  );
  let out: string;
  try {
    ({ stdout: out } = await promisify(execFile)(process.execPath, [tsc, '-p', dir, '--pretty', 'false'], { cwd: dir }));
  } catch (e) {
    out = (e as { stdout?: string }).stdout ?? String(e);
  }
  // Error lines look like "file(line,col): error TSnnnn: text"; indented lines continue the text.
  const errors: Diagnostic[] = [];
  for (const l of out.split('\n')) {
    const m = /^(.+?)\((\d+),\d+\): error (TS\d+: .*)$/.exec(l);
    if (m) errors.push({ file: path.relative(dir, path.resolve(dir, m[1])), line: Number(m[2]), text: m[3] });
    else if (l.trim() && errors.length === 0) errors.push({ file: '?', line: 0, text: l });
  }
  return errors;
}

const variants: Array<[string, Record<string, unknown>]> = [
  // No Node types asked for: the package's declarations must bring them.
  ['nodenext, types: []', { module: 'nodenext', types: [] }],
  ['nodenext, types: ["node"]', { module: 'nodenext', types: ['node'] }],
  ['node16, every @types package (no types option)', { module: 'node16' }],
  ['bundler resolution, types: []', { module: 'preserve', moduleResolution: 'bundler', types: [] }],
];

describe("the packed package's types", () => {
  for (const [title, options] of variants) {
    it(`compile in strict ESM and CommonJS consumers (${title})`, async () => {
      const errors = await compile(title.replace(/\W+/g, '-'), options);
      expect(errors, 'tsc errors (an unused @ts-expect-error means something that must not compile did)').toEqual([]);
    });
  }

  it('reject exactly what the fixtures mark with @ts-expect-error', async () => {
    const expected: string[] = [];
    for (const f of FIXTURES) {
      fs.readFileSync(fixture(`types/${f}`), 'utf8')
        .split('\n')
        .forEach((l, i) => {
          if (l.trim().startsWith(MARKER)) expected.push(`${f}:${i + 2}`); // the line after the marker
        });
    }
    expect(expected.length).toBeGreaterThan(20);
    // The markers become plain comments, so the lines numbers stay.
    const errors = await compile('unmarked', { module: 'nodenext', types: [] }, (s) => s.split(MARKER).join('// (must not compile)'));
    const lines = [...new Set(errors.map((e) => `${e.file}:${e.line}`))];
    expect(lines.sort(), errors.map((e) => `${e.file}:${e.line}: ${e.text}`).join('\n')).toEqual(expected.sort());
  });
});
