// Real child processes for tests: `node` running a fixture or inline code,
// with helpers that wait for what they print rather than for time to pass.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';

export const repo = path.resolve(__dirname, '../..');
export const fixture = (name: string): string => path.join(repo, 'test/fixtures', name);

export interface Child {
  proc: ChildProcess;
  /** Resolves with the first stdout line matching `re` (its match). */
  line(re: RegExp): Promise<RegExpMatchArray>;
  /** Resolves with the exit code, or -N for a signal N. */
  exited: Promise<number>;
  stdout(): string;
  stderr(): string;
}

// Every child a test starts, so that a failing test cannot leave one behind
// (setup.ts kills what is still running after each file).
export const running = new Set<ChildProcess>();

const signals: Record<string, number> = { SIGKILL: 9, SIGTERM: 15, SIGABRT: 6, SIGSEGV: 11, SIGINT: 2 };

export function startNode(args: string[], env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, args, { cwd: repo, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const lines: string[] = [];
  const listeners: Array<(l: string) => void> = [];
  readline.createInterface({ input: proc.stdout }).on('line', (l) => {
    out += l + '\n';
    lines.push(l);
    for (const f of [...listeners]) f(l);
  });
  proc.stderr.on('data', (d) => (err += d));
  running.add(proc);
  const exited = new Promise<number>((resolve) => {
    proc.on('exit', (code, signal) => {
      running.delete(proc);
      resolve(code ?? -(signals[signal ?? ''] ?? 1));
    });
  });
  return {
    proc,
    exited,
    stdout: () => out,
    stderr: () => err,
    line: (re) =>
      new Promise((resolve, reject) => {
        const seen = lines.map((l) => l.match(re)).find(Boolean);
        if (seen) return resolve(seen);
        const onLine = (l: string): void => {
          const m = l.match(re);
          if (m) {
            listeners.splice(listeners.indexOf(onLine), 1);
            resolve(m);
          }
        };
        listeners.push(onLine);
        void exited.then((code) => reject(new Error(`child exited (${code}) before printing ${re}\nstdout:\n${out}\nstderr:\n${err}`)));
      }),
  };
}

/** Runs inline CommonJS code (with `mp` = the package, `native` = the addon) to completion. */
export async function runCode(code: string, env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const prelude =
    `const mp = require(${JSON.stringify(path.join(repo, 'dist/index.js'))});` +
    `const { native } = require(${JSON.stringify(path.join(repo, 'dist/binding/native.js'))});`;
  const child = startNode(['-e', prelude + code], env);
  const exitCode = await child.exited;
  return { code: exitCode, stdout: child.stdout(), stderr: child.stderr() };
}

export function nodeCode(code: string): string[] {
  const prelude =
    `const mp = require(${JSON.stringify(path.join(repo, 'dist/index.js'))});` +
    `const { native } = require(${JSON.stringify(path.join(repo, 'dist/binding/native.js'))});`;
  return ['-e', prelude + code];
}
