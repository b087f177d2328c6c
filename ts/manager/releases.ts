// Proxies a thread dropped (collected), told to their server in batches (one
// request per RELEASE_BATCH of them, and what is left at exit or on demand).
const RELEASE_BATCH = 64;

export class Releases {
  #ids: number[] = [];

  /** `tell` sends one Release request for the ids (it may throw: the server is gone, nothing to release). */
  constructor(private readonly tell: (ids: number[]) => void) {}

  add(id: number): void {
    this.#ids.push(id);
    if (this.#ids.length >= RELEASE_BATCH) this.flush();
  }

  flush(): void {
    const ids = this.#ids;
    this.#ids = [];
    if (ids.length === 0) return;
    try {
      this.tell(ids);
    } catch {
      // the server is gone: nothing to release
    }
  }
}
