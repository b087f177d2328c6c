// multiproc: Python's multiprocessing for Node.js.
export { SharedMemory, type SharedMemoryOptions } from './shared_memory';
export { Empty, Full, TimeoutError, BrokenBarrierError, ProcessError, AbortError } from './errors';
export { getSpinPolicy, setSpinPolicy, type SpinPolicy } from './wait';
export { serialize, deserialize, toHandle, registerHandleKind, type HandleData, type Shareable } from './handles';
export { listSharedObjects, type SharedObjectInfo } from './tracker';
