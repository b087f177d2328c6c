// Targets and partners for the Process and lock benchmarks (run in children).
import { setTimeout as sleep } from 'node:timers/promises';

export function noop() {}

export function signal(sem) {
  sem.release();
}

// Signals readiness through a semaphore, then idles until killed: for RSS.
export async function idle(ready) {
  ready.release();
  await sleep(600_000);
}

// Hand-off partner: answers every release of `ping` with a release of `pong`
// until `stop` is set. Blocks in acquireSync, as a worker would.
export function semEcho(ping, pong, stop) {
  for (;;) {
    ping.acquireSync();
    if (stop.view[0] === 1) return;
    pong.release();
  }
}

// The same through two Events (set, then wait for the answer and clear it).
export function eventEcho(ping, pong, stop) {
  for (;;) {
    ping.waitSync();
    ping.clear();
    if (stop.view[0] === 1) return;
    pong.set();
  }
}

// Queue partners.
export function queueEcho(inbox, outbox) {
  for (;;) {
    const item = inbox.getSync();
    if (item === null) return;
    outbox.putSync(item);
  }
}

// Says it is up (ready), waits for the start (go), then puts n items and
// one null (the poison pill: one per consumer).
export function queueProduce(q, n, item, ready, go) {
  ready.release();
  go.waitSync();
  for (let i = 0; i < n; i++) q.putSync(item);
  q.putSync(null);
}

export function queueConsume(q, done, ready) {
  ready.release();
  for (let item = q.getSync(); item !== null; item = q.getSync());
  done.release();
}

export function pipeEchoBench(conn) {
  for (;;) {
    const msg = conn.recvSync();
    if (msg === null) return;
    conn.sendSync(msg);
  }
}
