// The one message a parent sends a child at start (fd 3): everything the
// bootstrap needs to become the process the parent described.
import { deserialize, serialize } from '../share/handles';
import type { LogLevel } from '../base/logging';

export interface StartPayload {
  version: 1;
  name: string;
  daemon: boolean;
  identity: number[];
  parent: { name: string; pid: number };
  /** URL of the module that exports the target (or the Process subclass). */
  module: string;
  /** The parent's main script, the default module for the child's own children. */
  mainModule: string | undefined;
  /** 'function': call module[exportName](...args); 'subclass': revive module[exportName] with fields, call run(). */
  kind: 'function' | 'subclass';
  exportName: string;
  /** serialize()d separately so a non-cloneable one is reported as "args[1]..." / "this.x". */
  args: Buffer;
  fields: Buffer;
  log: { level: LogLevel; stderr: boolean };
  /** The parent's authkey (Python's), inherited. */
  authkey: Buffer;
}

export function encodePayload(p: Omit<StartPayload, 'version'>): Buffer {
  return serialize({ version: 1, ...p });
}

export function decodePayload(data: Buffer): StartPayload {
  const p = deserialize(data) as StartPayload;
  if (typeof p !== 'object' || p === null || p.version !== 1) {
    throw new Error('multiproc bootstrap: unknown start payload (parent and child use different multiproc versions?)');
  }
  return p;
}
