// SharedMemory: Python's multiprocessing.shared_memory.SharedMemory.
// close() ends this process's mapping; unlink() removes the name, once, for
// everyone (existing mappings stay valid until closed).
import { inspect } from 'node:util';
import { closedError, isSystemError, rethrowWith } from '../base/errors';
import { registerHandleKind, toHandle, type HandleData, type Shareable } from '../share/handles';
import { addon } from '../binding/addon';
import type { NativeSegment } from '../binding/native';
import { describe } from '../base/validate';
import { generateName, posixName, validateName } from './names';

export interface SharedMemoryOptions {
  /** Bare name (no "/"). Required to open; generated ("mp-...") when creating without one. */
  name?: string;
  /** Create a new segment (fails with code EEXIST if the name is taken). Default false: open. */
  create?: boolean;
  /** Size in bytes: required (> 0) to create; ignored when opening (the segment's own size is used). */
  size?: number;
  /**
   * Register with the resource tracker so the segment is unlinked when the
   * program's last process exits. Default true when creating. Pass false for
   * a named segment that must outlive the program (then unlink() it yourself).
   */
  track?: boolean;
}

const OPTION_KEYS = new Set(['name', 'create', 'size', 'track']);

// Segments this process has open, so a handle received twice maps once.
const openByName = new Map<string, WeakRef<SharedMemory>>();
const forget = new FinalizationRegistry<string>((name) => {
  if (openByName.get(name)?.deref() === undefined) openByName.delete(name);
});

export class SharedMemory implements Shareable {
  readonly #segment: NativeSegment;
  readonly #name: string;

  constructor(options: SharedMemoryOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`SharedMemory options must be an object, got ${describe(options)}`);
    }
    for (const key of Object.keys(options)) {
      if (!OPTION_KEYS.has(key)) throw new TypeError(`unknown SharedMemory option ${JSON.stringify(key)}`);
    }
    const { name, create = false, size, track } = options;
    if (typeof create !== 'boolean') throw new TypeError(`options.create must be a boolean, got ${describe(create)}`);
    if (track !== undefined && typeof track !== 'boolean') {
      throw new TypeError(`options.track must be a boolean, got ${describe(track)}`);
    }
    if (create) {
      if (typeof size !== 'number') throw new TypeError(`options.size must be a number of bytes, got ${describe(size)}`);
      if (!Number.isInteger(size) || size <= 0 || size > Number.MAX_SAFE_INTEGER) {
        throw new RangeError(`options.size must be a positive integer number of bytes, got ${size}`);
      }
      this.#name = name === undefined ? generateName() : validateName(name, 'options.name');
      try {
        this.#segment = addon().Segment.create(posixName(this.#name), size, track ?? true);
      } catch (e) {
        if (isSystemError(e, 'EEXIST')) rethrowWith(e, `SharedMemory ${JSON.stringify(this.#name)} already exists`);
        if (isSystemError(e, 'ENOSPC')) rethrowWith(e, `no room in /dev/shm for ${size} bytes`);
        rethrowWith(e, `cannot create SharedMemory ${JSON.stringify(this.#name)}`);
      }
    } else {
      if (name === undefined) throw new TypeError('options.name is required to open an existing SharedMemory (or pass create: true)');
      this.#name = validateName(name, 'options.name');
      if (size !== undefined && (typeof size !== 'number' || !(size >= 0))) {
        throw new RangeError(`options.size must be a non-negative number, got ${describe(size)}`);
      }
      try {
        this.#segment = addon().Segment.open(posixName(this.#name));
      } catch (e) {
        if (isSystemError(e, 'ENOENT')) {
          rethrowWith(e, `SharedMemory ${JSON.stringify(this.#name)} does not exist (never created, or already unlinked)`);
        }
        rethrowWith(e, `cannot open SharedMemory ${JSON.stringify(this.#name)}`);
      }
    }
    openByName.set(this.#name, new WeakRef(this));
    forget.register(this, this.#name);
  }

  /** The name other processes open it by (no leading "/"). */
  get name(): string {
    return this.#name;
  }

  /** Size in bytes. */
  get size(): number {
    return this.#segment.size;
  }

  /** Zero-copy view of the memory. Throws after close(). */
  get buf(): Buffer {
    if (this.#segment.closed) throw closedMapping(this.#name);
    return this.#segment.buffer;
  }

  get closed(): boolean {
    return this.#segment.closed;
  }

  /**
   * Unmaps it in this process. Every Buffer or view obtained from `buf`
   * becomes empty (length 0) rather than dangling. Idempotent.
   */
  close(): void {
    this.#segment.close();
    if (openByName.get(this.#name)?.deref() === this) openByName.delete(this.#name);
  }

  /** Removes the name so no one else can open it; call once, from one process. */
  unlink(): void {
    try {
      addon().Segment.unlink(posixName(this.#name));
    } catch (e) {
      if (isSystemError(e, 'ENOENT')) rethrowWith(e, `SharedMemory ${JSON.stringify(this.#name)} was already unlinked`);
      rethrowWith(e, `cannot unlink SharedMemory ${JSON.stringify(this.#name)}`);
    }
  }

  [toHandle](): HandleData {
    if (this.#segment.closed) throw closedMapping(this.#name);
    return { kind: 'SharedMemory', name: this.#name };
  }

  /** @internal the native segment, for types built on this one. */
  get segment(): NativeSegment {
    return this.#segment;
  }

  get [Symbol.toStringTag](): string {
    return 'SharedMemory';
  }

  [inspect.custom](): string {
    return `SharedMemory ${JSON.stringify(this.#name)} { ${this.closed ? 'closed' : `${this.size} bytes`} }`;
  }
}

function closedMapping(name: string): Error {
  return closedError(`SharedMemory ${JSON.stringify(name)} is closed`);
}

registerHandleKind('SharedMemory', (data) => {
  const name = String(data.name);
  const open = openByName.get(name)?.deref();
  if (open && !open.closed) return open;
  return new SharedMemory({ name });
});
