// The segment behind one synchronization primitive: creating it (named or
// not), opening it from a handle, and the typed view every type works on.
import { addon } from '../addon';
import { isSystemError, rethrowWith } from '../errors';
import { NAMED_PREFIX, generateName, posixName, validateName } from '../names';
import { unlinkWhenCollected } from '../lifetime';
import type { NativeSegment } from '../native';
import { HEADER, Kind, MAGIC, STATE, VERSION, bytesFor } from './layout';

export class SharedState {
  readonly segment: NativeSegment;
  /** The whole segment as 32-bit words. */
  readonly i32: Int32Array;
  /** Byte offset of the state (after the header): where the wait cells start. */
  readonly base = STATE * 4;
  readonly name: string;
  readonly kind: Kind;
  /** User-given name for named primitives, else undefined. */
  readonly userName: string | undefined;
  /** This process created it, unnamed: its name goes when the owning object is collected. */
  createdHere = false;

  private constructor(segment: NativeSegment, name: string, kind: Kind, userName: string | undefined) {
    this.segment = segment;
    const buf = segment.buffer;
    this.i32 = new Int32Array(buf.buffer, buf.byteOffset, buf.length >> 2);
    this.name = name;
    this.kind = kind;
    this.userName = userName;
  }

  /** Word index of state word `i`. */
  at(i: number): number {
    return STATE + i;
  }

  /** Byte offset of state word `i` (for the addon's wait calls). */
  offset(i: number): number {
    return (STATE + i) * 4;
  }

  /**
   * A new primitive (tracked: removed when the program ends), or with
   * `userName` the named one, created if it does not exist yet (then
   * untracked: it lasts until unlink()). `init` writes the initial state
   * and runs only in the process that created the segment.
   */
  static createOrOpen(kind: Kind, stateWords: number, userName: string | undefined,
    init: (s: SharedState) => void): SharedState {
    const size = bytesFor(stateWords);
    if (userName === undefined) {
      const name = generateName();
      const s = new SharedState(addon().Segment.create(posixName(name), size, true), name, kind, undefined);
      s.#initialize(init);
      s.createdHere = true;
      return s;
    }
    validateName(userName, 'options.name');
    if (Buffer.byteLength(userName) > 243) {
      throw new RangeError(`options.name must be at most 243 bytes long (it is stored as "${NAMED_PREFIX}<name>"), got ${Buffer.byteLength(userName)}`);
    }
    const name = NAMED_PREFIX + userName;
    try {
      const s = new SharedState(addon().Segment.create(posixName(name), size, false), name, kind, userName);
      s.#initialize(init);
      return s;
    } catch (e) {
      if (!isSystemError(e, 'EEXIST')) rethrowWith(e, `cannot create ${Kind[kind]} ${JSON.stringify(userName)}`);
    }
    return SharedState.open(name, kind, userName);
  }

  /** Opens an existing primitive by segment name, checking it is of `kind`. */
  static open(name: string, kind: Kind, userName?: string): SharedState {
    let segment: NativeSegment;
    try {
      segment = SharedState.#openSegment(name);
    } catch (e) {
      if (isSystemError(e, 'ENOENT')) {
        rethrowWith(e, `${Kind[kind]} ${JSON.stringify(userName ?? name)} no longer exists (its program ended, or it was unlinked)`);
      }
      rethrowWith(e, `cannot open ${Kind[kind]} ${JSON.stringify(userName ?? name)}`);
    }
    const s = new SharedState(segment, name, kind, userName);
    s.#awaitInitialized();
    const found = s.i32[HEADER.kind]!;
    if (s.i32[HEADER.magic] !== MAGIC || s.i32[HEADER.version] !== VERSION) {
      segment.close();
      throw new TypeError(`${JSON.stringify(userName ?? name)} is not a multiproc synchronization object of this version`);
    }
    if (found !== kind) {
      segment.close();
      throw new TypeError(`${JSON.stringify(userName ?? name)} is a ${Kind[found] ?? 'different kind of object'}, not a ${Kind[kind]}`);
    }
    return s;
  }

  // A named primitive opened between its creator's create and resize has
  // size 0 (EINVAL): wait for the creator, briefly, as for `initialized`.
  static #openSegment(name: string): NativeSegment {
    const deadline = Date.now() + 2000;
    for (;;) {
      try {
        return addon().Segment.open(posixName(name));
      } catch (e) {
        if (!isSystemError(e, 'EINVAL') || Date.now() > deadline) throw e;
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }

  #initialize(init: (s: SharedState) => void): void {
    init(this);
    this.i32[HEADER.magic] = MAGIC;
    this.i32[HEADER.kind] = this.kind;
    this.i32[HEADER.version] = VERSION;
    Atomics.store(this.i32, HEADER.initialized, 1);
  }

  // A named primitive opened while its creator is still writing it: wait
  // (briefly: creation is a few stores) for the initialized flag.
  #awaitInitialized(): void {
    const deadline = Date.now() + 2000;
    while (Atomics.load(this.i32, HEADER.initialized) !== 1) {
      if (Date.now() > deadline) {
        this.segment.close();
        throw new Error(`${JSON.stringify(this.userName ?? this.name)} was never initialized (its creator died while creating it?): unlink it and create it again`);
      }
      addon().waitSync(this.segment, HEADER.initialized * 4, 0, 1);
    }
  }

  /** Removes the name: processes that have it open keep using it; new ones cannot open it. */
  unlink(): void {
    try {
      addon().Segment.unlink(posixName(this.name));
    } catch (e) {
      if (isSystemError(e, 'ENOENT')) rethrowWith(e, `${Kind[this.kind]} ${JSON.stringify(this.userName ?? this.name)} was already unlinked`);
      rethrowWith(e, `cannot unlink ${Kind[this.kind]} ${JSON.stringify(this.userName ?? this.name)}`);
    }
  }
}

/** Removes a named primitive of any kind by its user-given name. */
export function unlinkNamed(userName: string): void {
  validateName(userName, 'name');
  try {
    addon().Segment.unlink(posixName(NAMED_PREFIX + userName));
  } catch (e) {
    if (isSystemError(e, 'ENOENT')) rethrowWith(e, `no named synchronization object ${JSON.stringify(userName)}`);
    rethrowWith(e, `cannot unlink ${JSON.stringify(userName)}`);
  }
}

// One object per primitive per process: a handle received twice reopens once.
const openByName = new Map<string, WeakRef<object>>();
const forget = new FinalizationRegistry<string>((name) => {
  if (openByName.get(name)?.deref() === undefined) openByName.delete(name);
});

export function reuseOrOpen<T extends object>(name: string, open: () => T): T {
  const existing = openByName.get(name)?.deref() as T | undefined;
  if (existing) return existing;
  return open(); // its constructor remembers it
}

/** Registers the object for `state` (and, if it created it, unlinks the name when it is collected). */
export function remember(state: SharedState, obj: object): void {
  openByName.set(state.name, new WeakRef(obj));
  forget.register(obj, state.name);
  if (state.createdHere) unlinkWhenCollected(obj, state.name);
}
