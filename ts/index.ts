// multiproc: Python's multiprocessing for Node.js.
export { Process, type ProcessOptions, type Target } from './process';
export { currentProcess, parentProcess, isMainProcess, cpuCount, type ProcessIdentity } from './state';
export { activeChildren } from './children';
export { getLogger, logToStderr, Logger, type LogLevel, type LogHandler } from './logging';
export { Lock, RLock, type LockOptions } from './sync/lock';
export { Semaphore, BoundedSemaphore, type SemaphoreOptions } from './sync/semaphore';
export { Event, type EventOptions } from './sync/event';
export { Condition } from './sync/condition';
export { Barrier, type BarrierOptions } from './sync/barrier';
export { unlinkNamed } from './sync/shared_state';
export type { SyncOptions, AsyncOptions } from './sync/options';
export { Value, RawValue, SharedArray, RawArray } from './shared_values';
export { TYPECODES, type TypedArray } from './typecodes';
export { SharedMemory, type SharedMemoryOptions } from './shared_memory';
export { Empty, Full, TimeoutError, BrokenBarrierError, ProcessError, AbortError } from './errors';
export { getSpinPolicy, setSpinPolicy, type SpinPolicy } from './wait';
export { serialize, deserialize, toHandle, registerHandleKind, type HandleData, type Shareable } from './handles';
export { listSharedObjects, type SharedObjectInfo } from './tracker';
