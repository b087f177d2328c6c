/// <reference types="node" preserve="true" />
// multiproc: Python's multiprocessing for Node.js.
//
// The reference above stays in dist/index.d.ts (preserve: tsc drops others
// since 5.5): our declarations use Buffer, NodeJS.Signals and node:util, so
// they pull in @types/node themselves and compile in a consumer whose
// tsconfig lists `types` without "node".
export { Process, activeChildren, type ProcessOptions, type Target } from './process/process';
export {
  currentProcess,
  parentProcess,
  isMainProcess,
  cpuCount,
  processAuthkey,
  setProcessAuthkey,
  type ProcessIdentity,
} from './base/identity';
export { setSpareProcesses, type SpareOptions } from './process/spares';
export { getLogger, logToStderr, Logger, type LogLevel, type LogHandler } from './base/logging';
export { Lock, RLock, type LockOptions } from './sync/lock';
export { Semaphore, BoundedSemaphore, type SemaphoreOptions } from './sync/semaphore';
export { Event, type EventOptions } from './sync/event';
export { Condition } from './sync/condition';
export { Barrier, type BarrierOptions } from './sync/barrier';
export { unlinkNamed } from './shm/shared_state';
export type { SyncOptions, AsyncOptions, SyncWaitOptions, WaitOptions } from './base/validate';
export { Queue, type QueueOptions } from './messaging/queue';
export { JoinableQueue } from './messaging/joinable_queue';
export { SimpleQueue } from './messaging/simple_queue';
export { Pipe, Connection } from './messaging/pipe';
export { Value, RawValue } from './values/value';
export { SharedArray, RawArray } from './values/shared_array';
export type { SharedValueOptions } from './values/shared_data';
export { TYPECODES, type TypedArray, type Typecode, type IntegerTypecode, type ValueOf, type ViewOf } from './values/typecodes';
export { SharedMemory, type SharedMemoryOptions } from './shm/shared_memory';
export { Pool, type TaskFn } from './pool/pool';
export { AsyncResult } from './pool/async_result';
export { SimpleMapReduce, type MapReduceOptions } from './pool/mapreduce';
export type { PoolOptions, TaskOptions, MapOptions, Callbacks, BackendOptions } from './pool/options';
// The bullmq backend registers itself (bullmq is loaded only when a pool uses it).
export type { BullmqBackendOptions } from './scaleout/bullmq_backend';
import './scaleout/bullmq_backend';
export { Manager, type ManagerOptions, type RegisterOptions } from './manager/manager';
export { RemoteManager, type ConnectOptions } from './manager/remote_manager';
export type { Address } from './manager/listener';
export { DictProxy, ListProxy, RegisteredProxy, AsyncNamespaceProxy, type NamespaceProxy } from './manager/proxies';
export {
  QueueProxy,
  JoinableQueueProxy,
  LockProxy,
  RLockProxy,
  SemaphoreProxy,
  EventProxy,
  ConditionProxy,
  BarrierProxy,
  ValueProxy,
  ArrayProxy,
  type WaitArg,
} from './manager/held_proxies';
export {
  Empty,
  Full,
  ShutDown,
  TimeoutError,
  BrokenBarrierError,
  ProcessError,
  WorkerLostError,
  ManagerGoneError,
  AuthenticationError,
  AbortError,
  ERROR_CODES,
  type ErrorCode,
} from './base/errors';
export { getSpinPolicy, setSpinPolicy, type SpinPolicy } from './wait/wait';
export { serialize, deserialize, toHandle, registerHandleKind, type HandleData, type Shareable } from './share/handles';
export { listSharedObjects, type SharedObjectInfo } from './shm/tracker';
