// Ownership locks over a WaitCell: Lock, RLock, and the internal locks of
// queues and Barrier. Only the contended path lives here; the JS side
// takes and releases an uncontended lock with one compare-and-swap.
//
//   offset  0            4            8            12          16
//           +------------+------------+------------+------------+
//           | owner tid  |  sleepers  |   count    | owner stamp|
//           +------------+------------+------------+------------+
//            \__ WaitCell ________/
//
// owner tid    0 when free, else the kernel thread id of the holder (the pid
//              for a process's main thread). A thread id, not a pid, so that
//              two worker_threads of one process are two owners.
// count        RLock recursion depth (1 for a held Lock).
// owner stamp  which incarnation of that thread id holds it: thread_stamp()
//              of the holder, 0 while not (yet) written. The kernel reuses
//              ids (pid_max is 32768 on many machines), so an id alone cannot
//              tell a dead holder from a stranger that got its id later. The
//              start time has the kernel's clock-tick resolution (10 ms): a
//              stranger would have to get the id within the same tick, i.e.
//              after every other pid was used in between.
//
// Protocol: acquire = CAS owner 0 -> tid, then store the stamp; release =
// store stamp 0, then store owner 0, then wake if sleepers. The owner's
// accesses are sequentially consistent; the stamp's need no ordering of
// their own (relaxed here, plain stores in ts/sync/lock.ts), since the
// owner's CAS and store order them. A reader that sees owner T then reads the stamp gets 0
// or T's own stamp, never a previous holder's (the release that cleared it
// comes before T's CAS).
//
// Owner death: a waiter that sees no progress for kLivenessSliceNs checks
// whether the owner still lives (owner_alive: the thread id exists, is not a
// zombie, and its start time matches the stamp). If not, it takes the lock
// over with a CAS and reports kOwnerDied, so the next acquirer gets a dead
// holder's lock within ~20 ms instead of deadlocking.
#pragma once
#include <cstdint>

#include "wait_cell.h"

namespace mp {

struct LockState {
  WaitCell cell;  // value = owner tid
  std::atomic<uint32_t> count;
  std::atomic<uint32_t> stamp;
};
static_assert(sizeof(LockState) == 16, "LockState layout is shared with other processes and with ts/binding/layout.ts");

constexpr int64_t kLivenessSliceNs = 20'000'000;

// Who a thread is, in a way pid reuse cannot fool.
struct Owner {
  uint32_t tid;
  uint32_t stamp;
};

// This thread's id and stamp (cached per thread).
Owner current_owner();

enum class LockResult { kAcquired, kOwnerDied, kTimedOut };

// One try: CAS 0 -> owner (and the stamp). No waiting, no liveness check.
// Inline: a queue's put and get each take and free the ring's lock.
// The stamp's stores need no ordering of their own: the CAS (and, when
// freeing, the store of owner 0 after it) orders them; a reader that sees
// owner T read after T's CAS, so it sees 0 or T's stamp.
inline bool lock_try(LockState* lock, Owner me) {
  uint32_t expected = 0;
  if (!lock->cell.value.compare_exchange_strong(expected, me.tid)) return false;
  lock->stamp.store(me.stamp, std::memory_order_relaxed);
  return true;
}

// When lock_acquire checks whether the holder still lives: after every
// whole kLivenessSliceNs without progress, and (kAtDeadline) once more when
// its time runs out if no check ran since its last wait -- so a timeout
// shorter than a slice still finds a dead holder's lock. kSlicesOnly is for
// callers that wait in steps of microseconds and recover a dead holder's
// lock themselves (the rings' async paths): a /proc read per step would
// cost more than the step.
enum class Liveness { kAtDeadline, kSlicesOnly };

// Blocks until the lock is ours, for at most timeout_ns (< 0: forever; 0:
// one try, plus taking over a dead holder's lock). Does not touch `count`.
LockResult lock_acquire(LockState* lock, Owner me, int64_t timeout_ns, Liveness liveness = Liveness::kAtDeadline);

// Takes the lock if it is still held by thread `owner` and that holder is
// gone (checking the stamp stored in the lock).
bool lock_take_if_owner_dead(LockState* lock, uint32_t owner, Owner me);

// Clears the stamp and the owner, then wakes one sleeper if any announced.
inline void lock_release(LockState* lock) {
  lock->stamp.store(0, std::memory_order_relaxed);
  lock->cell.value.store(0);  // seq_cst: ordered before the sleepers check in wake()
  if (lock->cell.sleepers.load() != 0) wake(&lock->cell, 1);
}

// The stamp of a live thread: a function of its start time (never 0), or 0
// when it cannot be read (no such thread, no /proc).
uint32_t thread_stamp(uint32_t tid);

// Whether thread `tid` exists, is not a zombie and, when `stamp` is not 0,
// is the incarnation that stamp was taken from. When /proc cannot tell
// (out of descriptors...), the thread is presumed alive: taking a live
// holder's lock would break mutual exclusion, waiting longer is only slow.
bool thread_alive(uint32_t tid, uint32_t stamp);

// This thread's kernel id.
uint32_t current_thread_id();

}  // namespace mp
