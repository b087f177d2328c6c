// A real redis-server for the scale-out tests, on a free loopback port, and
// worker hosts (`multiproc worker`) as separate processes. The tests skip
// (with a message) only where no redis-server binary exists; CI installs it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { repo } from './child';

export const hasRedis = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

export interface Redis {
  port: number;
  url: string;
  /** redis-cli's output for a command. */
  cli(...args: string[]): string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startRedis(): Promise<Redis> {
  const port = await freePort();
  let server: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    const until = Date.now() + 30_000;
    while (!(await accepts(port))) {
      if (Date.now() > until) throw new Error('redis-server did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    cli: (...args) => spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).stdout,
    start,
    async stop() {
      const s = server!;
      if (s.exitCode !== null || s.signalCode !== null) return;
      const exited = new Promise((r) => s.once('exit', r));
      s.kill('SIGKILL');
      await exited;
    },
  };
}

export interface Host {
  child: ChildProcess;
  log(): string;
  exited: Promise<number | null>;
}

/** Starts `multiproc worker` with the fixture module; resolves once it takes jobs. */
export async function startHost(url: string, queue: string, extra: string[] = []): Promise<Host> {
  const child = spawn(
    process.execPath,
    [
      path.join(repo, 'dist/cli/main.js'),
      'worker',
      '--redis',
      url,
      '--queue',
      queue,
      '--module',
      path.join(repo, 'test/fixtures/scaleout-tasks.mjs'),
      '--processes',
      '2',
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const until = Date.now() + 60_000;
  while (!/worker: \d+ process/.test(out)) {
    if (child.exitCode !== null) throw new Error(`the worker host exited: ${out}`);
    if (Date.now() > until) throw new Error(`the worker host did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { child, log: () => out, exited };
}
