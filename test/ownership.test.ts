// Named objects are opened only if they are ours: a file another user made
// (or one anyone may write) is refused with a clear EPERM-coded error naming
// the object and its owner, and one too small to be what it claims is a
// clear error too -- before anything is mapped. Regression of
// shared/repro/named-object-squat-other-user.mjs, where another local user
// could pre-create /dev/shm/<our name>, hold the "lock" for ever, then
// truncate it and kill the victim (root included) with SIGBUS.
// Making a file look like another user's needs root (chown); CI runs as root.
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Event, Lock, SharedMemory, Value, unlinkNamed } from '../dist/index.js';
import { NAMED_PREFIX } from '../dist/shm/names.js';
import { nodeCode, startNode } from './helpers/child';

const isRoot = process.getuid?.() === 0;
const made: string[] = [];
afterEach(() => {
  for (const f of made.splice(0)) fs.rmSync(f, { force: true });
});

// A file that looks like a named Lock (layout 3: magic, kind, version, initialized).
function plant(name: string, opts: { uid?: number; mode?: number; size?: number } = {}): string {
  const file = `/dev/shm/${NAMED_PREFIX}${name}`;
  const b = Buffer.alloc(opts.size ?? 1040);
  if (b.length >= 16) [0x4d505359, 1, 3, 1].forEach((v, i) => b.writeUInt32LE(v, i * 4));
  if (b.length >= 1028) b.writeUInt32LE(1, 1024); // "held" by pid 1
  fs.writeFileSync(file, b, { mode: 0o600 });
  made.push(file);
  if (opts.mode !== undefined) fs.chmodSync(file, opts.mode);
  if (opts.uid !== undefined) fs.chownSync(file, opts.uid, opts.uid);
  return file;
}

describe('named objects that are not ours', () => {
  it.skipIf(!isRoot)('a file of another user is refused with EPERM naming its owner (root included)', () => {
    const name = `squat-${process.pid}`;
    plant(name, { uid: 65534, mode: 0o666 });
    let error: (Error & { code?: string }) | undefined;
    try {
      new Lock({ name });
    } catch (e) {
      error = e as Error & { code?: string };
    }
    expect(error?.code).toBe('EPERM');
    expect(error?.message).toMatch(/uid 65534/);
    expect(error?.message).toContain(name);
    expect(() => new SharedMemory({ name: `${NAMED_PREFIX}${name}` })).toThrow(expect.objectContaining({ code: 'EPERM' }));
  });

  it('a file of ours that group or others may write is refused too', () => {
    const name = `writable-${process.pid}`;
    plant(name, { mode: 0o666 });
    expect(() => new Lock({ name })).toThrow(expect.objectContaining({ code: 'EPERM', message: expect.stringMatching(/mode 0666/) }));
  });

  it('a file too small for what it claims to be is a clear error, not a crash', () => {
    const name = `small-${process.pid}`;
    plant(name, { size: 64 });
    expect(() => new Lock({ name })).toThrow(
      expect.objectContaining({ code: 'ERR_MP_CORRUPT', message: expect.stringMatching(/64 bytes/) }),
    );
    const other = `foreign-${process.pid}`;
    const file = `/dev/shm/${NAMED_PREFIX}${other}`;
    fs.writeFileSync(file, Buffer.alloc(4096, 7), { mode: 0o600 }); // some other program's file
    made.push(file);
    expect(() => new Event({ name: other })).toThrow(/not a multiproc object/);
  });

  it('a named object of another kind is refused: TypeError naming both kinds', () => {
    const name = `kind-${process.pid}`;
    const e = new Event({ name });
    try {
      expect(() => new Lock({ name })).toThrow(/is an Event, not a Lock/);
      expect(() => new Value('i', 0, { name })).toThrow(TypeError);
    } finally {
      unlinkNamed(name);
    }
    void e;
  });

  it('a named object truncated while mapped does not kill its users with SIGBUS', async () => {
    const name = `truncated-${process.pid}`;
    const child = startNode(
      nodeCode(`
      const fs = require('node:fs');
      const lock = new mp.Lock({ name: ${JSON.stringify(name)} });
      const counter = new mp.Value('i', 5, { name: ${JSON.stringify(name + '-v')} });
      fs.truncateSync('/dev/shm/${NAMED_PREFIX}${name}', 0);
      fs.truncateSync('/dev/shm/${NAMED_PREFIX}${name}-v', 0);
      const outcome = (f) => { try { return String(f()); } catch (e) { return e.code || e.name; } };
      console.log(JSON.stringify({
        locked: outcome(() => lock.locked()),
        acquire: outcome(() => lock.acquireSync({ timeout: 100 })),
        value: outcome(() => counter.getLock().acquireSync({ timeout: 100 })),
        add: outcome(() => typeof counter.add(1)),
      }));
      mp.unlinkNamed(${JSON.stringify(name)}); mp.unlinkNamed(${JSON.stringify(name + '-v')});`),
    );
    const code = await child.exited;
    expect(code, child.stderr()).toBe(0); // not 135 (SIGBUS)
    const r = JSON.parse(child.stdout().trim()) as Record<string, string>;
    expect(r.acquire).toBe('ERR_MP_CORRUPT'); // its page reads as held: the addon reports the truncation
    expect(r.value).toBe('ERR_MP_CORRUPT');
    expect(r.locked).toBe('true');
  });
});
