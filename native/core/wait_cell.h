// WaitCell: the one cross-process wait/wake primitive every multiproc type is
// built on (Lock, Event, Queue, ... are states kept in `value`).
//
//   offset  0            4            8
//           +------------+------------+
//           |   value    |  sleepers  |     8 bytes, 4-byte aligned,
//           +------------+------------+     in a MAP_SHARED segment
//
// value     the state being waited on; waiters sleep while value == expected.
// sleepers  how many threads (in any process) announced they may sleep on
//           this cell. A waker skips the FUTEX_WAKE syscall (~440 ns) when
//           it is zero, which makes an uncontended release nearly free.
//
// Waiting is spin, announce, re-check, sleep (crossbeam's waker.rs): the
// re-check after announcing is what closes the lost-wake-up window, because
// both sides use sequentially consistent operations (Dekker): either the
// waiter sees the new value, or the waker sees sleepers > 0.
#pragma once
#include <atomic>
#include <cstdint>

namespace mp {

struct WaitCell {
  std::atomic<uint32_t> value;
  std::atomic<uint32_t> sleepers;
};
static_assert(sizeof(WaitCell) == 8, "WaitCell layout is shared with other processes");
static_assert(std::atomic<uint32_t>::is_always_lock_free, "cross-process atomics must be lock-free");

enum class WaitResult { kOk, kNotEqual, kTimedOut };

// Blocks the calling thread while cell->value == expected: spins for the
// adaptive budget (unless spin is false), then sleeps in the kernel.
// timeout_ns < 0 waits forever. kNotEqual: the value already differed on
// entry. kOk: woken or changed (possibly spuriously: callers loop on their
// own condition).
WaitResult wait_while_equal(WaitCell* cell, uint32_t expected, int64_t timeout_ns, bool spin = true);

// Wakes up to `count` sleepers, only if any announced themselves.
// Returns the number woken.
int wake(WaitCell* cell, int count);

// value = v, then wake(count). One call for the common "publish and wake".
int store_and_wake(WaitCell* cell, uint32_t v, int count);

// ---- Spin policy -----------------------------------------------------------
// A sleeping waiter costs ~30 us per hand-off on a VM (the waker pays the
// syscall, the sleeper pays the vCPU wake-up); a spinning one ~100 ns. So the
// sync wait spins first, for a budget that adapts to how long spins take to
// succeed, and not at all while the machine has more runnable threads than
// cores (spinning would steal the CPU the other side needs).
struct SpinPolicy {
  int64_t max_spin_ns;  // upper bound of the budget; 0 disables spinning
  bool adaptive;        // shrink after failed spins, grow after successful ones
};
SpinPolicy get_spin_policy();
void set_spin_policy(SpinPolicy p);
// Current budget in ns, after adaptation and the oversubscription check.
int64_t current_spin_budget_ns();

}  // namespace mp
