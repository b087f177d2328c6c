// Ownership locks over a WaitCell: Lock, RLock, and the internal locks of
// Condition and Barrier. Only the contended path lives here; the JS side
// takes and releases an uncontended lock with one compare-and-swap.
//
//   offset  0            4            8            12          16
//           +------------+------------+------------+------------+
//           | owner tid  |  sleepers  |   count    |  reserved  |
//           +------------+------------+------------+------------+
//            \__ WaitCell ________/
//
// owner tid  0 when free, else the kernel thread id of the holder (the pid
//            for a process's main thread). A thread id, not a pid, so that
//            two worker_threads of one process are two owners.
// count      RLock recursion depth (1 for a held Lock).
//
// Owner death: a waiter that sees no progress for kLivenessSliceNs checks
// whether the owner thread still exists (a zombie counts as dead: its parent
// may be the very process that is waiting, unable to reap it). If not, it
// takes the lock over with a CAS and reports kOwnerDied, so the next acquirer
// gets a dead holder's lock within ~20 ms instead of deadlocking.
#pragma once
#include <cstdint>

#include "wait_cell.h"

namespace mp {

struct LockState {
  WaitCell cell;  // value = owner tid
  std::atomic<uint32_t> count;
  uint32_t reserved;
};
static_assert(sizeof(LockState) == 16, "LockState layout is shared with other processes and with ts/sync/layout.ts");

constexpr int64_t kLivenessSliceNs = 20'000'000;

enum class LockResult { kAcquired, kOwnerDied, kTimedOut };

// Blocks until the lock is ours (owner = tid), for at most timeout_ns (< 0:
// forever). Does not touch `count`.
LockResult lock_acquire(LockState* lock, uint32_t tid, int64_t timeout_ns);

// Takes the lock if it is still held by `owner` and that thread is gone.
bool lock_take_if_owner_dead(LockState* lock, uint32_t owner, uint32_t tid);

// Whether a thread (any thread id, not only a process id) exists and is not
// a zombie.
bool thread_alive(uint32_t tid);

// This thread's kernel id.
uint32_t current_thread_id();

}  // namespace mp
