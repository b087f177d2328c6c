// What a parent hands a child besides its start payload: the fds it finds
// them on and the names of the environment variables (process/payload.ts
// has the payload itself; shm/tracker.ts hands on the tracker's pipe).
/**
 * Where a child finds what its parent hands it: the payload on one inherited
 * fd, the resource tracker's pipe on another, and a few environment
 * variables (the bootstrap removes them at once, so they do not leak into
 * processes the user spawns).
 */
export const CHILD = {
  payloadFd: 3,
  trackerFd: 4,
  env: {
    trackerFd: 'MULTIPROC_TRACKER_FD',
    trackerPid: 'MULTIPROC_TRACKER_PID',
    spare: 'MULTIPROC_SPARE',
    parentPid: 'MULTIPROC_PARENT_PID',
    preload: 'MULTIPROC_PRELOAD',
  },
} as const;
