// The segment behind one multiproc object: creating it (named or not),
// opening it from a handle, the typed view every type works on, and how
// long it lives.
//
// Lifetime. A named object lasts until unlink() (or `multiproc clean`). An
// unnamed one lasts while anyone can still use it, and no longer: its
// header's holder table (layout.ts, entries.ts) has one entry per thread
// that has it open, and one placeholder per handle of it in flight to
// another process. The sender reserves the placeholder before the handle
// leaves (before a put returns, before a child is started); the receiver
// takes the placeholder over as its own entry when it revives the handle
// (or drops it, when it has the object open already). When an object is
// garbage-collected, its thread's entry is freed, the entries of threads
// that died are cleared, and if none is left the name is unlinked. Holders
// that died without a collection, and handles that were never received,
// keep it until the program ends: then the resource tracker removes it, as
// it removes everything the program made. An object whose table overflows
// (more than HOLDERS.entries threads and handles at once) is kept until then
// too.
import { addon } from '../binding/addon';
import { noteTicket } from '../share/handles';
import { corruptError, isSystemError, rethrowWith } from '../base/errors';
import { NAMED_PREFIX, generateName, posixName, validateName } from './names';
import type { NativeSegment } from '../binding/native';
import { Entries, placeholder } from './entries';
import { FLAG, HEADER, HOLDERS, Kind, MAGIC, STATE, VERSION, bytesFor } from '../binding/layout';
import { pack, threadId, threadIdentity } from './thread';

/** A placeholder in an object's holder table, carried by a handle in flight. */
export interface Ticket {
  entry: number;
  id: bigint;
}

export class SharedState {
  readonly segment: NativeSegment;
  /** The whole segment as 32-bit words. */
  readonly i32: Int32Array;
  readonly name: string;
  readonly kind: Kind;
  /** User-given name for named objects, else undefined. */
  readonly userName: string | undefined;
  readonly holders: Entries;
  /** This thread's entry in the holder table (-1: none: named, or the table was full). */
  #holder = -1;

  private constructor(segment: NativeSegment, name: string, kind: Kind, userName: string | undefined) {
    this.segment = segment;
    const buf = segment.buffer;
    this.i32 = new Int32Array(buf.buffer, buf.byteOffset, Math.floor(buf.length / 4));
    this.name = name;
    this.kind = kind;
    this.userName = userName;
    this.holders = new Entries(this.i32, HOLDERS.first, HOLDERS.entries, HOLDERS.words, HEADER.holderGiveUps);
  }

  /** Word index of state word `i`. */
  at(i: number): number {
    return STATE + i;
  }

  /** Byte offset of state word `i` (for the addon's wait calls). */
  offset(i: number): number {
    return (STATE + i) * 4;
  }

  get named(): boolean {
    return (this.i32[HEADER.flags] & FLAG.named) !== 0;
  }

  /** What to call it in messages: "Lock 'jobs'" or "Lock mp-1a2b-...". */
  describe(): string {
    return `${Kind[this.kind]} ${this.userName !== undefined ? JSON.stringify(this.userName) : this.name}`;
  }

  /**
   * A new object (tracked: removed when the program ends, or earlier when
   * no one holds it), or with `userName` the named one, created if it does
   * not exist yet (then untracked: it lasts until unlink()). `init` writes
   * the initial state and runs only in the process that created the
   * segment. `minStateWords`: the least a segment opened by name must have.
   */
  static createOrOpen(
    kind: Kind,
    stateWords: number,
    userName: string | undefined,
    init: (s: SharedState) => void,
    minStateWords = stateWords,
  ): SharedState {
    const size = bytesFor(stateWords);
    if (userName === undefined) {
      const name = generateName();
      const s = new SharedState(addon().Segment.create(posixName(name), size, true), name, kind, undefined);
      s.#holder = s.holders.claim();
      s.#initialize(init, 0);
      return s;
    }
    validateName(userName, 'options.name');
    const name = NAMED_PREFIX + userName;
    try {
      const s = new SharedState(addon().Segment.create(posixName(name), size, false), name, kind, userName);
      s.#initialize(init, FLAG.named);
      return s;
    } catch (e) {
      if (!isSystemError(e, 'EEXIST')) rethrowWith(e, `cannot create ${Kind[kind]} ${JSON.stringify(userName)}`);
    }
    return SharedState.open(name, kind, userName, undefined, minStateWords);
  }

