// multiproc: Python's multiprocessing for Node.js.
export { Process, type ProcessOptions, type Target } from './process';
export { currentProcess, parentProcess, isMainProcess, cpuCount, type ProcessIdentity } from './state';
export { activeChildren } from './children';
export { getLogger, logToStderr, Logger, type LogLevel, type LogHandler } from './logging';
export { SharedMemory, type SharedMemoryOptions } from './shared_memory';
export { Empty, Full, TimeoutError, BrokenBarrierError, ProcessError, AbortError } from './errors';
export { getSpinPolicy, setSpinPolicy, type SpinPolicy } from './wait';
export { serialize, deserialize, toHandle, registerHandleKind, type HandleData, type Shareable } from './handles';
export { listSharedObjects, type SharedObjectInfo } from './tracker';
