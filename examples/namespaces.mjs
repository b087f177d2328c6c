// PyMOTW multiprocessing_namespaces.py: a producer sets an attribute of a
// manager's Namespace and an Event; the consumer reads it before and after.
// (Python raises AttributeError for the attribute not yet set; a JS
// namespace reads as undefined, like any object.)
import { Event, Manager, Process, isMainProcess } from 'multiproc';

export function producer(ns, event) {
  ns.value = 'This is the value';
  event.set();
}

export async function consumer(ns, event, read) {
  console.log('Before event:', ns.value);
  read.set();
  await event.wait();
  console.log('After event:', ns.value);
}

if (isMainProcess()) {
  const mgr = new Manager();
  await mgr.start();
  const namespace = mgr.Namespace();
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
