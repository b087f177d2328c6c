// The resource tracker: whatever a program created and did not unlink is
// removed once its last process exits, however it exits.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SharedMemory } from '../dist/index.js';
import { exists, semExists, waitUntil } from './helpers/shm';
import { nodeCode, repo, startNode } from './helpers/child';

const creator = `
  const shm = new mp.SharedMemory({ create: true, size: 4096 });
  const sem = native.NamedSemaphore.create('/mp-test-trk-' + process.pid, 0, true);
  console.log('made', shm.name, sem.name.slice(1), native.trackerInfo().pid);
`;

async function madeBy(child: ReturnType<typeof startNode>): Promise<{ shm: string; sem: string; tracker: number }> {
  const [, shm, sem, tracker] = await child.line(/^made (\S+) (\S+) (\d+)/);
  expect(exists(shm!)).toBe(true);
  expect(semExists(sem!)).toBe(true);
  return { shm: shm!, sem: sem!, tracker: Number(tracker) };
}

function trackerAlive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'mp-tracker';
  } catch {
    return false;
  }
}

const gone = (o: { shm: string; sem: string }) => () => !exists(o.shm) && !semExists(o.sem);

describe('resource tracker', () => {
  it('cleans up after a SIGKILLed main process', async () => {
    const child = startNode(nodeCode(creator + 'setInterval(() => {}, 1000);'));
    const objects = await madeBy(child);
    child.proc.kill('SIGKILL');
    expect(await child.exited).toBe(-9);
    await waitUntil(gone(objects), 'both objects are removed');
  });

  it('cleans up after a normal exit and after an uncaught error', async () => {
    for (const ending of ['', 'throw new Error("boom");']) {
      const child = startNode(nodeCode(creator + ending));
      const objects = await madeBy(child);
      const code = await child.exited;
      expect(code).toBe(ending ? 1 : 0);
      await waitUntil(gone(objects), 'both objects are removed');
    }
  });

  it('is one small process named mp-tracker, not another node', async () => {
    const child = startNode(nodeCode(creator + 'setInterval(() => {}, 1000);'));
    const { tracker, ...objects } = await madeBy(child);
    try {
      expect(readFileSync(`/proc/${tracker}/comm`, 'utf8').trim()).toBe('mp-tracker');
      // Double-forked: not a child of the program it tracks.
      const ppid = Number(readFileSync(`/proc/${tracker}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      expect(ppid).not.toBe(child.proc.pid);
    } finally {
      child.proc.kill('SIGKILL');
      await child.exited;
    }
    await waitUntil(gone(objects), 'both objects are removed');
    await waitUntil(() => !trackerAlive(tracker), 'the tracker exits');
  });

  it('does not remove what was unlinked and re-created under the same name by someone else', async () => {
    const name = `mp-test-trk-reuse-${process.pid}`;
    const child = startNode(nodeCode(`
      const a = new mp.SharedMemory({ name: ${JSON.stringify(name)}, create: true, size: 8 });
      a.unlink(); a.close();
      console.log('tracker', native.trackerInfo().pid);
      process.stdin.once('data', () => process.exit(0));`));
    const tracker = Number((await child.line(/^tracker (\d+)/))[1]);
    const b = new SharedMemory({ name, create: true, size: 8, track: false });
    child.proc.stdin!.write('x\n');
    await child.exited;
    await waitUntil(() => !trackerAlive(tracker), 'the child\'s tracker has finished');
    expect(exists(name)).toBe(true);
    b.close();
    b.unlink();
  });

  it('is restarted when killed, and still cleans up everything', async () => {
    const child = startNode(nodeCode(creator + `
      process.stdin.on('data', () => {
        const again = new mp.SharedMemory({ create: true, size: 64 });
        console.log('again', again.name, native.trackerInfo().pid);
      });`));
    const objects = await madeBy(child);
    process.kill(objects.tracker, 'SIGKILL');
    await waitUntil(() => !trackerAlive(objects.tracker), 'the tracker is dead');
    child.proc.stdin!.write('x\n');
    const [, again, newTracker] = await child.line(/^again (\S+) (\d+)/);
    expect(Number(newTracker)).not.toBe(objects.tracker);
    child.proc.kill('SIGKILL');
    await child.exited;
    await waitUntil(() => gone(objects)() && !exists(again!), 'old and new objects are removed');
  });
});

describe('multiproc ls / clean', () => {
  const cli = (...args: string[]) => execFileSync(process.execPath, [path.join(repo, 'dist/cli.js'), ...args], { encoding: 'utf8' });

  it('lists our objects with their tracker, and clean removes only orphans', async () => {
    // An orphan: an object named as ours whose tracker pid is not a tracker.
    const orphanName = `mp-${(2 ** 22 + 1).toString(36)}-${'ab'.repeat(8)}`;
    const orphan = new SharedMemory({ name: orphanName, create: true, size: 100, track: false });
    orphan.close();
    const live = new SharedMemory({ create: true, size: 100 });
    try {
      const listed = JSON.parse(cli('ls', '--json')) as Array<{ name: string; trackerAlive: boolean; size: number; kind: string }>;
      expect(listed.find((o) => o.name === orphanName)).toMatchObject({ trackerAlive: false, size: 100, kind: 'segment' });
      expect(listed.find((o) => o.name === live.name)).toMatchObject({ trackerAlive: true });
      expect(cli('ls')).toMatch(new RegExp(`${live.name}.*alive`));
      expect(cli('clean')).toContain(`removed segment ${orphanName}`);
      expect(exists(orphanName)).toBe(false);
      expect(exists(live.name)).toBe(true);
    } finally {
      live.close();
      live.unlink();
    }
    expect(() => cli('frobnicate')).toThrow(/unknown command/);
  });
});
