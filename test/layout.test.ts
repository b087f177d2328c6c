// One source for every shared layout: the C++ headers define the structs
// other processes read (native/core/ring.h, lock.h, wait_cell.h) and the
// ring's codes (native/glue/ring_codes.h); the addon exports them
// (`layout`, native/glue/layout.cc) and the TS layer reads them there. This
// holds the drawings in the headers, and the few numbers TS keeps of its own,
// against what the addon says.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { native } from '../dist/binding/native.js';
import { HOLDERS, LOCK, STATE, WAIT_CELL } from '../dist/binding/layout.js';
import { REPRESENTATION } from '../dist/messaging/encoding.js';
import { repo } from './helpers/child';

const header = (file: string): string => fs.readFileSync(path.join(repo, 'native', file), 'utf8');
const { layout } = native;

/** The boxes of a horizontal drawing: `offset 0 4 8` over `| a | b |`, as [name, offset]. */
function boxes(text: string): [string, number][] {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => /^\/\/\s+offset\s+0\s+\d/.test(l));
  expect(at, 'a drawing with an offset row').toBeGreaterThanOrEqual(0);
  const offsets = [...lines[at].matchAll(/\d+/g)].map((m) => [Number(m[0]), m.index] as const);
  const row = lines.slice(at + 1).find((l) => /^\/\/\s+\|/.test(l))!;
  const out: [string, number][] = [];
  const bars = [...row.matchAll(/\|/g)].map((m) => m.index);
  for (let i = 0; i + 1 < bars.length; i++) {
    // A box starts at the offset drawn above its left bar.
    const offset = offsets.find(([, col]) => Math.abs(col - bars[i]) <= 1);
    expect(offset, `an offset above box ${i} of ${row}`).toBeDefined();
    out.push([row.slice(bars[i] + 1, bars[i + 1]).trim(), offset![0]]);
  }
  const end = offsets.find(([, col]) => Math.abs(col - bars[bars.length - 1]) <= 1);
  out.push(['(end)', end![0]]);
  return out;
}

describe('shared layouts', () => {
  it('WaitCell: the drawing in wait_cell.h is the struct', () => {
    expect(boxes(header('core/wait_cell.h'))).toEqual([
      ['value', layout.waitCell.value],
      ['sleepers', layout.waitCell.sleepers],
      ['(end)', layout.waitCell.bytes],
    ]);
    expect(WAIT_CELL.words * 4).toBe(layout.waitCell.bytes);
    expect([WAIT_CELL.value * 4, WAIT_CELL.sleepers * 4]).toEqual([layout.waitCell.value, layout.waitCell.sleepers]);
  });

  it('LockState: the drawing in lock.h is the struct', () => {
    expect(boxes(header('core/lock.h'))).toEqual([
      ['owner tid', layout.lock.owner],
      ['sleepers', layout.lock.sleepers],
      ['count', layout.lock.count],
      ['owner stamp', layout.lock.stamp],
      ['(end)', layout.lock.bytes],
    ]);
    expect(LOCK.words * 4).toBe(layout.lock.bytes);
    expect([LOCK.owner, LOCK.sleepers, LOCK.count, LOCK.stamp].map((w) => w * 4)).toEqual([
      layout.lock.owner,
      layout.lock.sleepers,
      layout.lock.count,
      layout.lock.stamp,
    ]);
  });

  it('RingHeader: the drawing in ring.h is the struct', () => {
    // Rows of `[offset] | Type name (size) |`: each field starts where the last ended.
    const rows = [...header('core/ring.h').matchAll(/^\/\/\s+(\d+)?\s*[|+]\s+(?:u64|u32|WaitCell|LockState)\s+([a-z ]+?)\s+\((\d+)\)/gm)];
    const names: Record<string, keyof typeof layout.ring> = {
      lock: 'lock',
      written: 'written',
      freed: 'freed',
      head: 'head',
      tail: 'tail',
      items: 'items',
      maxsize: 'maxsize',
      capacity: 'capacity',
      'shut down': 'shutDown',
    };
    let at = 0;
    for (const [, drawn, name, size] of rows) {
      const key = names[name];
      expect(key, `a RingHeader field named ${name}`).toBeDefined();
      expect(layout.ring[key], `${name} starts at ${at}`).toBe(at);
      if (drawn !== undefined) expect(Number(drawn), `the offset drawn beside ${name}`).toBe(at);
      at += Number(size);
    }
    expect(rows.map((r) => names[r[2]])).toEqual(Object.values(names));
    expect(at).toBe(layout.ring.bytes);
    expect(header('core/ring.h')).toMatch(new RegExp(`^//\\s+${layout.ring.bytes} \\+-`, 'm'));
  });

  it('the object header: holders fill words 16..255, the state starts at word 256', () => {
    expect(HOLDERS.first + HOLDERS.entries * HOLDERS.words).toBe(STATE);
    expect(STATE).toBe(256);
  });

  it("the ring's statuses and tag bits are the glue's (ring_codes.h)", () => {
    const codes = header('glue/ring_codes.h');
    const status = /enum Status : uint32_t \{([^}]*)\}/.exec(codes)![1];
    const drawn = Object.fromEntries(
      [...status.matchAll(/k(\w+) = (\d+)/g)].map((m) => [m[1].charAt(0).toLowerCase() + m[1].slice(1), Number(m[2])]),
    );
    expect(drawn).toEqual({ ...layout.ringStatus });
    expect(layout.representation).toMatchObject(REPRESENTATION);
  });
});
