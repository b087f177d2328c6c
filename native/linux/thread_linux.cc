#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "../core/lock.h"

namespace mp {

bool thread_alive(uint32_t tid) {
  // /proc/<tid>/stat exists for every thread, leader or not. Its state field
  // (after the parenthesised name, which may itself contain ") ") is Z or X
  // once the thread is dead but not yet reaped. Only a definite answer means
  // dead: when we cannot tell (out of file descriptors, memory...), the
  // holder is presumed alive, since taking a live holder's lock would break
  // mutual exclusion while waiting longer is merely slow.
  char path[48];
  std::snprintf(path, sizeof path, "/proc/%u/stat", tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return !(errno == ENOENT || errno == ESRCH);
  char buf[512];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  int err = errno;
  close(fd);
  if (n < 0) return err != ESRCH;  // the thread went away between open and read
  if (n == 0) return true;
  buf[n] = 0;
  const char* close_paren = std::strrchr(buf, ')');
  if (!close_paren || close_paren[1] != ' ') return true;
  char state = close_paren[2];
  return state != 'Z' && state != 'X' && state != 'x';
}

uint32_t current_thread_id() {
  return uint32_t(syscall(SYS_gettid));
}

}  // namespace mp
