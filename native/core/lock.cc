#include "lock.h"

#include "futex.h"

namespace mp {

LockResult lock_acquire(LockState* lock, uint32_t tid, int64_t timeout_ns) {
  WaitCell* cell = &lock->cell;
  int64_t deadline = timeout_ns < 0 ? -1 : monotonic_ns() + timeout_ns;
  bool first_wait = true;
  for (;;) {
    uint32_t owner = cell->value.load();
    if (owner == 0) {
      if (cell->value.compare_exchange_strong(owner, tid)) return LockResult::kAcquired;
      continue;
    }
    int64_t slice = kLivenessSliceNs;
    if (deadline >= 0) {
      int64_t left = deadline - monotonic_ns();
      if (left <= 0) return LockResult::kTimedOut;
      if (left < slice) slice = left;
    }
    // Spin only before the first sleep: later slices follow a long wait.
    WaitResult r = wait_while_equal(cell, owner, slice, first_wait);
    first_wait = false;
    if (r == WaitResult::kTimedOut && lock_take_if_owner_dead(lock, owner, tid)) return LockResult::kOwnerDied;
  }
}

bool lock_take_if_owner_dead(LockState* lock, uint32_t owner, uint32_t tid) {
  if (owner == 0 || thread_alive(owner)) return false;
  return lock->cell.value.compare_exchange_strong(owner, tid);
}

}  // namespace mp
