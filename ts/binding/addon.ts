// The addon on first use. A child process that never touches shared memory
// (a plain target) does not pay for loading it (~6 ms of dlopen and
// node-gyp-build's lookup), which is most of what multiproc adds to a child's
// start-up. Hot paths keep the returned object in a local.
import { codedError } from '../base/errors';
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

// MULTIPROC_SPIN_NS sets the spin policy's maxSpinNs (wait.ts) for the whole
// process; the native side reads it at load. A value it cannot use is an
// error here, not a silent fall-back that changes how every wait behaves.
function checkSpinEnv(): void {
  const raw = process.env.MULTIPROC_SPIN_NS;
  if (raw === undefined || raw === '') return;
  if (!/^\d+$/.test(raw) || Number(raw) > 1e9) {
    throw codedError(
      'ERR_MP_BAD_ENV',
      `MULTIPROC_SPIN_NS must be a whole number of nanoseconds from 0 to 1000000000 (0: never spin), got ${JSON.stringify(raw)}`,
      { Type: RangeError },
    );
  }
}

export function addon(): NativeBinding {
  if (binding) return binding;
  checkSpinEnv();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  binding = (require('./native') as typeof import('./native')).native;
  if (inherited) binding.trackerAdopt(inherited.fd, inherited.pid);
  return binding;
}
