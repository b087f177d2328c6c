// The addon on first use. A child process that never touches shared memory
// (a plain target) does not pay for loading it (~6 ms of dlopen and
// node-gyp-build's lookup), which is most of what multiproc adds to a child's
// start-up. Hot paths keep the returned object in a local.
import type { NativeBinding } from './native';

let binding: NativeBinding | undefined;

export function addon(): NativeBinding {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (binding ??= (require('./native') as typeof import('./native')).native);
}
