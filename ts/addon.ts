// The addon on first use. A child process that never touches shared memory
// (a plain target) does not pay for loading it (~6 ms of dlopen and
// node-gyp-build's lookup), which is most of what multiproc adds to a child's
// start-up. Hot paths keep the returned object in a local.
import type { NativeBinding } from './native';

let binding: NativeBinding | undefined;
let inherited: { fd: number; pid: number } | undefined;

/**
 * Called by the bootstrap: the resource tracker this child shares with its
 * parent, adopted when the addon loads.
 */
export function inheritTracker(fd: number, pid: number): void {
  inherited = { fd, pid };
  if (binding) binding.trackerAdopt(fd, pid);
}

export function addon(): NativeBinding {
  if (binding) return binding;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  binding = (require('./native') as typeof import('./native')).native;
  if (inherited) binding.trackerAdopt(inherited.fd, inherited.pid);
  return binding;
}
