// The bullmq backend over real networks and real Redis failures: a password,
// TLS (rediss://), Redis restarted mid-map with and without its data, and
// worker hosts in another network namespace reaching Redis over a veth link.
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Pool, getLogger, type BullmqBackendOptions } from '../dist/index.js';
import { fixture } from './helpers/child';
import { eventually } from './helpers/processes';
import { hasRedis, startHost, startRedis, type Host, type Redis } from './helpers/redis';

const T = fixture('scaleout-tasks.mjs');
const t: Record<string, any> = await import(T);
const hasOpenssl = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;

// A network namespace and a veth pair into it, or why there cannot be one here.
const NS = `mp${process.pid}`;
const NET = `10.213.${process.pid % 256}`;
function makeNamespace(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  const run = (...args: string[]): string | undefined => {
    const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8' });
    return r.status === 0 ? undefined : `${args.join(' ')}: ${r.error?.message ?? r.stderr.trim()}`;
  };
  const steps = [
    ['ip', 'netns', 'add', NS],
    ['ip', 'link', 'add', `${NS}a`, 'type', 'veth', 'peer', 'name', `${NS}b`],
    ['ip', 'link', 'set', `${NS}b`, 'netns', NS],
    ['ip', 'addr', 'add', `${NET}.1/30`, 'dev', `${NS}a`],
    ['ip', 'link', 'set', `${NS}a`, 'up'],
    ['ip', 'netns', 'exec', NS, 'ip', 'addr', 'add', `${NET}.2/30`, 'dev', `${NS}b`],
    ['ip', 'netns', 'exec', NS, 'ip', 'link', 'set', `${NS}b`, 'up'],
    ['ip', 'netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up'],
  ];
  for (const step of steps) {
    const failed = run(...step);
    if (failed) {
      dropNamespace();
      return failed;
    }
  }
  return undefined;
}
function dropNamespace(): void {
  spawnSync('ip', ['netns', 'del', NS], { stdio: 'ignore' }); // the veth pair goes with it
  spawnSync('ip', ['link', 'del', `${NS}a`], { stdio: 'ignore' });
}

if (!hasRedis) console.warn('scaleout network tests skipped: no redis-server binary (apt-get install redis-server)');

