#include "lock.h"

#include "futex.h"

namespace mp {

Owner current_owner() {
  // Node never forks without exec, so a per-thread cache stays right.
  thread_local Owner me{current_thread_id(), thread_stamp(current_thread_id())};
  return me;
}

LockResult lock_acquire(LockState* lock, Owner me, int64_t timeout_ns) {
  WaitCell* cell = &lock->cell;
  int64_t deadline = timeout_ns < 0 ? -1 : monotonic_ns() + timeout_ns;
  bool first_wait = true;
  for (;;) {
    uint32_t owner = cell->value.load();
    if (owner == 0) {
      if (lock_try(lock, me)) return LockResult::kAcquired;
      continue;
    }
    int64_t slice = kLivenessSliceNs;
    if (deadline >= 0) {
      int64_t left = deadline - monotonic_ns();
      if (left <= 0) {
        // Out of time, but a dead holder's lock is free for the taking: even
        // a non-blocking attempt must not find it busy for ever.
        if (first_wait && lock_take_if_owner_dead(lock, owner, me)) return LockResult::kOwnerDied;
        return LockResult::kTimedOut;
      }
      if (left < slice) slice = left;
    }
    // Spin only before the first sleep: later slices follow a long wait.
    WaitResult r = wait_while_equal(cell, owner, slice, first_wait);
    first_wait = false;
    if (r == WaitResult::kTimedOut && lock_take_if_owner_dead(lock, owner, me)) return LockResult::kOwnerDied;
  }
}

bool lock_take_if_owner_dead(LockState* lock, uint32_t owner, Owner me) {
  if (owner == 0) return false;
  uint32_t stamp = lock->stamp.load();
  // The stamp may belong to a holder that took the lock after `owner` was
  // read: only a definite answer about `owner` itself counts, and the CAS
  // below fails if the lock changed hands meanwhile.
  if (lock->cell.value.load() != owner || thread_alive(owner, stamp)) return false;
  if (!lock->cell.value.compare_exchange_strong(owner, me.tid)) return false;
  lock->stamp.store(me.stamp, std::memory_order_relaxed);
  return true;
}

}  // namespace mp
