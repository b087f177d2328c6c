#include "async_waiter.h"

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "futex.h"
#include "sys_error.h"

namespace mp {

namespace {
// One entry of each futex_waitv call is the thread's control word.
constexpr size_t kCellsPerThread = kMaxFutexWaitEntries - 1;
}  // namespace

AsyncWaiter::AsyncWaiter(std::function<void()> notify) : notify_(std::move(notify)) {}

AsyncWaiter::~AsyncWaiter() { shutdown(); }

void AsyncWaiter::shutdown() {
  std::vector<std::unique_ptr<Thread>> threads;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& t : threads_) poke(*t);
  }
  for (auto& t : threads_) t->thread.join();
  std::lock_guard<std::mutex> lock(mutex_);
  // Each wait's keepalive still holds its cell's mapping here.
  for (auto& [id, w] : waits_) w.cell->sleepers.fetch_sub(1);
  waits_.clear();
}

void AsyncWaiter::poke(Thread& t) {
  t.control.value.fetch_add(1);
  futex_wake(reinterpret_cast<uint32_t*>(&t.control.value), 1);
}

void AsyncWaiter::add(uint64_t id, WaitCell* cell, uint32_t expected, int64_t deadline_ns,
                      std::shared_ptr<void> keepalive) {
  // Announce first: from here on a waker issues FUTEX_WAKE; the thread
  // re-checks the value before it sleeps.
  cell->sleepers.fetch_add(1);
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopping_) {
    cell->sleepers.fetch_sub(1);
    return;
  }
  size_t index = threads_.size();
  for (size_t i = 0; i < threads_.size(); i++) {
    if (threads_[i]->cells.count(cell)) {
      index = i;
      break;
    }
    if (index == threads_.size() && threads_[i]->cells.size() < kCellsPerThread) index = i;
  }
  if (index == threads_.size()) {
    threads_.push_back(std::make_unique<Thread>());
    try {
      // The new thread takes mutex_ (held here) before it reads threads_.
      threads_.back()->thread = std::thread(&AsyncWaiter::run, this, index);
    } catch (const std::system_error& e) {
      threads_.pop_back();
      cell->sleepers.fetch_sub(1);
      throw SysError(e.code().value() ? e.code().value() : EAGAIN, "pthread_create",
                     "of an async wait's waiter thread");
    }
  }
  Thread& t = *threads_[index];
  t.cells[cell]++;
  waits_.emplace(id, Wait{cell, expected, deadline_ns, index, std::move(keepalive)});
  poke(t);
}

void AsyncWaiter::remove_locked(std::map<uint64_t, Wait>::iterator it) {
  Wait& w = it->second;
  w.cell->sleepers.fetch_sub(1);
  Thread& t = *threads_[w.thread];
  auto c = t.cells.find(w.cell);
  if (--c->second == 0) t.cells.erase(c);
  waits_.erase(it);
}

void AsyncWaiter::complete_locked(std::map<uint64_t, Wait>::iterator it, AsyncWaitStatus status, int error) {
  completions_.push_back({it->first, status, error});
  remove_locked(it);
}

bool AsyncWaiter::cancel(uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = waits_.find(id);
  if (it == waits_.end()) return false;
  size_t thread = it->second.thread;
  remove_locked(it);
  poke(*threads_[thread]);
  return true;
}

std::vector<uint64_t> AsyncWaiter::cancel_range(const void* base, size_t len) {
  std::vector<uint64_t> ids;
  auto lo = reinterpret_cast<uintptr_t>(base);
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = waits_.begin(); it != waits_.end();) {
    auto addr = reinterpret_cast<uintptr_t>(it->second.cell);
    auto next = std::next(it);
    if (addr >= lo && addr < lo + len) {
      ids.push_back(it->first);
      size_t thread = it->second.thread;
      remove_locked(it);
      poke(*threads_[thread]);
    }
    it = next;
  }
  // Completions already reported for this range are harmless: the caller
  // drops ids it no longer knows.
  return ids;
}

std::vector<AsyncCompletion> AsyncWaiter::take_completions() {
  std::lock_guard<std::mutex> lock(mutex_);
  notified_ = false;
  std::vector<AsyncCompletion> out;
  out.swap(completions_);
  return out;
}

void AsyncWaiter::run(size_t index) {
  std::vector<FutexWaitEntry> entries;
  std::vector<WaitCell*> cells;
  for (;;) {
    int64_t deadline = -1;
    bool must_notify = false;
    Thread* self;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
      self = threads_[index].get();
      // Settle what is already decided, then sleep on the rest.
      int64_t now = monotonic_ns();
      size_t before = completions_.size();
      entries.clear();
      cells.clear();
      for (auto it = waits_.begin(); it != waits_.end();) {
        auto next = std::next(it);
        const Wait& w = it->second;
        if (w.thread == index) {
          if (w.cell->value.load() != w.expected) {
            complete_locked(it, AsyncWaitStatus::kOk, 0);
          } else if (w.deadline_ns >= 0 && w.deadline_ns <= now) {
            complete_locked(it, AsyncWaitStatus::kTimedOut, 0);
          } else {
            if (w.deadline_ns >= 0 && (deadline < 0 || w.deadline_ns < deadline)) deadline = w.deadline_ns;
            // The kernel must compare against the value this wait expects,
            // never a fresh read: a change made after the check above has
            // already issued its wake, and only a mismatch at sleep time
            // (EAGAIN) can still report it. One entry per cell: a second wait
            // expecting another value is settled by the EAGAIN pass.
            if (std::find(cells.begin(), cells.end(), w.cell) == cells.end()) {
              entries.push_back({reinterpret_cast<uint32_t*>(&w.cell->value), w.expected});
              cells.push_back(w.cell);
            }
          }
        }
        it = next;
      }
      entries.push_back({reinterpret_cast<uint32_t*>(&self->control.value), self->control.value.load()});
      if (completions_.size() > before && !notified_) {
        notified_ = true;
        must_notify = true;
      }
    }
    if (must_notify) notify_();

    int r = futex_wait_many(entries.data(), entries.size(), deadline);
    if (r >= 0 && size_t(r) < cells.size()) {
      // A wake on cells[r]: wake-ups may not change the value (a lock handed
      // back and taken again), so complete every wait on that cell.
      std::lock_guard<std::mutex> lock(mutex_);
      bool any = false;
      for (auto it = waits_.begin(); it != waits_.end();) {
        auto next = std::next(it);
        if (it->second.thread == index && it->second.cell == cells[size_t(r)]) {
          complete_locked(it, AsyncWaitStatus::kOk, 0);
          any = true;
        }
        it = next;
      }
      if (any && !notified_) {
        notified_ = true;
        must_notify = true;
      }
      // Woken for waits that were cancelled meanwhile: the wake was meant
      // for someone (a semaphore's release(1) wakes one sleeper), so pass it
      // on rather than drop it.
      if (!any) futex_wake(reinterpret_cast<uint32_t*>(&cells[size_t(r)]->value), 1);
    } else if (r == -ENOSYS || r == -EINVAL || r == -EFAULT) {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto it = waits_.begin(); it != waits_.end();) {
        auto next = std::next(it);
        if (it->second.thread == index) complete_locked(it, AsyncWaitStatus::kFailed, -r);
        it = next;
      }
      if (!notified_) {
        notified_ = true;
        must_notify = true;
      }
    }
    // -EAGAIN, -ETIMEDOUT, -EINTR, a control wake: the next pass re-reads.
    if (must_notify) notify_();
  }
}

}  // namespace mp
