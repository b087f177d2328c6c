// Waiting for a child process to exit without reaping it: libuv owns the
// reaping (its SIGCHLD handler calls waitpid and emits 'exit'), so we only
// peek (waitid with WNOWAIT) and leave the zombie for libuv. This gives
// joinSync() and an exact isAlive() without fighting the event loop.
#pragma once
#include <sys/types.h>

#include <cstdint>

namespace mp {

struct ChildStatus {
  bool exited;  // false: still running (or timed out)
  int code;     // exit code, when exited normally
  int signal;   // terminating signal, when killed (0 otherwise)
};

// Blocks up to timeout_ns (< 0: forever; 0: just peek) until `pid`, a child
// of this process, has exited. Throws SysError (ECHILD: not our child, or
// already reaped).
ChildStatus wait_child_exit(pid_t pid, int64_t timeout_ns);

// A blocking pipe, both ends close-on-exec, for handing a child its start
// payload: written synchronously, so a parent that blocks right after
// start() cannot starve the child of it. Throws SysError.
void make_pipe(int fds[2]);

}  // namespace mp
