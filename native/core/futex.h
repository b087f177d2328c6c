// The OS wait/wake primitive, kept behind this small interface so another OS
// (macOS: os_sync_wait_on_address) is one more file in native/<os>/.
// All waits here are on process-shared 32-bit words (no PRIVATE flag), because
// the words live in shared memory mapped by several processes.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mp {

// Outcome of one kernel wait. kWoken may be spurious: callers re-check.
enum class FutexResult { kWoken, kValueChanged, kTimedOut, kInterrupted };

// Sleeps while *word == expected. deadline_ns: absolute CLOCK_MONOTONIC time,
// or < 0 for no deadline.
FutexResult futex_wait(const uint32_t* word, uint32_t expected, int64_t deadline_ns);

// Wakes up to `count` sleepers on `word`; returns how many were woken.
int futex_wake(const uint32_t* word, int count);

// One entry of a multi-word wait.
struct FutexWaitEntry {
  const uint32_t* word;
  uint32_t expected;
};

// Sleeps until any entry's word is woken or differs from its expected value.
// Returns the index of the woken entry (>= 0), or a negative errno:
// -EAGAIN (some word already differs), -ETIMEDOUT, -EINTR, -ENOSYS (kernel
// older than 5.16). At most kMaxFutexWaitEntries entries.
constexpr size_t kMaxFutexWaitEntries = 128;
int futex_wait_many(const FutexWaitEntry* entries, size_t n, int64_t deadline_ns);

// CLOCK_MONOTONIC now, in nanoseconds.
int64_t monotonic_ns();

// One pause of a spin loop: tells the CPU we are spinning.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace mp
