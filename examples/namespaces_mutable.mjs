// PyMOTW multiprocessing_namespaces_mutable.py: changing a mutable value
// read from a Namespace does not reach the manager (the value is a copy).
// Python loses the update silently; here the copy is frozen (outside
// production), so the mistake throws where it is made. The fix: assign a
// new value (ns.my_list = [...ns.my_list, x]) or keep a nested proxy.
import { Event, Manager, Process, isMainProcess } from 'multiproc';

export function producer(ns, event) {
  try {
    // DOES NOT UPDATE THE MANAGER'S VALUE: a copy, frozen.
    ns.my_list.push('This is the value');
  } catch (e) {
    console.log('Producer:', e.constructor.name, '-', e.message);
  }
  event.set();
}

export async function consumer(ns, event, read) {
  console.log('Before event:', ns.my_list);
  read.set();
  await event.wait();
  console.log('After event :', ns.my_list);
}

if (isMainProcess()) {
  const mgr = new Manager();
  await mgr.start();
  const namespace = mgr.Namespace();
  namespace.my_list = [];
  const event = new Event();
  const read = new Event(); // the consumer has read once: then the producer starts (the original's order, every time)
  const p = new Process({ target: producer, args: [namespace, event] });
  const c = new Process({ target: consumer, args: [namespace, event, read] });
  c.start();
  await read.wait();
  p.start();
  await c.join();
  await p.join();
  await mgr.shutdown();
}
