// The tracker processes (tracker.h, "The pair" and "The processes"): the
// active, which reads the channel and keeps a backup; the backup, which
// keeps the active's set and takes over when it dies; and the first
// active's start, tracker_main.
#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "tracker.h"
#include "tracker_internal.h"

namespace mp::tracker {

using namespace internal;

namespace {

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

}  // namespace

namespace internal {

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

}  // namespace internal

}  // namespace mp::tracker
