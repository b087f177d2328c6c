#include "lock.h"

#include "futex.h"

namespace mp {

Owner current_owner() {
  // Node never forks without exec, so a per-thread cache stays right.
  thread_local Owner me{current_thread_id(), thread_stamp(current_thread_id())};
  return me;
}

LockResult lock_acquire(LockState* lock, Owner me, int64_t timeout_ns, Liveness liveness) {
  WaitCell* cell = &lock->cell;
  int64_t deadline = timeout_ns < 0 ? -1 : monotonic_ns() + timeout_ns;
  bool first_wait = true;
  bool checked = false;  // whether a liveness check ran since the last wait
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
        if (!checked && liveness == Liveness::kAtDeadline && lock_take_if_owner_dead(lock, owner, me)) {
          return LockResult::kOwnerDied;
        }
        return LockResult::kTimedOut;
      }
      if (left < slice) slice = left;
    }
    // Spin only before the first sleep: later slices follow a long wait.
    WaitResult r = wait_while_equal(cell, owner, slice, first_wait);
    first_wait = false;
    checked = false;
    // Reading /proc costs tens of microseconds: only after a whole slice
    // without progress, not after each short wait of a caller that waits
    // in small steps.
    if (r == WaitResult::kTimedOut && slice == kLivenessSliceNs) {
      checked = true;
      if (lock_take_if_owner_dead(lock, owner, me)) return LockResult::kOwnerDied;
    }
  }
}

bool lock_take_if_owner_dead(LockState* lock, uint32_t owner, Owner me) {
  if (owner == 0) return false;
  uint32_t stamp = lock->stamp.load();
  // The stamp may belong to a holder that took the lock after `owner` was
  // read: only a definite answer about `owner` itself counts.
  if (lock->cell.value.load() != owner || thread_alive(owner, stamp)) return false;
  // The judged holder is gone, but while /proc was read someone may have
  // taken the dead lock over, freed it, and a new thread with the same id
  // (the kernel reuses them) may hold it now: the owner CAS alone would
  // succeed against that live stranger. Every change of hands rewrites the
  // stamp (0 on release, the new holder's after its CAS), so an unchanged
  // stamp means the acquisition we judged is still the current one.
  if (lock->stamp.load() != stamp) return false;
  if (!lock->cell.value.compare_exchange_strong(owner, me.tid)) return false;
  lock->stamp.store(me.stamp, std::memory_order_relaxed);
  return true;
}

}  // namespace mp