describe.skipIf(!hasRedis)('the bullmq backend over the network', () => {
  const hosts: Host[] = [];
  const servers: Redis[] = [];
  const pools: Pool[] = [];
  let n = 0;
  const queue = (): string => `n${process.pid}x${++n}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-redis-'));
  const redis = async (o: Parameters<typeof startRedis>[0] = {}): Promise<Redis> => {
    const r = await startRedis(o);
    servers.push(r);
    return r;
  };
  const host = async (...args: Parameters<typeof startHost>): Promise<Host> => {
    const h = await startHost(...args);
    hosts.push(h);
    return h;
  };
  const pool = (connection: BullmqBackendOptions['connection'], q: string, extra: Partial<BullmqBackendOptions> = {}): Pool => {
    const p = new Pool(2, { backend: { type: 'bullmq', connection, queue: q, ...extra }, module: T });
    pools.push(p);
    return p;
  };
  const warnings: string[] = [];
  const handler = (line: string): void => void warnings.push(line);
  beforeAll(() => getLogger().addHandler(handler));

  afterEach(async () => {
    for (const p of pools.splice(0)) {
      p.terminate();
      await p.join();
    }
    for (const h of hosts.splice(0)) {
      if (h.child.exitCode === null) h.child.kill('SIGKILL');
      await h.exited;
    }
    for (const r of servers.splice(0)) await r.stop();
  });
  afterAll(() => {
    getLogger().removeHandler(handler);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a password in the URL: pool and host authenticate; a wrong one is a clear error', async () => {
    const r = await redis({ password: 'p@ss word' });
    expect(r.url).toMatch(/^redis:\/\/:p%40ss%20word@/);
    const q = queue();
    await host(r.url, q);
    const p = pool(r.url, q);
    expect(await p.map(t.square, [1, 2, 3])).toEqual([1, 4, 9]);
    const wrong = r.url.replace('p%40ss', 'nope');
    const denied = pool(wrong, q, { connectTimeout: 5000 });
    await expect(denied.apply(t.square, [2])).rejects.toThrow(/cannot reach Redis.*WRONGPASS/);
    await expect(startHost(wrong, q)).rejects.toThrow(/WRONGPASS/);
  });

  it.skipIf(!hasOpenssl)('TLS: a rediss:// URL (host) and ioredis options with a CA (pool); plain redis:// to it fails', async () => {
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    // A self-signed certificate for the IP address (checked against its IP name).
    const gen = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { encoding: 'utf8' },
    );
    expect(gen.status, gen.stderr).toBe(0);
    const r = await redis({ tls: { cert, key } });
    expect(r.url).toMatch(/^rediss:\/\//);
    const q = queue();
    // The host trusts the certificate through Node's own NODE_EXTRA_CA_CERTS.
    await host(r.url, q, [], { env: { NODE_EXTRA_CA_CERTS: cert } });
    const p = pool({ host: '127.0.0.1', port: r.port, tls: { ca: fs.readFileSync(cert) } }, q);
    expect(await p.starmap(t.add, [[1, 2]])).toEqual([3]);
    // Not trusted: the certificate is refused (a clear error, not a hang).
    const untrusted = pool(r.url, q, { connectTimeout: 3000 });
    await expect(untrusted.apply(t.square, [2])).rejects.toThrow(/cannot reach Redis.*self-signed certificate/);
    const plain = pool(`redis://127.0.0.1:${r.port}`, q, { connectTimeout: 1000 });
    await expect(plain.apply(t.square, [2])).rejects.toThrow(/cannot reach Redis.*no answer within 1000 ms \(/);
  });

  for (const kept of [false, true]) {
    it(`Redis restarted mid-map ${kept ? 'with its data (append-only file)' : 'without its data'}: the map completes, every result right`, async () => {
      const persist = kept ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', fs.mkdtempSync(path.join(dir, 'aof-'))] : [];
      const r = await redis({ args: persist });
      const q = queue();
      await host(r.url, q);
      const p = pool(r.url, q);
      warnings.length = 0;
      const processWarnings: string[] = [];
      const onWarning = (w: Error & { code?: string }): void => void processWarnings.push(w.code ?? '');
      process.on('warning', onWarning);
      let done = 0;
      const inputs = Array.from({ length: 16 }, (_, i) => i);
      const mapped = p.starmap(
        t.slow,
        inputs.map((i) => [150, i]),
        { chunksize: 1, onProgress: (d) => (done = d) },
      );
      void mapped.catch(() => {});
      await eventually(() => done >= 3, 'some results');
      await r.stop();
      await r.start();
      expect(await mapped).toEqual(inputs);
      const readded = warnings.filter((w) => /came back without its data/.test(w));
      expect(readded.length).toBe(kept ? 0 : 1);
      process.off('warning', onWarning);
      expect(processWarnings).toContain('MULTIPROC_REDIS_LOST'); // said, not silent
      p.close();
      await p.join();
    });
  }

  it('Redis gone for good: terminate() and join() still end', async () => {
    const r = await redis();
    const q = queue();
    const p = pool(r.url, q);
    const out = p.apply(t.square, [2]); // no host: it waits in Redis
    void out.catch(() => {});
    await eventually(() => r.jobs(q).length > 0, 'the job added');
    await r.stop();
    p.terminate();
    await p.join();
    await expect(out).rejects.toThrow(/terminated/);
  });

  const noNamespace = hasRedis ? makeNamespace() : 'no redis-server';
  if (noNamespace) console.warn(`scaleout network-namespace test skipped: ${noNamespace}`);
  afterAll(() => {
    if (!noNamespace) dropNamespace();
  });

  it.skipIf(noNamespace !== undefined)('worker hosts in another network namespace, reaching Redis over a veth link', async () => {
    // Off the loopback, Redis serves only clients with a password (its protected mode).
    const r = await redis({ bind: `${NET}.1`, password: 'over-the-link' });
    expect(r.url).toBe(`redis://:over-the-link@${NET}.1:${r.port}`);
    const q = queue();
    const h = await host(r.url, q, [], { wrap: ['ip', 'netns', 'exec', NS] });
    // The namespace has a network of its own: a server on this side's loopback cannot be reached from it.
    const local = net.createServer().listen(0, '127.0.0.1');
    await once(local, 'listening');
    const probe = spawnSync(
      'ip',
      [
        'netns',
        'exec',
        NS,
        process.execPath,
        '-e',
        `require('net').connect(${(local.address() as net.AddressInfo).port}, '127.0.0.1').on('connect', () => { console.log('reached'); process.exit(); }).on('error', (e) => console.log(e.code))`,
      ],
      { encoding: 'utf8' },
    );
    local.close();
    expect(probe.stdout.trim()).toBe('ECONNREFUSED');
    const p = pool(r.url, q);
    expect(await p.map(t.square, [1, 2, 3, 4], { chunksize: 1 })).toEqual([1, 4, 9, 16]);
    p.close();
    await p.join();
    h.child.kill('SIGTERM');
    expect(await h.exited).toBe(0);
  });
});
