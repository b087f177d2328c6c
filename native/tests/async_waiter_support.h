// Helpers shared by AsyncWaiter's tests (test_async_waiter*.cc): the
// consumer side as the glue does it, and deadlines from now.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "core/async_waiter.h"
#include "mptest.h"

namespace async_waiter_test {

// The consumer side as the glue does it: take_completions() only after a
// notify, so a missing notify shows up as a timeout here.
class Consumer {
 public:
  std::function<void()> notifier() {
    return [this] {
      std::lock_guard<std::mutex> lock(mu_);
      notifies_++;
      cv_.notify_all();
    };
  }

  // Collects completions until `n` distinct ids arrived (or the upper bound
  // passes). Each completion is stamped with when it was taken.
  void collect(mp::AsyncWaiter& w, size_t n, int64_t timeout_ns = 10000 * mptest::kMs) {
    CHECK_MSG(try_collect(w, n, timeout_ns),
              "only " + std::to_string(got.size()) + " of " + std::to_string(n) + " completions arrived");
  }

  bool try_collect(mp::AsyncWaiter& w, size_t n, int64_t timeout_ns) {
    int64_t deadline = mptest::now_ns() + timeout_ns;
    while (got.size() < n) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        while (notifies_ == seen_) {
          int64_t left = deadline - mptest::now_ns();
          if (left <= 0) break;
          cv_.wait_for(lock, std::chrono::nanoseconds(left));
        }
        if (notifies_ == seen_) break;
        seen_ = notifies_;
      }
      for (const mp::AsyncCompletion& c : w.take_completions()) {
        CHECK_MSG(got.count(c.id) == 0, "duplicate completion for id " + std::to_string(c.id));
        got[c.id] = c;
        taken_at[c.id] = mptest::now_ns();
      }
    }
    return got.size() >= n;
  }

  int notifies() {
    std::lock_guard<std::mutex> lock(mu_);
    return notifies_;
  }

  std::map<uint64_t, mp::AsyncCompletion> got;
  std::map<uint64_t, int64_t> taken_at;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int notifies_ = 0;
  int seen_ = 0;
};

inline int64_t in(int64_t ns) { return mptest::now_ns() + ns; }

}  // namespace async_waiter_test
