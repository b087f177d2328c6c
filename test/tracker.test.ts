// The resource tracker: whatever a program created and did not unlink is
// removed once its last process exits, however it exits -- also when one of
// its two tracker processes was killed -- and `multiproc ls` / `clean` tell
// what is whose and remove only what is provably orphaned.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Event, Lock, Queue, SharedMemory, listSharedObjects, unlinkNamed } from '../dist/index.js';
import { native } from '../dist/binding/native.js';
import { classifyObject, cleanDecision, cleanSharedObjects, trackerProcesses } from '../dist/shm/tracker.js';
import { exists, semExists, waitUntil } from './helpers/shm';
import { nodeCode, repo, startNode } from './helpers/child';

const creator = `
  const shm = new mp.SharedMemory({ create: true, size: 4096 });
  const sem = native.NamedSemaphore.create('/mp-test-trk-' + process.pid, 0, true);
  console.log('made', shm.name, sem.name.slice(1), native.trackerInfo().pid);
`;

interface Made {
  shm: string;
  sem: string;
  tracker: number;
  tag: string;
}

async function madeBy(child: ReturnType<typeof startNode>): Promise<Made> {
  const [, shm, sem, tracker] = await child.line(/^made (\S+) (\S+) (\d+)/);
  expect(exists(shm)).toBe(true);
  expect(semExists(sem)).toBe(true);
  return { shm: shm, sem: sem, tracker: Number(tracker), tag: Number(tracker).toString(36) };
}

const comm = (pid: number): string => {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};
const parentOf = (pid: number): number => Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);

interface Pair {
  active: number;
  backup: number;
}

/** The program's live trackers, once there is exactly one active and one backup other than `old`. */
async function pairOf(tag: string, old: number[] = []): Promise<Pair> {
  let pair: Pair = { active: 0, backup: 0 };
  await waitUntil(
    () => {
      const pids = trackerProcesses(tag).filter((p) => !old.includes(p));
      const active = pids.filter((p) => comm(p) === `mp-trk-${tag}`);
      const backup = pids.filter((p) => comm(p) === `mp-trk-${tag}-b`);
      pair = { active: active[0] ?? 0, backup: backup[0] ?? 0 };
      return active.length === 1 && backup.length === 1 && trackerProcesses(tag).length === 2;
    },
    `tag ${tag} has a new pair of trackers (other than ${old.join(', ') || 'none'})`,
  );
  return pair;
}

async function killAndWait(pid: number): Promise<void> {
  process.kill(pid, 'SIGKILL');
  await waitUntil(() => !comm(pid).startsWith('mp-trk-') || /^Z/.test(stateOf(pid)), `tracker ${pid} is dead`);
}
const stateOf = (pid: number): string => {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].slice(0, 1);
  } catch {
    return '';
  }
};

