#include "tracker.h"

#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <utility>

#include "sys_error.h"

namespace mp::tracker {

namespace {

// What a tracker knows: the registered (kind, POSIX name) pairs.
using Key = std::pair<char, std::string>;
using State = std::set<Key>;

std::mutex g_mutex;
Info g_info{0, -1};
// What this process registered, to re-register if both trackers die and a
// new pair has to be started.
State g_registered;

// ---- Records --------------------------------------------------------------

// "R m 5 /mp-x\n": op, kind, decimal length, name, newline.
constexpr size_t kMaxRecord = 1 + 1 + 1 + 1 + 3 + 1 + 1 + kMaxNameBytes + 1;
static_assert(kMaxRecord < PIPE_BUF, "a record must be one atomic write");

struct Record {
  char op = 0;
  char kind = 0;
  std::string name;
};

std::string encode(char op, char kind, const std::string& name) {
  std::string r;
  r.reserve(name.size() + 10);
  r += op;
  r += ' ';
  r += kind;
  r += ' ';
  r += std::to_string(name.size());
  r += ' ';
  r += name;
  r += '\n';
  return r;
}

enum class Parsed { kOk, kIncomplete, kBad };

// Parses the record at the start of [p, p + n). On kOk, `used` is its size.
// Accepts only what encode() makes: R/U with a valid kind and name, or the
// trackers' own "D - 0 \n" when `allow_done`.
Parsed parse(const char* p, size_t n, bool allow_done, Record& rec, size_t& used) {
  size_t i = 0;
  auto need = [&](size_t k) { return i + k <= n; };
  if (!need(4)) return Parsed::kIncomplete;
  rec.op = p[0];
  rec.kind = p[2];
  if (p[1] != ' ' || p[3] != ' ') return Parsed::kBad;
  i = 4;
  size_t len = 0, digits = 0;
  for (;; i++) {
    if (!need(1)) return Parsed::kIncomplete;
    char c = p[i];
    if (c == ' ') break;
    if (c < '0' || c > '9' || digits == 3 || (digits == 1 && len == 0)) return Parsed::kBad;
    len = len * 10 + size_t(c - '0');
    digits++;
  }
  if (digits == 0 || len > kMaxNameBytes + 1) return Parsed::kBad;
  i++;  // the space
  if (!need(len + 1)) return Parsed::kIncomplete;
  if (p[i + len] != '\n') return Parsed::kBad;
  rec.name.assign(p + i, len);
  used = i + len + 1;
  if (rec.op == 'D') return allow_done && rec.kind == '-' && len == 0 ? Parsed::kOk : Parsed::kBad;
  if (rec.op != 'R' && rec.op != 'U') return Parsed::kBad;
  if (rec.kind != char(Kind::kSegment) && rec.kind != char(Kind::kSemaphore)) return Parsed::kBad;
  return valid_name(rec.name) ? Parsed::kOk : Parsed::kBad;
}

void apply_record(State& live, const Record& rec) {
  Key key{rec.kind, rec.name};
  if (rec.op == 'R')
    live.insert(std::move(key));
  else if (rec.op == 'U')
    live.erase(key);
}

// ---- The tracker processes -------------------------------------------------
// Forks of a multi-threaded process: plain syscalls and the C library only
// (glibc keeps malloc usable in a fork child). Both are single-threaded.

constexpr int kChannelFd = 3;  // the trackers' end of the channel
constexpr int kReportFd = 4;   // the first active's report pipe, until it reports

void close_fds_from(int first) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, first, ~0U, 0) == 0) return;
#endif
  long max = sysconf(_SC_OPEN_MAX);
  for (int fd = first; fd < (max > 0 ? max : 65536); fd++) close(fd);
}

void set_process_name(pid_t tag, bool backup) { prctl(PR_SET_NAME, process_name(tag, backup).c_str(), 0, 0, 0); }

bool write_all(int fd, const char* p, size_t left) {
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;  // EPIPE: the reader is gone (we ignore SIGPIPE)
    p += n;
    left -= size_t(n);
  }
  return true;
}

// fork() without the atfork handlers of the program the trackers were forked
// from: those still believe they run in it. libuv's, for one, closes and
// re-creates its signal pipe by fd number, and in a tracker those numbers
// are ours: it once cut every new backup off its pipe, so each backup took
// over as a second active and forked again (a fork bomb; see the test
// "atfork_handlers_of_the_program_do_not_split_the_pair"). The trackers are
// single-threaded, so skipping the handlers (and glibc's lock resets) is safe.
pid_t fork_tracker() {
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 34)
  return _Fork();
