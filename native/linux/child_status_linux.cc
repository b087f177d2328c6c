#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdint>
#include <string>

#include "../core/child_status.h"
#include "../core/futex.h"
#include "../core/sys_error.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

namespace mp {

namespace {

ChildStatus peek(pid_t pid) {
  siginfo_t info{};
  if (waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    throw_errno("waitid", "pid " + std::to_string(pid));
  }
  if (info.si_pid == 0) return {false, 0, 0};
  if (info.si_code == CLD_EXITED) return {true, info.si_status, 0};
  return {true, 0, info.si_status};
}

}  // namespace

void make_pipe(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2", "for a child's start payload");
}

ChildStatus wait_child_exit(pid_t pid, int64_t timeout_ns) {
  ChildStatus now = peek(pid);
  if (now.exited || timeout_ns == 0) return now;
  // A pidfd becomes readable when the process exits (Linux >= 5.3).
  int fd = int(syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) throw_errno("pidfd_open", "pid " + std::to_string(pid));
  // A deadline past what int64 holds (hundreds of years) is no deadline.
  int64_t start = monotonic_ns();
  int64_t deadline = timeout_ns < 0 || timeout_ns > INT64_MAX - start ? -1 : start + timeout_ns;
  for (;;) {
    int wait_ms = -1;
    if (deadline >= 0) {
      int64_t left = deadline - monotonic_ns();
      if (left <= 0) break;
      // poll() takes an int: a wait past 2^31-1 ms (24.8 days) is done in
      // pieces. Converting it unclamped wrapped it, to 0 for 2^32 ms: a
      // busy loop instead of a wait.
      int64_t left_ms = (left + 999999) / 1000000;
      wait_ms = left_ms > INT_MAX ? INT_MAX : int(left_ms);
    }
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, wait_ms);
    if (r > 0) break;
    if (r < 0 && errno != EINTR) {
      int err = errno;
      close(fd);
      throw SysError(err, "poll", "pidfd of pid " + std::to_string(pid));
    }
  }
  close(fd);
  return peek(pid);
}

}  // namespace mp
