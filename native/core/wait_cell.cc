#include "wait_cell.h"

#include <fcntl.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

#include "futex.h"

namespace mp {

namespace {

constexpr int64_t kDefaultMaxSpinNs = 50'000;
constexpr int64_t kMinProbeNs = 2'000;  // keep probing so the budget can regrow

// MULTIPROC_SPIN_NS: the JS side refuses a value that is not a whole number
// from 0 to 1e9 (ts/binding/addon.ts); here such a value falls back to the default.
int64_t default_max_spin() {
  const char* env = std::getenv("MULTIPROC_SPIN_NS");
  if (env && *env) {
    char* end;
    long long v = std::strtoll(env, &end, 10);
    if (*end == '\0' && v >= 0 && v <= 1'000'000'000) return v;
  }
  return kDefaultMaxSpinNs;
}

std::atomic<int64_t> g_max_spin_ns{default_max_spin()};
std::atomic<bool> g_adaptive{true};
// Exponentially weighted estimate of a useful budget.
std::atomic<int64_t> g_estimate_ns{default_max_spin()};

// Oversubscription: /proc/loadavg's 4th field is "runnable/total". Read it at
// most every 50 ms into a moving average (in 1/16ths); the answer is cached
// in g_oversubscribed. One reading decided it before, and on 2 vCPUs two
// spinning partners plus any passing third thread (a GC helper) made every
// wait sleep for the next 50 ms: queue round trips flipped between 4 and
// 50 us from one sample to the next.
std::atomic<int64_t> g_next_load_check_ns{0};
std::atomic<bool> g_oversubscribed{false};
std::atomic<long> g_runnable_avg16{-1};  // -1: no reading yet
const long g_cores = [] {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? n : 1;
}();

void refresh_oversubscription(int64_t now) {
  int64_t next = g_next_load_check_ns.load(std::memory_order_relaxed);
  if (now < next) return;
  if (!g_next_load_check_ns.compare_exchange_strong(next, now + 50'000'000)) return;
  int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buf[128];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return;
  buf[n] = 0;
  // "0.52 0.58 0.59 3/245 12345": find the field after the third space.
  char* p = buf;
  for (int spaces = 0; *p && spaces < 3; p++)
    if (*p == ' ') spaces++;
  long running = std::strtol(p, nullptr, 10);
  // The reader itself is runnable; a spinning partner counts too. Spinning
  // only pays while every runnable thread has a core: half a thread more
  // than cores, on average over the last few readings, says it no longer does.
  long avg = g_runnable_avg16.load(std::memory_order_relaxed);
  avg = avg < 0 ? running * 16 : avg + (running * 16 - avg) / 4;  // the first reading seeds it
  g_runnable_avg16.store(avg, std::memory_order_relaxed);
  g_oversubscribed.store(avg > g_cores * 16 + 8, std::memory_order_relaxed);
}

// `changed_after_ns`: how long after the wait began the value changed (< 0:
// not within the maximum budget). Whether the spin caught it or a sleep did,
// a budget of about that long would have caught it, so the estimate moves
// towards twice that; only a change later than the maximum shrinks it.
// (Shrinking on every failed spin made the budget collapse for good: once one
// side slept, the other's spins failed too, and neither recovered.)
void adapt(int64_t changed_after_ns) {
  if (!g_adaptive.load(std::memory_order_relaxed)) return;
  int64_t max = g_max_spin_ns.load(std::memory_order_relaxed);
  int64_t est = g_estimate_ns.load(std::memory_order_relaxed);
  int64_t target = changed_after_ns >= 0 && changed_after_ns <= max ? 2 * changed_after_ns + kMinProbeNs : 0;
  est += (target - est) / 8;
  if (est > max) est = max;
  if (est < kMinProbeNs) est = kMinProbeNs;
  g_estimate_ns.store(est, std::memory_order_relaxed);
}

}  // namespace

SpinPolicy get_spin_policy() { return {g_max_spin_ns.load(), g_adaptive.load()}; }

void set_spin_policy(SpinPolicy p) {
  g_max_spin_ns.store(p.max_spin_ns < 0 ? 0 : p.max_spin_ns);
  g_adaptive.store(p.adaptive);
  g_estimate_ns.store(p.max_spin_ns < 0 ? 0 : p.max_spin_ns);
}

int64_t current_spin_budget_ns() {
  int64_t max = g_max_spin_ns.load(std::memory_order_relaxed);
  if (max == 0) return 0;
  refresh_oversubscription(monotonic_ns());
  if (g_oversubscribed.load(std::memory_order_relaxed)) return 0;
  if (!g_adaptive.load(std::memory_order_relaxed)) return max;
  int64_t est = g_estimate_ns.load(std::memory_order_relaxed);
  return est < max ? est : max;
}

WaitResult wait_while_equal(WaitCell* cell, uint32_t expected, int64_t timeout_ns, bool spin) {
  if (cell->value.load() != expected) return WaitResult::kNotEqual;
  if (timeout_ns == 0) return WaitResult::kTimedOut;

  int64_t start = monotonic_ns();
  int64_t deadline = timeout_ns < 0 ? -1 : start + timeout_ns;

  // 1. Spin. The clock is read every 64 pauses: a pause is ~40 ns on
  //    current x86 parts, a vDSO clock read ~20 ns.
  int64_t budget = spin ? current_spin_budget_ns() : 0;
  if (deadline >= 0 && start + budget > deadline) budget = deadline - start;
  if (budget > 0) {
    for (uint32_t i = 1;; i++) {
      cpu_relax();
      if (cell->value.load(std::memory_order_acquire) != expected) {
        adapt(monotonic_ns() - start);
        return WaitResult::kOk;
      }
      if ((i & 63) == 0 && monotonic_ns() - start >= budget) break;
    }
  }

  // 2. Announce, 3. re-check, 4. sleep.
  cell->sleepers.fetch_add(1);
  WaitResult result = WaitResult::kOk;
  for (;;) {
    if (cell->value.load() != expected) break;
    FutexResult r = futex_wait(reinterpret_cast<uint32_t*>(&cell->value), expected, deadline);
    if (r == FutexResult::kWoken || r == FutexResult::kValueChanged) break;
    if (r == FutexResult::kTimedOut) {
      result = WaitResult::kTimedOut;
      break;
    }
    // kInterrupted (a signal): sleep again until the same deadline.
  }
  cell->sleepers.fetch_sub(1);
  if (result == WaitResult::kOk && spin) adapt(monotonic_ns() - start);
  return result;
}

int wake(WaitCell* cell, int count) {
  if (cell->sleepers.load() == 0) return 0;
  return futex_wake(reinterpret_cast<uint32_t*>(&cell->value), count);
}

int store_and_wake(WaitCell* cell, uint32_t v, int count) {
  cell->value.store(v);
  return wake(cell, count);
}

}  // namespace mp