#else
  return pid_t(syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0));
#endif
}

// A pidfd on the active, opened by a new backup: -1 when it cannot be had
// (already gone, or a kernel before 5.3).
int watch_process(pid_t pid) {
#ifdef SYS_pidfd_open
  return int(syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  return -1;
#endif
}

// Whether the active that `watch` (watch_process) follows is dead, waiting
// for it a while: its end of the pipe closes as it exits, a moment before it
// counts as exited. A live active that dropped us is not dead: the backup
// must then not become a second active.
bool active_died(int watch) {
  if (watch < 0) return true;  // cannot tell: take over, as a lone backup must
  pollfd p{watch, POLLIN, 0};
  int r;
  do r = poll(&p, 1, 10000);
  while (r < 0 && errno == EINTR);
  return r != 0;
}

// The backup: keeps the active's set from what it forwards, until EOF.
// Returns true when it should exit (the active finished, its "D", or is
// alive and dropped us), false when the active died and it takes over.
bool backup_loop(pid_t tag, int from_active, int watch, State& live) {
  set_process_name(tag, true);
  std::string pending;
  bool done = false;
  char buf[4096];
  for (;;) {
    ssize_t n = read(from_active, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the active exited or died
    pending.append(buf, size_t(n));
    size_t at = 0, used = 0;
    Record rec;
    for (Parsed p; (p = parse(pending.data() + at, pending.size() - at, true, rec, used)) != Parsed::kIncomplete;) {
      if (p == Parsed::kOk) {
        if (rec.op == 'D')
          done = true;
        else
          apply_record(live, rec);
        at += used;
      } else {
        // Cannot happen (the active forwards only what parsed): skip a line.
        size_t nl = pending.find('\n', at);
        at = nl == std::string::npos ? pending.size() : nl + 1;
      }
    }
    pending.erase(0, at);
  }
  close(from_active);
  bool exit_now = done || !active_died(watch);
  if (watch >= 0) close(watch);
  return exit_now;
}

// What a new backup starts from: the read end of its pipe and its active.
struct BackupStart {
  int from_active = -1;
  int watch = -1;
};

// Forks a backup. In the active, returns the write end of the pipe to it
// (after replaying `live` into it), or -1 (the caller tries again later). In
// the new backup, returns -1 and fills `*in_child`.
int spawn_backup(const State& live, BackupStart* in_child) {
  int p[2];
  if (pipe(p) != 0) return -1;
  pid_t active = getpid();
  pid_t pid = fork_tracker();
  if (pid < 0) {
    close(p[0]);
    close(p[1]);
    return -1;
  }
  if (pid == 0) {
    close(p[1]);
    in_child->from_active = p[0];
    in_child->watch = watch_process(active);
    return -1;
  }
  close(p[0]);
  std::string replay;
  for (const auto& [kind, name] : live) replay += encode('R', kind, name);
  if (!write_all(p[1], replay.data(), replay.size())) {
    close(p[1]);
    return -1;
  }
  return p[1];
}

// Whether the channel has nothing more to give: every client end is closed
// (the program is over) and no byte is left in it. A recv() of 0 alone does
// not say so: an empty message reads as 0 too, and records may follow it.
// (SIOCINQ counts every queued message of a SOCK_SEQPACKET socket.)
bool channel_ended() {
  pollfd pfd{kChannelFd, POLLRDHUP, 0};
  while (poll(&pfd, 1, 0) < 0 && errno == EINTR) {
  }
  if ((pfd.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)) == 0) return false;
  int queued = 0;
  return ioctl(kChannelFd, SIOCINQ, &queued) != 0 || queued == 0;
}

// Backups that died in a row, without one record forwarded, before the
// active stops replacing them at once and waits for the next record: a
// backup that cannot live must not make the active fork without end.
constexpr int kMaxQuickBackupDeaths = 3;

// The active: reads the channel, forwards every record to the backup, keeps
// a backup alive, and at EOF removes what is still registered and exits.
// Returns only in a backup it forked, with what that backup starts from.
BackupStart active_loop(pid_t tag, State& live) {
  set_process_name(tag, false);
  int backup = -1;
  bool want_backup = true;
  int deaths = 0;
  auto lost_backup = [&] {
    close(backup);
    backup = -1;
    want_backup = ++deaths <= kMaxQuickBackupDeaths;
  };
  char buf[kMaxRecord + 1];
  bool eof = false;
  while (!eof) {
    if (backup < 0 && want_backup) {
      BackupStart in_child;
      backup = spawn_backup(live, &in_child);
      if (in_child.from_active >= 0) return in_child;
      if (backup < 0) want_backup = ++deaths <= kMaxQuickBackupDeaths;
    }
    pollfd fds[2] = {{kChannelFd, POLLIN | POLLRDHUP, 0}, {backup, 0, 0}};
    if (poll(fds, backup >= 0 ? 2 : 1, -1) < 0) continue;  // EINTR
    if (backup >= 0 && (fds[1].revents & (POLLERR | POLLHUP | POLLNVAL))) lost_backup();
    if (fds[0].revents == 0) continue;
    for (;;) {
      // Peek, apply, forward, and only then consume: see tracker.h.
      ssize_t n = recv(kChannelFd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
      if (n < 0) {
        if (errno == EINTR || errno == ECONNRESET) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        eof = true;  // not a socket any more: nothing more will come
        break;
      }
      if (n == 0 && channel_ended()) {
        eof = true;
        break;
      }
      Record rec;
      size_t used = 0;
      // A message longer than a record was truncated (MSG_TRUNC gives its
      // real length): dropped, like any other that does not parse exactly.
      if (size_t(n) < sizeof buf && parse(buf, size_t(n), false, rec, used) == Parsed::kOk && used == size_t(n)) {
        apply_record(live, rec);
        if (backup < 0) {
          want_backup = true;  // a new record: worth another try
        } else if (write_all(backup, buf, size_t(n))) {
          deaths = 0;
        } else {
          lost_backup();
        }
      }
      while (recv(kChannelFd, buf, 1, MSG_DONTWAIT) < 0 && errno == EINTR) {
      }
    }
  }
  for (const auto& [kind, name] : live) remove_object(Kind(kind), name);
  if (backup >= 0) {
    std::string done = encode('D', '-', "");
    write_all(backup, done.data(), done.size());
  }
  _exit(0);
}

// A tracker for good: active, or backup (start.from_active >= 0). A backup
// whose active died becomes the active; an active that forks a backup
// continues here as that backup. A loop, so takeovers do not deepen the stack.
[[noreturn]] void run(pid_t tag, BackupStart start) {
  State live;
  for (;;) {
    if (start.from_active >= 0 && backup_loop(tag, start.from_active, start.watch, live)) _exit(0);
    start = active_loop(tag, live);
    live.clear();  // a new backup: its set comes through the pipe
  }
}

// The first active: detaches, reports its pid once it is ready, and runs.
[[noreturn]] void tracker_main(int channel, int report, pid_t tag) {
  setsid();
  pid_t self = getpid();
  if (tag <= 0) tag = self;
  set_process_name(tag, false);
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    signal(sig, SIG_IGN);  // SIGPIPE: EPIPE instead; SIGCHLD: dead backups are reaped at once
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  // Move our fds to 3 and 4 before touching 0-2: in a process started with
  // stdin closed, the channel itself may be fd 0.
  int c = fcntl(channel, F_DUPFD, 10), r = fcntl(report, F_DUPFD, 10);
  dup2(c, kChannelFd);
  dup2(r, kReportFd);
  int devnull = open("/dev/null", O_RDWR);
  for (int fd = 0; fd < 3; fd++) dup2(devnull, fd);
  close_fds_from(kReportFd + 1);  // above all, every inherited client end
  // Report only once named and detached, so whoever sees our pid sees a
  // tracker that is ready.
  ssize_t w = write(kReportFd, &self, sizeof self);
  (void)w;
  close(kReportFd);
  run(tag, BackupStart{});
}

// ---- The client side -----------------------------------------------------

Info start_tracker(pid_t tag) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    throw_errno("socketpair", "for the resource tracker");
  }
  int report[2];  // the tracker tells us its pid once it is ready
  if (pipe2(report, O_CLOEXEC) != 0) {
    int err = errno;
    close(sv[0]);
    close(sv[1]);
    throw SysError(err, "pipe2", "for the resource tracker");
  }
  pid_t mid = fork();
  if (mid < 0) {
    int err = errno;
    for (int fd : {sv[0], sv[1], report[0], report[1]}) close(fd);
    throw SysError(err, "fork", "of the resource tracker");
  }
  if (mid == 0) {
    // Fork twice, so that init rather than our program reaps the tracker.
    if (fork() == 0) tracker_main(sv[0], report[1], tag);
    _exit(0);
  }
  close(sv[0]);
  close(report[1]);
  pid_t tracker = 0;
  ssize_t got;
  do got = read(report[0], &tracker, sizeof tracker);
  while (got < 0 && errno == EINTR);
  close(report[0]);
  while (waitpid(mid, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (got != sizeof tracker || tracker <= 0) {
    close(sv[1]);
    throw SysError(EAGAIN, "fork", "of the resource tracker");
  }
  return Info{tag > 0 ? tag : tracker, sv[1]};
}

// One record, one message. False when no tracker holds the other end.
bool send_record(int fd, const std::string& record) {
  for (;;) {
    ssize_t n = send(fd, record.data(), record.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    return n == ssize_t(record.size());
  }
}

Info ensure_locked() {
  if (g_info.fd < 0) g_info = start_tracker(g_info.tag);
  return g_info;
}

void send_locked(const std::string& record) {
  ensure_locked();
  if (send_record(g_info.fd, record)) return;
  // Both trackers are gone (someone killed them): start a new pair under the
  // same tag and tell it everything we still own.
  close(g_info.fd);
  g_info.fd = -1;
  g_info = start_tracker(g_info.tag);
  for (const auto& [kind, name] : g_registered) send_record(g_info.fd, encode('R', kind, name));
  if (!send_record(g_info.fd, record)) throw_errno("send", "to the resource tracker");
}

bool name_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != '\0' && std::strchr("._:@+=~-", c) != nullptr);
}

std::string printable(const std::string& name) {
  std::string out;
  for (unsigned char c : name) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += char(c);
    } else {
      static const char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

bool valid_name(const std::string& name) {
  size_t start = !name.empty() && name[0] == '/' ? 1 : 0;
  size_t n = name.size() - start;
  if (n == 0 || n > kMaxNameBytes) return false;
  if (name.compare(start, n, ".") == 0 || name.compare(start, n, "..") == 0) return false;
  for (size_t i = start; i < name.size(); i++) {
    if (!name_byte(static_cast<unsigned char>(name[i]))) return false;
  }
  return true;
}

std::string process_name(pid_t tag, bool backup) {
  std::string digits;
  for (unsigned long v = static_cast<unsigned long>(tag); v > 0 || digits.empty(); v /= 36) {
    digits.insert(digits.begin(), "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36]);
  }
  return "mp-trk-" + digits + (backup ? "-b" : "");
}

Info ensure() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return ensure_locked();
}

bool adopt(int fd, pid_t tag) {
  struct stat st;
  int type = 0;
  socklen_t len = sizeof type;
  if (fd < 3 || tag <= 0 || fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode) ||
      getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_SEQPACKET) {
    return false;
  }
  // Keep it from leaking into processes the user spawns; multiproc passes it
  // on explicitly to its own children.
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_info.fd >= 0) return false;
  g_info = Info{tag, fd};
  return true;
}

