// Names that die with their creator's object. Synchronization primitives
// and Value/SharedArray buffers are unlinked when the object that created
// them is garbage-collected (as CPython's SemLock finalizer does), so a
// long-running program that makes many of them does not fill /dev/shm.
// Processes that already opened one keep it; the resource tracker still
// removes whatever is left when the program ends.
import { addon } from './addon';
import { posixName } from './names';

const registry = new FinalizationRegistry<string>((name) => {
  try {
    addon().Segment.unlink(posixName(name));
  } catch {
    // already unlinked (explicitly, or by another process): nothing to do
  }
});

export function unlinkWhenCollected(owner: object, name: string): void {
  registry.register(owner, name);
}