  /**
   * Opens an existing object by segment name, checking it is one of ours of
   * `kind` and at least `minStateWords` big; `ticket` is the placeholder its
   * handle carried (this thread's object takes it over).
   */
  static open(name: string, kind: Kind, userName?: string, ticket?: Ticket, minStateWords = 0): SharedState {
    const what = `${Kind[kind]} ${JSON.stringify(userName ?? name)}`;
    let segment: NativeSegment;
    try {
      segment = SharedState.#openSegment(name, bytesFor(0));
    } catch (e) {
      if (isSystemError(e, 'ENOENT')) rethrowWith(e, `${what} no longer exists (its program ended, or it was unlinked)`);
      if (isSystemError(e, 'EBADMSG')) throw corruptError(`${what} cannot be opened: ${(e as Error).message}`);
      rethrowWith(e, `cannot open ${what}`);
    }
    const s = new SharedState(segment, name, kind, userName);
    const shown = JSON.stringify(userName ?? name);
    const refuse = (error: Error): never => {
      segment.close();
      throw error;
    };
    const magic = s.i32[HEADER.magic];
    // Zeros: its creator may still be writing it (then `initialized` comes);
    // anything else that is not our magic is some other program's file.
    if (magic !== 0 && magic !== MAGIC) refuse(new TypeError(`${shown} is not a multiproc object (another program's file?)`));
    s.#awaitInitialized();
    if (s.i32[HEADER.magic] !== MAGIC || s.i32[HEADER.version] !== VERSION) {
      refuse(
        new TypeError(
          `${shown} is not a multiproc object of this version ` +
            `(layout ${s.i32[HEADER.magic] === MAGIC ? s.i32[HEADER.version] : 'unknown'}, this multiproc uses ${VERSION})`,
        ),
      );
    }
    const found = s.i32[HEADER.kind];
    if (found !== (kind as number)) {
      const a = (k: string): string => `${/^[AEIOU]/.test(k) ? 'an' : 'a'} ${k}`;
      refuse(new TypeError(`${shown} is ${a(Kind[found] ?? 'different kind of object')}, not ${a(Kind[kind])}`));
    }
    if (segment.size < bytesFor(minStateWords)) {
      refuse(
        corruptError(
          `${what} is corrupt: its segment has ${segment.size} bytes, fewer than the ${bytesFor(minStateWords)} a ${Kind[kind]} needs`,
        ),
      );
    }
    if (!s.named) s.#adopt(ticket);
    return s;
  }

  // A named object opened between its creator's create and resize has
  // size 0 (EINVAL): wait for the creator, briefly, as for `initialized`.
  static #openSegment(name: string, minSize: number): NativeSegment {
    const deadline = Date.now() + 2000;
    for (;;) {
      try {
        return addon().Segment.open(posixName(name), Math.max(minSize, bytesFor(0)));
      } catch (e) {
        if (!isSystemError(e, 'EINVAL') || Date.now() > deadline) throw e;
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }

  // Writes the initial state; a creation whose init throws (a bad initial
  // value) leaves nothing behind.
  #initialize(init: (s: SharedState) => void, flags: number): void {
    try {
      init(this);
    } catch (e) {
      this.segment.close();
      try {
        addon().Segment.unlink(posixName(this.name));
      } catch {
        // gone already
      }
      throw e;
    }
    this.i32[HEADER.magic] = MAGIC;
    this.i32[HEADER.kind] = this.kind;
    this.i32[HEADER.version] = VERSION;
    this.i32[HEADER.flags] = flags;
    Atomics.store(this.i32, HEADER.initialized, 1);
  }