void register_object(Kind kind, const std::string& name) {
  size_t bare = name.size() - (!name.empty() && name[0] == '/' ? 1 : 0);
  if (bare > kMaxNameBytes) {
    throw SysError(ENAMETOOLONG, "register",
                   "of a name of " + std::to_string(bare) + " bytes (at most " + std::to_string(kMaxNameBytes) + ")");
  }
  if (!valid_name(name)) {
    throw SysError(EINVAL, "register",
                   "'" + printable(name) + "' (names are 1 to 251 of A-Z a-z 0-9 . _ : @ + = ~ -, not . or ..)");
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  send_locked(encode('R', char(kind), name));
  g_registered.emplace(char(kind), name);
}

void unregister_object(Kind kind, const std::string& name) {
  if (!valid_name(name)) return;  // never registered
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_registered.erase({char(kind), name}) == 0 && g_info.fd < 0) return;
  send_locked(encode('U', char(kind), name));
}

void remove_object(Kind kind, const std::string& name) {
  if (!valid_name(name)) return;  // no '/', no "..": only files directly in /dev/shm
  std::string base = name[0] == '/' ? name.substr(1) : name;
  std::string path = kind == Kind::kSemaphore ? "/dev/shm/sem." + base : "/dev/shm/" + base;
  unlink(path.c_str());
}

}  // namespace mp::tracker
