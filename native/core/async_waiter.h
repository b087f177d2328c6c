// Asynchronous waits on WaitCells: the caller registers a wait and goes on;
// a completion is reported later through a callback, so a JS event loop is
// never blocked and the libuv thread pool is never used (four parked waits
// there would starve fs, dns and crypto for the whole process).
//
// Each waiter thread sleeps in one futex_waitv(2) on up to 127 distinct
// cells plus its own control word, which registration and cancellation bump
// to make it re-read its set. A program with more distinct cells under wait
// gets one more thread per 127.
//
// Registered waits count in the cell's `sleepers`, so wakers do issue
// FUTEX_WAKE for them. A waiter thread woken on a cell completes every wait
// on that cell (callers re-check their own condition and wait again).
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "wait_cell.h"

namespace mp {

enum class AsyncWaitStatus { kOk, kTimedOut, kFailed };

struct AsyncCompletion {
  uint64_t id;
  AsyncWaitStatus status;
  int error;  // errno when kFailed (ENOSYS: kernel older than 5.16)
};

class AsyncWaiter {
 public:
  // `notify` runs on a waiter thread whenever completions become available;
  // it must be thread-safe and cheap (it schedules take_completions()).
  explicit AsyncWaiter(std::function<void()> notify);
  ~AsyncWaiter();
  AsyncWaiter(const AsyncWaiter&) = delete;
  AsyncWaiter& operator=(const AsyncWaiter&) = delete;

  // Registers a wait while cell->value == expected, until deadline_ns
  // (absolute CLOCK_MONOTONIC, < 0 for none). `id` must be unique among
  // pending waits. `keepalive` is held until the wait completes, is
  // cancelled or is dropped by shutdown(): it must keep the cell mapped (the
  // waiter threads read it, and shutdown() still updates its sleepers).
  // Throws SysError (EAGAIN) when a new waiter thread cannot be started;
  // nothing is registered then.
  void add(uint64_t id, WaitCell* cell, uint32_t expected, int64_t deadline_ns,
           std::shared_ptr<void> keepalive = nullptr);

  // Removes a pending wait; false if it already completed.
  bool cancel(uint64_t id);

  // Removes every pending wait on a cell in [base, base+len) and returns their
  // ids: for unmapping a segment.
  std::vector<uint64_t> cancel_range(const void* base, size_t len);

  std::vector<AsyncCompletion> take_completions();

  // Stops and joins every thread; pending waits are dropped.
  void shutdown();

 private:
  struct Wait {
    WaitCell* cell;
    uint32_t expected;
    int64_t deadline_ns;
    size_t thread;
    std::shared_ptr<void> keepalive;
  };
  struct Thread {
    std::thread thread;
    WaitCell control{};                 // bumped to make the thread re-read its set
    std::map<WaitCell*, size_t> cells;  // cell -> number of waits on it
  };

  void run(size_t index);
  void poke(Thread& t);
  void complete_locked(std::map<uint64_t, Wait>::iterator it, AsyncWaitStatus status, int error);
  void remove_locked(std::map<uint64_t, Wait>::iterator it);

  std::function<void()> notify_;
  std::mutex mutex_;
  bool stopping_ = false;
  std::map<uint64_t, Wait> waits_;
  std::vector<std::unique_ptr<Thread>> threads_;
  std::vector<AsyncCompletion> completions_;
  bool notified_ = false;  // a notify is outstanding: coalesce the next ones
};

}  // namespace mp