  // A named object opened while its creator is still writing it: wait
  // (briefly: creation is a few stores) for the initialized flag.
  #awaitInitialized(): void {
    const deadline = Date.now() + 2000;
    while (Atomics.load(this.i32, HEADER.initialized) !== 1) {
      if (Date.now() > deadline) {
        this.segment.close();
        throw new Error(
          `${JSON.stringify(this.userName ?? this.name)} was never initialized (its creator died while creating it?): unlink it and create it again`,
        );
      }
      addon().waitSync(this.segment, HEADER.initialized * 4, 0, 1);
    }
  }

  #pin(): void {
    Atomics.or(this.i32, HEADER.flags, FLAG.pinned);
  }

  // This thread's entry: the ticket's placeholder if it is still there (or
  // what its sender made of it once it knew who this process is: see
  // handles.ts HandlesSent.assign), else a new one -- another revival of
  // the same bytes took the placeholder.
  #adopt(ticket: Ticket | undefined): void {
    const me = threadIdentity();
    if (ticket && ticket.entry >= 0 && adoptEntry(this.holders, ticket, me)) {
      this.#holder = ticket.entry;
      return;
    }
    this.#holder = this.holders.claimOrPurge(me);
    if (this.#holder < 0) this.#pin();
  }

  /** A placeholder for a handle about to leave this process (none for named objects). */
  ticket(): Ticket | undefined {
    if (this.named) return undefined;
    const id = placeholder();
    const entry = this.holders.claimOrPurge(id);
    if (entry < 0) {
      this.#pin();
      return undefined;
    }
    const t = { entry, id };
    noteTicket({
      drop: () => this.dropTicket(t),
      assign: (pid, stamp) => this.holders.swap(t.entry, t.id, pack(pid, stamp)),
    });
    return t;
  }

  /**
   * Gives back a placeholder: its handle was not sent, or arrived where the
   * object is open already -- then its sender may have given the entry to
   * this thread (a child's arguments), and this thread has its own.
   */
  dropTicket(t: Ticket): void {
    if (this.holders.giveUp(t.entry, t.id) || t.entry === this.#holder) return;
    if (!this.holders.giveUp(t.entry, threadIdentity())) this.holders.giveUp(t.entry, pack(threadId(), 0));
  }

  /**
   * This thread's objects are gone (collected): free its entry and unlink
   * the name if no live holder and no handle in flight remains. Never throws.
   */
  letGo(): void {
    try {
      if (this.#holder >= 0) this.holders.giveUp(this.#holder);
      this.#holder = -1;
      if (this.segment.closed || this.segment.truncated) return;
      if ((this.i32[HEADER.flags] & (FLAG.named | FLAG.pinned)) !== 0) return;
      if (this.holders.empty()) addon().Segment.unlink(posixName(this.name));
    } catch {
      // already unlinked (by another last holder), or gone: nothing to do
    }
  }

  /** Removes the name: processes that have it open keep using it; new ones cannot open it. */
  unlink(): void {
    try {
      addon().Segment.unlink(posixName(this.name));
    } catch (e) {
      if (isSystemError(e, 'ENOENT')) rethrowWith(e, `${this.describe()} was already unlinked`);
      rethrowWith(e, `cannot unlink ${this.describe()}`);
    }
  }
}

/**
 * Takes a handle's ticket over as `me`'s entry: the placeholder itself, or
 * the entry its sender gave this process when it started it (its main
 * thread's identity, or its pid alone if the stamp could not be read).
 * False if none of these is there.
 */
export function adoptEntry(table: Entries, ticket: Ticket, me: bigint): boolean {
  return (
    table.swap(ticket.entry, ticket.id, me) || table.identity(ticket.entry) === me || table.swap(ticket.entry, pack(threadId(), 0), me)
  );
}

/** Removes a named object of any kind by its user-given name. */
export function unlinkNamed(userName: string): void {
  validateName(userName, 'name');
  try {
    addon().Segment.unlink(posixName(NAMED_PREFIX + userName));
  } catch (e) {
    if (isSystemError(e, 'ENOENT')) rethrowWith(e, `no named multiproc object ${JSON.stringify(userName)}`);
    rethrowWith(e, `cannot unlink ${JSON.stringify(userName)}`);
  }
}
