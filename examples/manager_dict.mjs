// PyMOTW multiprocessing_manager_dict.py: a Manager holds a dict; ten
// processes each set one key through its proxy; the parent prints it.
import { Manager, Process, isMainProcess } from 'multiproc';

export function worker(d, key, value) {
  d.setSync(key, value);
}

if (isMainProcess()) {
  const mgr = new Manager();
  await mgr.start();
  const d = mgr.dict();
  const jobs = Array.from({ length: 10 }, (_, i) => new Process({ target: worker, args: [d, i, i * 2] }));
  for (const j of jobs) j.start();
  for (const j of jobs) await j.join();
  // Printed as Python prints a dict.
  const entries = (await d.entries()).sort(([a], [b]) => a - b);
  console.log(`Results: {${entries.map(([k, v]) => `${k}: ${v}`).join(', ')}}`);
  await mgr.shutdown();
}