const gone = (o: { shm: string; sem: string }) => () => !exists(o.shm) && !semExists(o.sem);
const listed = (names: string[]) => listSharedObjects().filter((o) => names.includes(o.name));

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

  it('is a pair of small processes named mp-trk-<tag>, not another node', async () => {
    const child = startNode(nodeCode(creator + 'setInterval(() => {}, 1000);'));
    const { tracker, tag, ...objects } = await madeBy(child);
    try {
      const pair = await pairOf(tag);
      expect(pair.active).toBe(tracker); // the first active's pid is the tag
      expect(objects.shm).toBe(`mp-${tag}-${objects.shm.slice(-16)}`);
      // Double-forked: not a child of the program it tracks; the backup is the active's.
      expect(parentOf(pair.active)).not.toBe(child.proc.pid);
      expect(parentOf(pair.backup)).toBe(pair.active);
    } finally {
      child.proc.kill('SIGKILL');
      await child.exited;
    }
    await waitUntil(gone(objects), 'both objects are removed');
    await waitUntil(() => trackerProcesses(tag).length === 0, 'both trackers exit');
  });

  it('does not remove what was unlinked and re-created under the same name by someone else', async () => {
    const name = `mp-test-trk-reuse-${process.pid}`;
    const child = startNode(
      nodeCode(`
      const a = new mp.SharedMemory({ name: ${JSON.stringify(name)}, create: true, size: 8 });
      a.unlink(); a.close();
      console.log('tracker', native.trackerInfo().pid);
      process.stdin.once('data', () => process.exit(0));`),
    );
    const tag = Number((await child.line(/^tracker (\d+)/))[1]).toString(36);
    const b = new SharedMemory({ name, create: true, size: 8, track: false });
    child.proc.stdin!.write('x\n');
    await child.exited;
    await waitUntil(() => trackerProcesses(tag).length === 0, "the child's trackers have finished");
    expect(exists(name)).toBe(true);
    b.close();
    b.unlink();
  });

  // Issue 9, item 12: after a killed tracker, nothing cleaned up at exit, and `clean`
  // removed every live object of the running program.
  const more = `
    process.stdin.on('data', () => {
      const again = new mp.SharedMemory({ create: true, size: 64 });
      console.log('again', again.name);
    });
    setInterval(() => {}, 1000);`;

  it('survives the death of its active tracker: the backup takes over', async () => {
    const child = startNode(nodeCode(creator + more));
    const objects = await madeBy(child);
    const first = await pairOf(objects.tag);
    await killAndWait(first.active);
    const second = await pairOf(objects.tag, [first.active]);
    expect(second.active).toBe(first.backup);
    // Meanwhile the program runs: clean leaves its objects alone.
    expect(listed([objects.shm])).toMatchObject([{ program: objects.tag, trackerAlive: true }]);
    for (const o of listed([objects.shm, objects.sem])) expect(cleanDecision(o, { named: true }).remove).toBe(false);
    child.proc.stdin!.write('x\n'); // registered with the new active
    const [, again] = await child.line(/^again (\S+)/);
    child.proc.kill('SIGKILL');
    await child.exited;
    await waitUntil(() => gone(objects)() && !exists(again), 'old and new objects are removed');
    await waitUntil(() => trackerProcesses(objects.tag).length === 0, 'the trackers exit');
  });

  it('survives the death of its backup tracker: the active starts another', async () => {
    const child = startNode(nodeCode(creator + more));
    const objects = await madeBy(child);
    const first = await pairOf(objects.tag);
    await killAndWait(first.backup);
    const second = await pairOf(objects.tag, [first.backup]);
    expect(second.active).toBe(first.active);
    child.proc.stdin!.write('x\n');
    const [, again] = await child.line(/^again (\S+)/);
    // The new backup has everything: it must do the clean-up if the active dies now.
    await killAndWait(second.active);
    await pairOf(objects.tag, [second.active, first.backup]);
    child.proc.kill('SIGKILL');
    await child.exited;
    await waitUntil(() => gone(objects)() && !exists(again), 'every object is removed');
    await waitUntil(() => trackerProcesses(objects.tag).length === 0, 'the trackers exit');
  });

  it('is restarted under the same tag when both trackers are killed; clean keeps what is in use meanwhile', async () => {
    const child = startNode(nodeCode(creator + more));
    const objects = await madeBy(child);
    const first = await pairOf(objects.tag);
    // Both at once: the trackers share the first one's session and process group.
    process.kill(-objects.tracker, 'SIGKILL');
    await waitUntil(() => trackerProcesses(objects.tag).length === 0, 'the trackers are gone');
    // No tracker, but the program maps both objects: not provably orphaned.
    const left = listed([objects.shm, objects.sem]);
    expect(left).toHaveLength(2);
    expect(listed([objects.shm])).toMatchObject([{ program: objects.tag, trackerAlive: false }]);
    for (const o of left) {
      expect(o.openBy).toContain(child.proc.pid);
      expect(cleanDecision(o, { named: true })).toMatchObject({ remove: false, reason: expect.stringMatching(/used by/) });
    }
    child.proc.stdin!.write('x\n'); // the send fails: a new pair, told everything again
    const [, again] = await child.line(/^again (\S+)/);
    expect(again.startsWith(`mp-${objects.tag}-`)).toBe(true);
    await pairOf(objects.tag, [first.active, first.backup]);
    child.proc.kill('SIGKILL');
    await child.exited;
    await waitUntil(() => gone(objects)() && !exists(again), 'old and new objects are removed');
  });

  // Issue 9, item 11 (tracker-newline-injection.mjs): a name with a newline registered a
  // second name; at exit the tracker unlinked that other file and leaked the real segment.
  it('no name can inject records: the name is refused, the other file stays', async () => {
    const victim = `mp-test-victim-${process.pid}`;
    fs.writeFileSync(`/dev/shm/${victim}`, "someone else's segment");
    try {
      const injected = `rel-inj-${process.pid}\\nR m ${victim}`;
      const child = startNode(
        nodeCode(`
        try { new mp.SharedMemory({ create: true, size: 64, name: "${injected}" }); console.log('created'); }
        catch (e) { console.log('refused', e.constructor.name, JSON.stringify(e.message)); }
        // Past the TypeScript check, straight to the addon: the C++ tracker refuses it too.
        try { native.Segment.create("/${injected}", 64, true); console.log('created'); }
        catch (e) { console.log('native', e.code); }
        console.log('tracker', native.trackerInfo().pid);`),
      );
      const [, type, message] = await child.line(/^refused (\w+) (.*)/);
      expect(type).toBe('TypeError');
      expect(JSON.parse(message)).toMatch(/must not contain "\\n" \(U\+000A, a control character\)/);
      expect((await child.line(/^native (\w+)/))[1]).toBe('EINVAL');
      const tag = Number((await child.line(/^tracker (\d+)/))[1]).toString(36);
      expect(await child.exited).toBe(0);
      expect(child.stdout()).not.toContain('created');
      await waitUntil(() => trackerProcesses(tag).length === 0, "the child's trackers have finished");
      expect(fs.existsSync(`/dev/shm/${victim}`)).toBe(true);
      expect(fs.readdirSync('/dev/shm').filter((n) => n.startsWith(`rel-inj-${process.pid}`))).toEqual([]);
    } finally {
      fs.rmSync(`/dev/shm/${victim}`, { force: true });
    }
  });
});

