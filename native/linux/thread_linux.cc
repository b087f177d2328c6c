#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "../core/lock.h"

namespace mp {

namespace {

enum class Stat { kAlive, kDead, kUnknown };

// Reads /proc/<tid>/stat, which exists for every thread, leader or not: its
// state field (after the parenthesised name, which may itself contain ") ")
// is Z or X once the thread is dead but not yet reaped, and its 22nd field
// is the thread's start time in clock ticks since boot.
Stat read_stat(uint32_t tid, unsigned long long* start_time) {
  char path[48];
  std::snprintf(path, sizeof path, "/proc/%u/stat", tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT || errno == ESRCH ? Stat::kDead : Stat::kUnknown;
  char buf[1024];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  int err = errno;
  close(fd);
  if (n < 0) return err == ESRCH ? Stat::kDead : Stat::kUnknown;  // gone between open and read
  if (n == 0) return Stat::kUnknown;
  buf[n] = 0;
  const char* p = std::strrchr(buf, ')');
  if (!p || p[1] != ' ') return Stat::kUnknown;
  p += 2;
  char state = *p;
  if (state == 'Z' || state == 'X' || state == 'x') return Stat::kDead;
  // Fields after the name: state is field 3, starttime field 22.
  for (int field = 3; field < 22; field++) {
    p = std::strchr(p, ' ');
    if (!p) return Stat::kUnknown;
    p++;
  }
  char* end = nullptr;
  unsigned long long t = std::strtoull(p, &end, 10);
  if (end == p) return Stat::kUnknown;
  *start_time = t;
  return Stat::kAlive;
}

uint32_t stamp_of(unsigned long long start_time) {
  // 32 bits of clock ticks (497 days at 100 Hz) suffice: a reused id would
  // need the same start time modulo 2^32 ticks. 0 means "not written".
  uint32_t s = uint32_t(start_time) + 1;
  return s == 0 ? 1 : s;
}

}  // namespace

uint32_t thread_stamp(uint32_t tid) {
  unsigned long long t = 0;
  return read_stat(tid, &t) == Stat::kAlive ? stamp_of(t) : 0;
}

bool thread_alive(uint32_t tid, uint32_t stamp) {
  unsigned long long t = 0;
  switch (read_stat(tid, &t)) {
    case Stat::kDead:
      return false;
    case Stat::kUnknown:
      return true;
    case Stat::kAlive:
      return stamp == 0 || stamp_of(t) == stamp;
  }
  return true;
}

uint32_t current_thread_id() { return uint32_t(syscall(SYS_gettid)); }

}  // namespace mp
