// After the whole run, nothing of ours may be left in /dev/shm: every test
// cleans up what it creates, and the trackers of the test processes (which
// have all exited by now) remove the rest within moments.
import { describeObjects, ourObjects, waitUntil } from './shm';

export default function setup(): () => Promise<void> {
  const before = new Set(ourObjects());
  return async () => {
    const leftovers = (): string[] => ourObjects().filter((e) => !before.has(e));
    try {
      await waitUntil(() => leftovers().length === 0, '/dev/shm holds nothing new of ours', 10_000);
    } catch {
      // vitest prints an error thrown here ("error during close") but exits 0: the run must fail.
      process.exitCode = 1;
      throw new Error(`the test run left objects in /dev/shm:\n  ${describeObjects(leftovers())}`);
    }
  };
}
