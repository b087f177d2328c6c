// In the child: the Process object the parent described (process/bootstrap.ts).
import { state } from '../base/identity';
import { Process, type Target } from './process';
import type { StartPayload } from './payload';

/**
 * In the child: the Process object the parent described. A subclass is
 * revived the way pickle does it -- Process's own constructor runs (so its
 * private state exists), the subclass constructor does not, and the fields
 * the parent had are assigned back.
 */
export function reviveProcess(p: StartPayload, exported: unknown, args: unknown[], fields: Record<string, unknown>): Process {
  let self: Process;
  if (p.kind === 'subclass') {
    if (typeof exported !== 'function' || !(exported.prototype instanceof Process)) {
      throw new TypeError(`${p.module} exports "${p.exportName}", but it is not a subclass of Process`);
    }
    self = Reflect.construct(Process, [{ name: p.name, args, daemon: p.daemon }], exported) as Process;
    state.childCounter = 0;
    Object.assign(self, fields);
  } else {
    if (typeof exported !== 'function') {
      throw new TypeError(`${p.module} exports "${p.exportName}", but it is a ${typeof exported}, not a function`);
    }
    self = new Process({ target: exported as Target, args, name: p.name, daemon: p.daemon });
    state.childCounter = 0;
  }
  Process._self(self);
  return self;
}
