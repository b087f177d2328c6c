// Every example runs and prints what its PyMOTW original prints (order-free
// where processes race, as in the original).
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startNode, repo } from './helpers/child';
import { waitUntil } from './helpers/shm';
import { hasRedis } from './helpers/redis';

async function run(file: string): Promise<{ code: number; out: string[]; err: string[] }> {
  const child = startNode([`${repo}/examples/${file}`]);
  const code = await child.exited;
  const lines = (s: string) => s.split('\n').filter(Boolean);
  return { code, out: lines(child.stdout()), err: lines(child.stderr()) };
}
const sorted = (a: string[]) => [...a].sort();
const gone = (pid: number) => {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].startsWith('Z');
  } catch {
    return true;
  }
};

describe('examples (PyMOTW multiprocessing)', () => {
  const poolOutput = (r: { out: string[] }, workers: number): void => {
    const inputs = '[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]';
    const doubled = '[0, 2, 4, 6, 8, 10, 12, 14, 16, 18]';
    expect(r.out[0]).toBe(`Input   : ${inputs}`);
    expect(r.out[1]).toBe(`Built-in: ${doubled}`);
    expect(r.out.at(-1)).toBe(`Pool    : ${doubled}`);
    const started = r.out.slice(2, -1);
    expect(started.every((l) => /^Starting PoolWorker-\d+$/.test(l))).toBe(true);
    expect(started.length).toBeGreaterThanOrEqual(workers);
  };

  it('pool', async () => {
    const r = await run('pool.mjs');
    expect(r.code).toBe(0);
    expect(r.err).toEqual([]);
    poolOutput(r, 2);
  });

  it('manager_dict: ten processes set one key each through a dict proxy', async () => {
    const r = await run('manager_dict.mjs');
    expect(r.code).toBe(0);
    expect(r.out).toEqual(['Results: {0: 0, 1: 2, 2: 4, 3: 6, 4: 8, 5: 10, 6: 12, 7: 14, 8: 16, 9: 18}']);
  });

  it('remote_manager: a worker started as an unrelated program works through a job queue over TCP; a wrong key is refused', async () => {
    const r = await run('remote_manager.mjs');
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(/^manager listening on 127\.0\.0\.1:\d+$/);
    expect(r.out.slice(1)).toEqual([
      '1 squared is 1',
      '2 squared is 4',
      '3 squared is 9',
      '4 squared is 16',
      '5 squared is 25',
      'worker exited with code 0',
      'with a wrong key: AuthenticationError',
    ]);
    expect(r.err.join('\n')).toMatch(/manager: refused a connection from 127\.0\.0\.1:\d+: the peer answered with a wrong digest/);
  });

  it('namespaces: the consumer reads the value only after the producer set it', async () => {
    const r = await run('namespaces.mjs');
    expect(r.code).toBe(0);
    expect(r.out).toEqual(['Before event: undefined', 'After event: This is the value']);
  });

  it('namespaces_mutable: changing a value read from a namespace throws, and the manager keeps its value', async () => {
    const r = await run('namespaces_mutable.mjs');
    expect(r.code).toBe(0);
    expect(r.out).toEqual([
      'Before event: []',
      'Producer: TypeError - Cannot add property 0, object is not extensible',
      'After event : []',
    ]);
  });

  it.skipIf(!hasRedis)('wordcount_distributed: the same counts from two worker hosts over Redis (BullMQ)', async () => {
    const [local, distributed] = [await run('wordcount.mjs'), await run('wordcount_distributed.mjs')];
    expect(distributed.code).toBe(0);
    expect(distributed.err).toEqual([]);
    const reading = distributed.out.filter((l) => / reading /.test(l));
    expect(reading.length).toBe(local.out.filter((l) => / reading /.test(l)).length);
    expect(reading.every((l) => /^\[host [AB]\] PoolWorker-\d+ reading \S+\.md$/.test(l))).toBe(true);
    for (const h of ['A', 'B']) {
      expect(distributed.out).toContainEqual(expect.stringMatching(new RegExp(`^\\[host ${h}\\] worker: 2 process\\(es\\)`)));
      expect(distributed.out).toContain(`[host ${h}] worker: done`);
    }
    const top = (r: { out: string[] }): string[] => {
      const at = r.out.indexOf('TOP 20 WORDS BY FREQUENCY');
      return r.out.slice(at + 1, at + 21);
    };
    expect(top(distributed)).toEqual(top(local));
  });

  it('wordcount (SimpleMapReduce)', async () => {
    const r = await run('wordcount.mjs');
    expect(r.code).toBe(0);
    expect(r.err).toEqual([]);
    const reading = r.out.filter((l) => / reading /.test(l));
    expect(reading.length).toBeGreaterThanOrEqual(4); // README, DEVELOPERS, CHANGELOG, BENCH
    expect(reading.every((l) => /^PoolWorker-\d+ reading \S+\.md$/.test(l))).toBe(true);
    expect(r.out).toContain('TOP 20 WORDS BY FREQUENCY');
    const top = r.out.slice(r.out.indexOf('TOP 20 WORDS BY FREQUENCY') + 1);
    expect(top.length).toBe(20);
    const counts = top.map((l) => Number(l.split(':')[1]));
    expect(counts).toEqual([...counts].sort((a, b) => b - a));
  });

  it('http_server: a node:http server offloads its CPU-bound handler to a Pool', async () => {
    const child = startNode([`${repo}/examples/http_server.mjs`, '--selftest']);
    expect(await child.exited).toBe(0);
    const out = child.stdout();
    expect(out).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+$/m);
    expect(out).toContain('20 requests: 2 distinct answers, each 64 hex digits');
    expect(out).toContain('the loop answered / meanwhile: ok');
    expect(out).toContain('the same as here: true');
    expect(out).toContain('pool closed');
  });

  it('pool_progress: a progress line per quarter when stdout is not a terminal', async () => {
    const r = await run('pool_progress.mjs');
    expect(r).toEqual({
      code: 0,
      out: [
        'progress: 500/2000 (25%)',
        'progress: 1000/2000 (50%)',
        'progress: 1500/2000 (75%)',
        'progress: 2000/2000 (100%)',
        'done: 2000 results',
      ],
      err: [],
    });
  });

  it('pool_maxtasksperchild: workers are replaced after two tasks', async () => {
    const r = await run('pool_maxtasksperchild.mjs');
    expect(r.code).toBe(0);
    expect(r.err).toEqual([]);
    poolOutput(r, 5); // 10 inputs, at most 2 tasks per worker
  });

  it('simple', async () => {
    const r = await run('simple.mjs');
    expect(r).toEqual({ code: 0, out: Array(5).fill('Worker'), err: [] });
  });

  it('simpleargs', async () => {
    const r = await run('simpleargs.mjs');
    expect(r.code).toBe(0);
    expect(sorted(r.out)).toEqual([0, 1, 2, 3, 4].map((i) => `Worker: ${i}`));
  });

  it('import_main / import_worker (CommonJS)', async () => {
    const r = await run('import_main.cjs');
    expect(r).toEqual({ code: 0, out: Array(5).fill('Worker'), err: [] });
  });

  it('names', async () => {
    const r = await run('names.mjs');
    expect(r.code).toBe(0);
    expect(sorted(r.out)).toEqual(
      sorted([
        'worker 1 Starting',
        'worker 1 Exiting',
        'Process-3 Starting',
        'Process-3 Exiting',
        'my_service Starting',
        'my_service Exiting',
      ]),
    );
  });

  it('daemon: killed when the main process exits', async () => {
    const r = await run('daemon.mjs');
    expect(r.code).toBe(0);
    expect(r.out.map((l) => l.replace(/ \d+$/, ''))).toEqual(['Starting: daemon', 'Starting: non-daemon', 'Exiting : non-daemon']);
    const daemonPid = Number(r.out[0].split(' ').pop());
    await waitUntil(() => gone(daemonPid), 'the daemon is gone');
  });

  it('daemon_join', async () => {
    const r = await run('daemon_join.mjs');
    expect(r.code).toBe(0);
    expect(r.out).toEqual(['Starting: daemon', 'Starting: non-daemon', 'Exiting : non-daemon', 'Exiting : daemon']);
  });

  it('daemon_join_timeout', async () => {
    const r = await run('daemon_join_timeout.mjs');
    expect(r.code).toBe(0);
    // The daemon is still alive after join(1000) and never finishes; whether it
    // printed "Starting" within that second depends on the machine's load.
    expect(sorted(r.out.filter((l) => l !== 'Starting: daemon'))).toEqual(
      sorted(['Starting: non-daemon', 'Exiting : non-daemon', 'd.isAlive() true']),
    );
  });

  it('terminate', async () => {
    const r = await run('terminate.mjs');
    expect(r.code).toBe(0);
    expect(r.out[0]).toBe('BEFORE: <Process(Process-1, initial)> false');
    expect(r.out[1]).toBe('DURING: <Process(Process-1, started)> true');
    // Right after terminate() the child may or may not have died yet (in Python too).
    expect(r.out[2]).toMatch(/^TERMINATED: <Process\(Process-1, (started|stopped\[SIGTERM\])\)> (true|false)$/);
    expect(r.out[3]).toBe('JOINED: <Process(Process-1, stopped[SIGTERM])> false');
  });

  it('exitcode', async () => {
    const r = await run('exitcode.mjs');
    expect(r.code).toBe(0);
    expect(r.out.slice(5)).toEqual([
      '      exitError.exitCode = 1',
      '         exitOk.exitCode = 0',
      '    returnValue.exitCode = 0',
      '         raises.exitCode = 1',
      '     terminated.exitCode = -15',
    ]);
    expect(r.err.slice(0, 2)).toEqual(['Process raises:', 'Error: There was an error!']);
  });

  it('log_to_stderr', async () => {
    const r = await run('log_to_stderr.mjs');
    expect(r.code).toBe(0);
    expect(r.out).toEqual(['Doing some work']);
    expect(r.err).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^\[DEBUG\/MainProcess\] started Process-1 \(pid \d+\)$/),
        '[INFO/Process-1] child process calling run()',
        '[INFO/Process-1] process shutting down',
        '[INFO/Process-1] process exiting with exitcode 0',
        '[DEBUG/MainProcess] Process-1 exited with exitcode 0',
        '[INFO/MainProcess] process shutting down',
      ]),
    );
  });

  it('get_logger', async () => {
    const r = await run('get_logger.mjs');
    expect(r.code).toBe(0);
    expect(r.out).toEqual(['Doing some work']);
    expect(r.err).toEqual([
      '[INFO/Process-1] child process calling run()',
      '[INFO/Process-1] process shutting down',
      '[INFO/Process-1] process exiting with exitcode 0',
      '[INFO/MainProcess] process shutting down',
    ]);
  });

  it('subclass', async () => {
    const r = await run('subclass.mjs');
    expect(r.code).toBe(0);
    expect(sorted(r.out)).toEqual([1, 2, 3, 4, 5].map((i) => `In Worker-${i}`));
  });

  it('event', async () => {
    const r = await run('event.mjs');
    expect(r.code).toBe(0);
    // The timed-out waiter reports before main sets the event (the woken one
    // may print before or after main's own line, as in Python).
    expect(r.out.indexOf('wait_for_event_timeout: e.isSet()-> false')).toBeLessThan(r.out.indexOf('main: event is set'));
    expect(sorted(r.out)).toEqual(
      sorted([
        'main: waiting before calling Event.set()',
        'wait_for_event: starting',
        'wait_for_event_timeout: starting',
        'wait_for_event_timeout: e.isSet()-> false',
        'main: event is set',
        'wait_for_event: e.isSet()-> true',
      ]),
    );
  });

  it('lock', async () => {
    const r = await run('lock.mjs');
    expect(r.code).toBe(0);
    expect(sorted(r.out)).toEqual(['Lock acquired directly', 'Lock acquired via withLock']);
  });

  it('condition', async () => {
    const r = await run('condition.mjs');
    expect(r.code).toBe(0);
    const done = r.out.indexOf('s1 done and ready for stage 2');
    expect(done).toBeGreaterThanOrEqual(0);
    expect(r.out.indexOf('stage_2[1] running')).toBeGreaterThan(done);
    expect(r.out.indexOf('stage_2[2] running')).toBeGreaterThan(done);
  });

  it('semaphore: never more than three active', async () => {
    const r = await run('semaphore.mjs');
    expect(r.code).toBe(0);
    const activations = r.out.filter((l) => l.startsWith('Activating'));
    expect(activations).toHaveLength(10);
    for (const line of r.out) {
      const list = line.match(/running \[(.*)\]$/)![1];
      expect(list ? list.split(', ').length : 0).toBeLessThanOrEqual(3);
    }
    expect(r.out.at(-1)).toBe('Now running []');
  });

  it('sharedctypes', async () => {
    const r = await run('sharedctypes.mjs');
    expect(r).toEqual({
      code: 0,
      err: [],
      out: ['49', '0.1111111111111111', 'HELLO WORLD', '[[3.515625,39.0625],[33.0625,4],[5.640625,90.25]]'],
    });
  });

  it('shared_state', async () => {
    const r = await run('shared_state.mjs');
    expect(r).toEqual({ code: 0, err: [], out: ['Results: {0: 0, 1: 2, 2: 4, 3: 6, 4: 8, 5: 10, 6: 12, 7: 14, 8: 16, 9: 18}'] });
  });

  it('queue', async () => {
    const r = await run('queue.mjs');
    expect(r).toEqual({ code: 0, err: [], out: ['Doing something fancy in Process-1 for Fancy Dan!'] });
  });

  it('producer_consumer: every task done once, every consumer exits, all results', async () => {
    const r = await run('producer_consumer.mjs');
    expect(r.code).toBe(0);
    const n = Number(r.out[0].match(/^Creating (\d+) consumers$/)![1]);
    const tasks = r.out.filter((l) => /^Consumer-\d+: \d+ \* \d+$/.test(l)).map((l) => l.split(': ')[1]);
    expect(tasks.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `${i} * ${i}`).sort());
    expect(r.out.filter((l) => /^Consumer-\d+: Exiting$/.test(l))).toHaveLength(n);
    const results = r.out.filter((l) => l.startsWith('Result: '));
    expect(results.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `Result: ${i} * ${i} = ${i * i}`).sort());
  });

  it('pipe', async () => {
    const r = await run('pipe.mjs');
    expect(r).toEqual({ code: 0, err: [], out: ["[ 42, null, 'hello' ]"] });
  });

  it('demo', async () => {
    const r = await run('demo.mjs');
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
  });
});
