// The Pipe example of Python's multiprocessing documentation: a child sends a
// message through one end of a pipe and the parent receives it at the other.
import { Pipe, Process, isMainProcess } from 'multiproc';

export async function f(conn) {
  await conn.send([42, null, 'hello']);
  conn.close();
}

if (isMainProcess()) {
  const [parentConn, childConn] = Pipe();
  const p = new Process({ target: f, args: [childConn] });
  p.start();
  console.log(await parentConn.recv()); // [ 42, null, 'hello' ]
  await p.join();
}
