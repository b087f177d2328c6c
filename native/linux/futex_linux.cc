// Linux futex(2) and futex_waitv(2) behind native/core/futex.h.
#include "../core/futex.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449  // same number on every architecture
#endif
#ifndef FUTEX2_SIZE_U32
#define FUTEX2_SIZE_U32 0x02
#endif

namespace mp {

namespace {

struct WaitvEntry {  // struct futex_waitv, declared here for older headers
  uint64_t val;
  uint64_t uaddr;
  uint32_t flags;
  uint32_t reserved;
};

timespec to_timespec(int64_t ns) {
  timespec ts;
  ts.tv_sec = ns / 1000000000;
  ts.tv_nsec = ns % 1000000000;
  return ts;
}

}  // namespace

int64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

FutexResult futex_wait(const uint32_t* word, uint32_t expected, int64_t deadline_ns) {
  timespec ts;
  timespec* tsp = nullptr;
  if (deadline_ns >= 0) {
    ts = to_timespec(deadline_ns);
    tsp = &ts;
  }
  // FUTEX_WAIT_BITSET takes an absolute deadline, so a retry after EINTR
  // does not stretch the total wait.
  long r = syscall(SYS_futex, word, FUTEX_WAIT_BITSET, expected, tsp, nullptr, FUTEX_BITSET_MATCH_ANY);
  if (r == 0) return FutexResult::kWoken;
  switch (errno) {
    case EAGAIN:
      return FutexResult::kValueChanged;
    case ETIMEDOUT:
      return FutexResult::kTimedOut;
    default:
      return FutexResult::kInterrupted;
  }
}

int futex_wake(const uint32_t* word, int count) {
  long r = syscall(SYS_futex, word, FUTEX_WAKE, count, nullptr, nullptr, 0);
  return r < 0 ? 0 : int(r);
}

int futex_wait_many(const FutexWaitEntry* entries, size_t n, int64_t deadline_ns) {
  if (n > kMaxFutexWaitEntries) return -EINVAL;
  WaitvEntry v[kMaxFutexWaitEntries];
  for (size_t i = 0; i < n; i++) {
    v[i].val = entries[i].expected;
    v[i].uaddr = reinterpret_cast<uintptr_t>(entries[i].word);
    // Shared (not FUTEX2_PRIVATE): the words live in MAP_SHARED memory.
    v[i].flags = FUTEX2_SIZE_U32;
    v[i].reserved = 0;
  }
  timespec ts;
  timespec* tsp = nullptr;
  if (deadline_ns >= 0) {
    ts = to_timespec(deadline_ns);
    tsp = &ts;
  }
  long r = syscall(SYS_futex_waitv, v, n, 0, tsp, CLOCK_MONOTONIC);
  return r >= 0 ? int(r) : -errno;
}

}  // namespace mp
