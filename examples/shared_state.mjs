// PyMOTW multiprocessing_manager_dict.py, "Managing Shared State": ten workers
// each fill in one entry. The original uses a Manager dict; until Manager
// lands, a SharedArray indexed by key holds the results.
import { Process, SharedArray, isMainProcess } from 'multiproc';

export function worker(d, key, value) {
  d.set(key, value);
}

if (isMainProcess()) {
  const d = new SharedArray('i', 10);
  const jobs = Array.from({ length: 10 }, (_, i) => new Process({ target: worker, args: [d, i, i * 2] }));
  for (const j of jobs) j.start();
  for (const j of jobs) await j.join();
  console.log(`Results: {${d.toArray().map((v, k) => `${k}: ${v}`).join(', ')}}`);
}
