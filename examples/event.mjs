// PyMOTW multiprocessing_event.py: one process waits for the event, another
// gives up after a timeout.
import { setTimeout as sleep } from 'node:timers/promises';
import { Event, Process, isMainProcess } from 'multiproc';

export async function waitForEvent(e) {
  console.log('wait_for_event: starting');
  await e.wait();
  console.log('wait_for_event: e.isSet()->', e.isSet());
}

export async function waitForEventTimeout(e, t) {
  console.log('wait_for_event_timeout: starting');
  await e.wait(t);
  console.log('wait_for_event_timeout: e.isSet()->', e.isSet());
}

if (isMainProcess()) {
  const e = new Event();
  new Process({ name: 'block', target: waitForEvent, args: [e] }).start();
  new Process({ name: 'nonblock', target: waitForEventTimeout, args: [e, 1000] }).start();
  console.log('main: waiting before calling Event.set()');
  await sleep(2000);
  e.set();
  console.log('main: event is set');
}
