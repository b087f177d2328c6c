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

async function accepts(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, host);
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
  /** The keys of a queue's jobs (BullMQ's `bull:<queue>:<id>`; our ids are UUIDs). */
  jobs(queue: string): string[];
  stop(): Promise<void>;
  start(): Promise<void>;
}

export interface RedisOptions {
  /** The address it listens on (default 127.0.0.1). */
  bind?: string;
  /** requirepass. */
  password?: string;
  /** TLS only, with this certificate and key (PEM files); the URL is then rediss://. */
  tls?: { cert: string; key: string };
  /** Extra redis-server flags (e.g. persistence). */
  args?: string[];
}

export async function startRedis(o: RedisOptions = {}): Promise<Redis> {
  const port = await freePort();
  const bind = o.bind ?? '127.0.0.1';
  let server: ChildProcess | undefined;
  const listen = o.tls
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', o.tls.cert, '--tls-key-file', o.tls.key, '--tls-auth-clients', 'no']
    : ['--port', String(port)];
  const auth = o.password ? ['--requirepass', o.password] : [];
  const start = async (): Promise<void> => {
    server = spawn('redis-server', [...listen, '--bind', bind, '--save', '', '--appendonly', 'no', ...auth, ...(o.args ?? [])], {
      stdio: 'ignore',
    });
    const until = Date.now() + 30_000;
    while (!(await accepts(port, bind))) {
      if (Date.now() > until) throw new Error('redis-server did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await start();
  const cliFlags = [
    '-h',
    bind,
    '-p',
    String(port),
    ...(o.password ? ['-a', o.password, '--no-auth-warning'] : []),
    ...(o.tls ? ['--tls', '--cacert', o.tls.cert] : []),
  ];
  const cli = (...args: string[]): string => spawnSync('redis-cli', [...cliFlags, ...args], { encoding: 'utf8' }).stdout;
  return {
    port,
    url: `${o.tls ? 'rediss' : 'redis'}://${o.password ? `:${encodeURIComponent(o.password)}@` : ''}${bind}:${port}`,
    cli,
    jobs: (queue) =>
      cli('--scan', '--pattern', `bull:${queue}:*`)
        .split('\n')
        .filter((k) => new RegExp(`^bull:${queue}:[0-9a-f-]{36}$`).test(k)),
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
export interface HostOptions {
  /** Runs it under this command (e.g. ['ip', 'netns', 'exec', NAME]). */
  wrap?: string[];
  env?: Record<string, string>;
}

export async function startHost(url: string, queue: string, extra: string[] = [], o: HostOptions = {}): Promise<Host> {
  const command = [
    process.execPath,
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
  ];
  const [file, ...args] = [...(o.wrap ?? []), ...command];
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...o.env } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const until = Date.now() + 60_000;
  while (!/worker: \d+ process/.test(out)) {
    if (child.exitCode !== null) throw new Error(`the worker host exited: ${out}`);
    if (Date.now() > until) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`the worker host did not start: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { child, log: () => out, exited };
}
