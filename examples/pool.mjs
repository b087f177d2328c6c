// PyMOTW multiprocessing_pool.py: a pool maps a function over its inputs,
// each worker announcing itself from the initializer; the result is the
// same as the built-in map.
import { Pool, cpuCount, currentProcess, isMainProcess } from 'multiproc';

export function doCalculation(data) {
  return data * 2;
}

export function startProcess() {
  console.log('Starting', currentProcess().name);
}

// Printed as Python prints a list.
const list = (xs) => `[${xs.join(', ')}]`;

if (isMainProcess()) {
  const inputs = Array.from({ length: 10 }, (_, i) => i);
  console.log('Input   :', list(inputs));

  const builtinOutputs = inputs.map(doCalculation);
  console.log('Built-in:', list(builtinOutputs));

  const poolSize = cpuCount() * 2;
  const pool = new Pool(poolSize, { initializer: startProcess });
  const poolOutputs = await pool.map(doCalculation, inputs);
  pool.close(); // no more tasks
  await pool.join(); // wrap up current tasks

  console.log('Pool    :', list(poolOutputs));
}
