// Where each kind of shared object is defined, for share/handles.ts: a
// child whose target module never imported multiproc still reopens the
// handles in its arguments, loading each kind's module on first need (the
// bootstrap installs this; a main process imported them all through index.ts).
/* eslint-disable @typescript-eslint/no-require-imports */
import { addKindModules } from './share/handles';

const sharedMemory = (): void => void require('./shm/shared_memory');
const lock = (): void => void require('./sync/lock');
const semaphore = (): void => void require('./sync/semaphore');
const queue = (): void => void require('./messaging/queue');

export function installKindModules(): void {
  addKindModules({
    SharedMemory: sharedMemory,
    Lock: lock,
    RLock: lock,
    Semaphore: semaphore,
    BoundedSemaphore: semaphore,
    Event: () => void require('./sync/event'),
    Condition: () => void require('./sync/condition'),
    Barrier: () => void require('./sync/barrier'),
    Value: () => void require('./values/value'),
    SharedArray: () => void require('./values/shared_array'),
    Queue: queue,
    JoinableQueue: () => void require('./messaging/joinable_queue'),
    SimpleQueue: () => void require('./messaging/simple_queue'),
    Connection: () => void require('./messaging/pipe'),
    ManagerProxy: () => void require('./manager/make_proxy'),
  });
}
