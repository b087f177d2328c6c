// The segment name behind a shared object, read from its handle without
// leaving the handle's placeholder behind (deserializing it in this process
// gives the placeholder back: see ts/shm/shared_state.ts).
import v8 from 'node:v8';
import { deserialize, serialize } from '../../dist/index.js';

export function nameOf(obj: object): string {
  const bytes = serialize(obj);
  const record = v8.deserialize(bytes.subarray(1)) as { __multiproc_handle__: { name: string } };
  deserialize(bytes);
  return record.__multiproc_handle__.name;
}

/** Collects garbage and lets finalizers run (they run as tasks after a collection). */
export async function collect(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