describe('names', () => {
  const bad: Array<[string, RegExp]> = [
    ['a\nb', /"\\n" \(U\+000A, a control character\) \(at index 1/],
    ['a\u0001', /"\\u0001" \(U\+0001, a control character\)/],
    ['a\tb', /"\\t" \(U\+0009, a control character\)/],
    ['a b', /" " \(U\+0020, a space\)/],
    ['café', /"é" \(U\+00E9\)/],
    ['a*', /"\*" \(U\+002A\)/],
    ['a\u007f', /U\+007F, a control character/],
  ];

  it('a name outside A-Z a-z 0-9 . _ : @ + = ~ - is a TypeError naming the character', () => {
    for (const [name, message] of bad) {
      for (const make of [
        () => new SharedMemory({ name, create: true, size: 8 }),
        () => new SharedMemory({ name }),
        () => new Lock({ name }),
        () => new Event({ name }),
        () => unlinkNamed(name),
      ]) {
        expect(make).toThrow(TypeError);
        expect(make).toThrow(message);
        expect(make).toThrow(/names are made of A-Z a-z 0-9 \. _ : @ \+ = ~ -/);
      }
    }
    expect(() => new SharedMemory({ name: 'a/b', create: true, size: 8 })).toThrow(TypeError);
    expect(() => new Lock({ name: '/x' })).toThrow(/must not contain "\/"/);
    for (const name of ['.', '..', '']) expect(() => new Lock({ name })).toThrow(TypeError);
    expect(() => new SharedMemory({ name: 'x'.repeat(241) })).toThrow(RangeError);
    expect(() => new Lock({ name: 'x'.repeat(241) })).toThrow(/at most 240 characters/);
  });

  it('every character of the set works, and named primitives live under mp-named.', () => {
    const name = `A-z_0.9:@+=~-${process.pid}`;
    const shm = new SharedMemory({ name: `mp-test-${name}`, create: true, size: 8 });
    const lock = new Lock({ name });
    try {
      expect(exists(`mp-test-${name}`)).toBe(true);
      expect(exists(`mp-named.${name}`)).toBe(true);
    } finally {
      shm.close();
      shm.unlink();
      unlinkNamed(name);
    }
    expect(lock.locked()).toBe(false);
  });
});

describe('multiproc ls / clean', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(repo, 'dist/cli/main.js'), ...args], { encoding: 'utf8' });
  const me = native.trackerInfo().pid.toString(36);

  it('lists each object with its type, program, trackers and users', () => {
    const shm = new SharedMemory({ create: true, size: 100 });
    const lock = new Lock();
    const event = new Event();
    const queue = new Queue();
    const sem = native.NamedSemaphore.create(`/mp-test-ls-${process.pid}`, 0, true);
    try {
      const byName = new Map(listSharedObjects().map((o) => [o.name, o]));
      const ofType = (type: string) => [...byName.values()].filter((o) => o.program === me && o.type === type);
      expect(byName.get(shm.name)).toMatchObject({
        kind: 'segment',
        type: 'SharedMemory',
        size: 100,
        named: false,
        program: me,
        trackerPid: native.trackerInfo().pid,
        trackerAlive: true,
        mode: 0o600,
        uid: process.geteuid?.(),
      });
      expect(byName.get(shm.name)!.trackers).toHaveLength(2);
      expect(byName.get(shm.name)!.openBy).toContain(process.pid);
      for (const type of ['Lock', 'Event', 'Queue']) expect(ofType(type).length).toBeGreaterThan(0);
      expect(byName.get(`mp-test-ls-${process.pid}`)).toMatchObject({ kind: 'semaphore', type: 'NamedSemaphore', named: true });
      const json = JSON.parse(cli('ls', '--json').stdout) as Array<{ name: string; program: string }>;
      expect(json.find((o) => o.name === shm.name)).toMatchObject({ program: me });
      expect(cli('ls').stdout).toMatch(new RegExp(`SharedMemory +${shm.name} +100 B +\\d+ +${me} +alive \\(\\d+,\\d+\\) +1 +tracked`));
    } finally {
      shm.close();
      shm.unlink();
      sem.close();
      native.NamedSemaphore.unlink(sem.name);
      void [lock, event, queue];
    }
  });

  it('classifies objects by their header', () => {
    const head = (...words: number[]) => new Uint8Array(new Uint32Array(words).buffer);
    expect(classifyObject('mp-x', head(0x4d505359, 1))).toBe('Lock');
    expect(classifyObject('mp-x', head(0x4d505359, 8))).toBe('Queue');
    expect(classifyObject('mp-x', head(0x4d505359, 9))).toBe('Value');
    expect(classifyObject('mp-x', head(0x4d505359, 10))).toBe('SharedArray');
    expect(classifyObject('mp-x', head(0x4d505359, 99))).toBe('unknown');
    expect(classifyObject('mp-x', head(0x4453504d, 0))).toBe('QueueItem');
    expect(classifyObject('mp-x', head(1, 2))).toBe('SharedMemory');
    expect(classifyObject('mp-x', new Uint8Array(3))).toBe('SharedMemory');
    expect(classifyObject('mp-x', undefined)).toBe('unknown');
    expect(classifyObject('sem.mp-x', undefined)).toBe('NamedSemaphore');
  });

  // clean-deletes-live-named-lock.mjs: "mp-sync-<16 hex>" passed for a generated name of a
  // dead program, and clean removed the live Lock.
  it('a live named Lock whose name is 16 hex digits is named, not an orphan', async () => {
    const name = randomBytes(8).toString('hex');
    const lock = new Lock({ name });
    try {
      const entry = listSharedObjects().find((o) => o.name === `mp-named.${name}`);
      expect(entry).toMatchObject({ type: 'Lock', named: true, program: null, trackerPid: null });
      expect(entry!.openBy).toContain(process.pid);
      expect(cleanDecision(entry!)).toMatchObject({ remove: false, reason: expect.stringMatching(/^named/) });
      expect(cleanDecision(entry!, { named: true })).toMatchObject({ remove: false, reason: expect.stringMatching(/used by/) });
      expect(cli('clean', '--dry-run').stdout).toContain(`would keep Lock mp-named.${name}: named`);
      expect(cli('clean', '--dry-run', '--named').stdout).toContain(`would keep Lock mp-named.${name}: used by`);
      expect(exists(`mp-named.${name}`)).toBe(true);
    } finally {
      unlinkNamed(name);
    }
    expect(lock.locked()).toBe(false);
  });

  it('clean removes a provable orphan, and only with --named an unused named object', async () => {
    // Named as ours, with a tag no tracker can have (above any pid), unmapped.
    const dead = (2 ** 22 + 1).toString(36);
    const orphanName = `mp-${dead}-${'ab'.repeat(8)}`;
    const mappedName = `mp-${dead}-${'cd'.repeat(8)}`;
    const orphan = new SharedMemory({ name: orphanName, create: true, size: 100, track: false });
    orphan.close();
    const mapped = new SharedMemory({ name: mappedName, create: true, size: 100, track: false });
    const named = `clean-${process.pid}`;
    const child = startNode(nodeCode(`new mp.Event({ name: ${JSON.stringify(named)} }); console.log('ok');`));
    await child.line(/^ok/);
    expect(await child.exited).toBe(0);
    try {
      const objects = listed([orphanName, mappedName, `mp-named.${named}`]);
      expect(objects).toHaveLength(3);
      const o = objects.find((x) => x.name === orphanName)!;
      expect(o).toMatchObject({ program: dead, trackerAlive: false, openBy: [], openByComplete: true });
      expect(cli('clean', '--dry-run').stdout).toContain(`would remove SharedMemory ${orphanName}: orphan`);
      expect(exists(orphanName)).toBe(true); // a dry run
      const decisions = cleanSharedObjects(objects);
      expect(Object.fromEntries(decisions.map((d) => [d.object.name, d.remove]))).toEqual({
        [orphanName]: true,
        [mappedName]: false,
        [`mp-named.${named}`]: false,
      });
      expect(decisions.find((d) => d.object.name === mappedName)!.reason).toMatch(/used by 1 process\(es\): \d+ \(its tracker is gone\)/);
      expect(exists(orphanName)).toBe(false);
      expect(exists(`mp-named.${named}`)).toBe(true);
      const again = cleanSharedObjects(listed([`mp-named.${named}`]), { named: true });
      expect(again).toMatchObject([{ remove: true, reason: 'named, and no process uses it' }]);
      expect(exists(`mp-named.${named}`)).toBe(false);
    } finally {
      for (const n of [orphanName, `mp-named.${named}`]) fs.rmSync(`/dev/shm/${n}`, { force: true });
      mapped.close();
      mapped.unlink();
    }
  });

  it('unknown commands and flags are errors (exit 2, usage on stderr)', () => {
    for (const args of [['frobnicate'], ['ls', '--jsn'], ['clean', '--forse'], ['clean', 'now'], []]) {
      const r = cli(...args);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^multiproc: (unknown (command|flag|argument)|no command given)/);
      expect(r.stderr).toContain('usage: multiproc <command>');
    }
    const help = cli('help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('clean [--dry-run] [--named] [--force]');
  });
});
