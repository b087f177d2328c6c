// One error table: every ERR_MP_* code the sources (TS and the addon's glue)
// give an error is listed, with its meaning, in ERROR_CODES -- which users
// can read too.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../dist/index.js';
import { repo } from './helpers/child';

function files(dir: string, ext: RegExp): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p, ext) : ext.test(e.name) ? [p] : [];
  });
}

describe('error codes', () => {
  it('every code used in ts/ and native/glue/ is in ERROR_CODES, and every listed one is used', () => {
    const used = new Set<string>();
    for (const f of [...files(path.join(repo, 'ts'), /\.ts$/), ...files(path.join(repo, 'native', 'glue'), /\.(cc|h)$/)]) {
      let text = fs.readFileSync(f, 'utf8');
      // The table itself does not count as a use; the error classes beside it do.
      if (f.endsWith(path.join('base', 'errors.ts')))
        text = [...text.matchAll(/readonly code = '(ERR_MP_[A-Z_]+)'/g)].map((m) => m[1]).join(' ');
      for (const m of text.matchAll(/ERR_MP_[A-Z_]+/g)) used.add(m[0]);
    }
    used.delete('ERR_MP_'); // a comment's prefix
    expect([...used].sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });
});
