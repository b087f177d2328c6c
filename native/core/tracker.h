// The resource tracker (after CPython's resource_tracker.py): one small
// process per program that unlinks every registered segment and semaphore
// still left when the last process of the program has exited -- normally, by
// an uncaught error or by SIGKILL.
//
// How it knows: every process of the program holds the write end of one
// pipe; the tracker holds the read end. Registrations are ASCII lines
//     "R <kind> <name>\n"   "U <kind> <name>\n"      (kind: 'm' shm, 's' sem)
// each shorter than PIPE_BUF, so writes from many processes never interleave.
// When the kernel closes the last write end (every holder has exited), the
// tracker reads EOF, unlinks what is still registered, and exits.
//
// The tracker is fork()ed from the first process that creates an object --
// not a new `node` (~40 ms, ~40 MB): a fork costs ~1 ms and its private
// memory is a few hundred KiB. It forks twice so that init, not our program,
// reaps it, calls setsid() and ignores signals so that Ctrl-C in a terminal
// does not kill it before it cleans up, and names itself "mp-tracker".
// Child processes started by multiproc inherit the write end; their bootstrap
// calls adopt() with it (and removes its number from the environment, so a
// process the user spawns from there never writes to a stale descriptor).
#pragma once
#include <sys/types.h>

#include <string>

namespace mp::tracker {

enum class Kind : char { kSegment = 'm', kSemaphore = 's' };

struct Info {
  pid_t pid;  // the tracker process
  int fd;     // this process's write end
};

// Starts (or restarts) the tracker and returns it. Throws SysError.
Info ensure();

// Adopts the tracker of the process that started this one: `fd` is the
// inherited write end (made close-on-exec here), `pid` the tracker. Returns
// false, adopting nothing, when fd is not an open pipe.
bool adopt(int fd, pid_t pid);

// Register before creating and unregister after unlinking, so that no
// instant exists where the object exists but nobody would remove it.
void register_object(Kind kind, const std::string& name);
void unregister_object(Kind kind, const std::string& name);

// Unlinks an object of ours by name, ignoring ENOENT. Used by the tracker at
// EOF and by `multiproc clean`.
void remove_object(Kind kind, const std::string& name);

}  // namespace mp::tracker
