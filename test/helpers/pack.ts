// The package as npm would publish it: `npm pack` of this tree, for the tests
// that check what users get (package.test.ts, types.test.ts).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { repo } from './child';

/** Packs this tree into `dir`; returns the tarball's path. */
export function packRepo(dir: string): string {
  // --ignore-scripts: `prepare` would rebuild dist/ while other test files'
  // children load it (a half-written module fails to load); npm test has
  // built it already.
  const name = execFileSync('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', dir], {
    cwd: repo,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  })
    .trim()
    .split('\n')
    .pop()!;
  return path.join(dir, name);
}
