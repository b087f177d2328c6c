// The resource tracker (after CPython's resource_tracker.py): a pair of small
// processes per program that unlink every registered segment and semaphore
// still left when the last process of the program has exited -- normally, by
// an uncaught error or by SIGKILL -- and that outlive the death of either one.
//
// The channel. Every process of the program holds the client end of one
// AF_UNIX SOCK_SEQPACKET socket pair; the trackers hold the other end. A
// record is one message, so records of many processes never interleave and
// a record is never cut (each is well below PIPE_BUF, one send()):
//     "<op> <kind> <length> <name>\n"       e.g. "R m 24 /mp-1a2b-0123456789abcdef\n"
// op 'R' (registered) or 'U' (unregistered), kind 'm' segment or 's'
// semaphore, length the decimal byte count of name, name the POSIX name. A
// message that does not parse exactly (length, trailing newline, kind, name)
// is dropped whole, and the trackers never store -- so never unlink -- a name
// outside the character set below. Why a socket rather than a pipe: message
// boundaries (a malformed write cannot shift the records after it) and
// MSG_PEEK, which makes the hand-over below lossless. When the last client
// end closes (every process of the program has exited), the trackers see
// EOF: the active one unlinks what is still registered and exits.
//
// The pair. The *active* tracker reads the channel. For each message it
// peeks (MSG_PEEK), applies the record to its set, forwards it to the
// *backup* over a private pipe, and only then consumes it. The backup keeps
// the same set from what it is forwarded. So at whatever instant the active
// dies, every record is in the backup's set or still in the channel (one
// that is both is applied twice, which changes nothing: the last record of
// a name decides).
//  - The active dies: the backup reads EOF on the private pipe without the
//    final "D" record, and a pidfd on the active confirms it is dead. It
//    becomes the active, reads the channel from where the dead one stopped,
//    and forks a new backup, replaying its set to it. (EOF while the active
//    lives would mean it dropped this backup for dead: the backup then
//    exits, so there is never a second active.)
//  - The backup dies: the active sees POLLERR on the pipe's write end (or
//    EPIPE) and forks a new one, replaying its set. After three that died
//    in a row before taking a record, it waits for the next record to try
//    again, so a backup that cannot live never makes it fork without end.
//  - At EOF the active unlinks everything, sends "D - 0 \n" to the backup and
//    exits; the backup exits on "D". If the active dies while unlinking, the
//    backup takes over and unlinks again (a name already gone is ignored).
//  - Both die (someone kills both): the client end then fails with EPIPE,
//    and the client that sees it starts a new pair, with the same tag, and
//    re-registers what it registered itself (as the single tracker did).
//
// Names. The program's tag is the pid of its first active tracker; generated
// object names carry it in base 36 ("mp-<tag>-<16 hex>"), and every tracker
// of the program names itself "mp-trk-<tag>" (active) or "mp-trk-<tag>-b"
// (backup) in /proc/<pid>/comm (15 bytes at most: a pid is at most 5 base-36
// digits), so `multiproc ls` can tell whether an object's program still has
// a tracker. The tag outlives the pid it came from: after a takeover no
// tracker has that pid.
//
// Object names (with or without the leading '/') are 1 to 251 bytes of
// [A-Za-z0-9._:@+=~-], not "." or ".." (251: a semaphore's file is "sem." +
// name, and NAME_MAX is 255). ts/shm/names.ts checks the same set first, with
// errors for users; this is the defence in depth.
//
// The processes. The first active is fork()ed from the first process that
// creates an object -- not a new `node` (~40 ms, ~40 MB): a fork costs ~1 ms
// and its private memory is a few hundred KiB. It forks twice so that init,
// not our program, reaps it, calls setsid() and ignores every signal but
// SIGKILL and SIGSTOP, so that Ctrl-C in a terminal does not kill it before
// it cleans up. A backup is the active's child (SIGCHLD is ignored, so a dead
// one is reaped at once); after a takeover, init reaps it. The trackers fork
// their backups with _Fork(), not fork(): the atfork handlers of the program
// (libuv's re-creates its signal pipe by fd number) must not run in them.
// Every tracker of a program shares the first active's session. Child processes
// started by multiproc inherit the client end; their bootstrap calls adopt()
// with it (and removes its number from the environment, so a process the user
// spawns from there never writes to a stale descriptor).
#pragma once
#include <sys/types.h>

#include <string>

namespace mp::tracker {

enum class Kind : char { kSegment = 'm', kSemaphore = 's' };

struct Info {
  pid_t tag;  // the program's tag: the pid of its first tracker (see above)
  int fd;     // this process's client end of the channel
};

// The longest object name, without the leading '/'.
constexpr size_t kMaxNameBytes = 251;

// Whether `name` (with or without its leading '/') is in our character set
// and length: the only names the trackers store or unlink.
bool valid_name(const std::string& name);

// "mp-trk-<tag in base 36>", with "-b" for a backup: what the trackers of the
// program tagged `tag` call themselves in /proc/<pid>/comm.
std::string process_name(pid_t tag, bool backup);

// Starts (or restarts) the tracker pair and returns it. Throws SysError.
Info ensure();

// Adopts the tracker of the process that started this one: `fd` is the
// inherited client end (made close-on-exec here), `tag` the program's tag.
// Returns false, adopting nothing, when fd is not an open SOCK_SEQPACKET
// socket.
bool adopt(int fd, pid_t tag);

// Register before creating and unregister after unlinking, so that no
// instant exists where the object exists but nobody would remove it.
// register_object throws SysError: EINVAL for a name outside the character
// set, ENAMETOOLONG for one too long; unregister_object ignores such names
// (they were never registered).
void register_object(Kind kind, const std::string& name);
void unregister_object(Kind kind, const std::string& name);

// Unlinks an object of ours by name, ignoring ENOENT and doing nothing for a
// name that is not valid_name() (never "../x"). Used by the trackers at EOF.
void remove_object(Kind kind, const std::string& name);

}  // namespace mp::tracker
