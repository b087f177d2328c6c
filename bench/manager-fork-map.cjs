// A Map behind child_process.fork IPC: the peer for the manager's proxy round trip.
const map = new Map();
process.on('message', ([id, op, k, v]) => {
  if (op === 'set') {
    map.set(k, v);
    process.send([id]);
  } else process.send([id, map.get(k)]);
});
