// AsyncWaiter (native/core/async_waiter.h): what ends waits other than a
// completion -- cancel, cancel_range, shutdown and the destructor with
// pending waits (sleepers back to 0, threads gone) -- and no threads without
// waits.
#include <climits>
#include <set>
#include <vector>

#include "async_waiter_support.h"
#include "core/async_waiter.h"
#include "core/wait_cell.h"
#include "mptest.h"
#include "mptest_process.h"
#include "mptest_shm.h"

using namespace mptest;
using namespace async_waiter_test;
using mp::AsyncCompletion;
using mp::AsyncWaiter;
using mp::AsyncWaitStatus;
using mp::WaitCell;

TEST(cancel) {
  Segment seg(64);
  WaitCell* c = seg.cell(0);
  Consumer k;
  AsyncWaiter w(k.notifier());
  w.add(1, c, 0, -1);
  w.add(2, c, 0, in(50 * kMs));
  CHECK_EQ(c->sleepers.load(), 2u);
  CHECK_EQ(w.cancel(1), true);
  CHECK_EQ(w.cancel(2), true);
  CHECK_EQ(c->sleepers.load(), 0u);
  CHECK_EQ(w.cancel(1), false);
  CHECK_EQ(w.cancel(99), false);
  // A later wait that does complete: the cancelled ones never report, not
  // even after id 2's deadline has passed.
  sleep_ns(60 * kMs);
  w.add(3, c, 0, -1);
  mp::store_and_wake(c, 1, INT_MAX);
  k.collect(w, 1);
  CHECK_EQ(k.got.size(), 1u);
  CHECK_EQ(k.got.count(3), 1u);
  for (const AsyncCompletion& x : w.take_completions()) CHECK_EQ(x.id, 3u);
  CHECK_EQ(w.cancel(3), false);
  CHECK_EQ(c->sleepers.load(), 0u);
}

TEST(cancel_range) {
  constexpr size_t kCells = 20;
  Segment seg(kCells * sizeof(WaitCell));
  Segment other(64);
  Consumer k;
  AsyncWaiter w(k.notifier());
  // Two waits on every cell of seg, one on `other`.
  for (uint64_t i = 0; i < kCells; i++) {
    w.add(i, seg.cell(i), 0, -1);
    w.add(100 + i, seg.cell(i), 0, in(60000 * kMs));
  }
  w.add(999, other.cell(0), 0, -1);
  // [cell 10, cell 15): exactly cells 10..14, the bound is exclusive.
  std::vector<uint64_t> ids = w.cancel_range(seg.cell(10), 5 * sizeof(WaitCell));
  std::set<uint64_t> got(ids.begin(), ids.end());
  std::set<uint64_t> want;
  for (uint64_t i = 10; i < 15; i++) {
    want.insert(i);
    want.insert(100 + i);
  }
  CHECK(got == want);
  CHECK_EQ(ids.size(), want.size());
  for (size_t i = 0; i < kCells; i++) CHECK_EQ(seg.cell(i)->sleepers.load(), (i >= 10 && i < 15) ? 0u : 2u);
  CHECK(w.cancel_range(seg.addr(), 0).empty());
  CHECK(w.cancel_range(seg.cell(10), 5 * sizeof(WaitCell)).empty());  // nothing left there
  // The whole segment: the other 30; `other` untouched.
  CHECK_EQ(w.cancel_range(seg.addr(), seg.size()).size(), 30u);
  for (size_t i = 0; i < kCells; i++) CHECK_EQ(seg.cell(i)->sleepers.load(), 0u);
  CHECK_EQ(other.cell(0)->sleepers.load(), 1u);
  mp::store_and_wake(other.cell(0), 1, INT_MAX);
  k.collect(w, 1);
  CHECK_EQ(k.got.size(), 1u);
  CHECK_EQ(k.got.count(999), 1u);
}

TEST(shutdown_with_pending_waits) {
  constexpr size_t kCells = 200;  // two threads
  Segment seg(kCells * sizeof(WaitCell));
  Consumer k;
  int threads_before = thread_count();
  {
    AsyncWaiter w(k.notifier());
    for (size_t i = 0; i < kCells; i++) {
      w.add(i, seg.cell(i), 0, -1);
      w.add(1000 + i, seg.cell(i), 0, in(60000 * kMs));
    }
    CHECK_EQ(thread_count(), threads_before + 2);
    for (size_t i = 0; i < kCells; i++) CHECK_EQ(seg.cell(i)->sleepers.load(), 2u);
    w.shutdown();
    CHECK_EQ(thread_count(), threads_before);
    for (size_t i = 0; i < kCells; i++) CHECK_EQ(seg.cell(i)->sleepers.load(), 0u);
    CHECK(w.take_completions().empty());
    // After shutdown: add is a no-op that leaves no announcement behind.
    w.add(5000, seg.cell(0), 0, -1);
    CHECK_EQ(seg.cell(0)->sleepers.load(), 0u);
    CHECK_EQ(w.cancel(5000), false);
    CHECK_EQ(w.cancel(0), false);
    CHECK(w.cancel_range(seg.addr(), seg.size()).empty());
    w.shutdown();  // twice: fine
  }
  CHECK_EQ(thread_count(), threads_before);
}

TEST(destructor_drops_pending_waits) {
  Segment seg(64);
  Consumer k;
  int threads_before = thread_count();
  {
    AsyncWaiter w(k.notifier());
    w.add(1, seg.cell(0), 0, -1);
    w.add(2, seg.cell(1), 0, in(60000 * kMs));
    CHECK_EQ(seg.cell(0)->sleepers.load(), 1u);
  }
  CHECK_EQ(seg.cell(0)->sleepers.load(), 0u);
  CHECK_EQ(seg.cell(1)->sleepers.load(), 0u);
  CHECK_EQ(thread_count(), threads_before);
}

TEST(no_waits_no_threads) {
  Consumer k;
  int threads_before = thread_count();
  AsyncWaiter w(k.notifier());
  CHECK_EQ(thread_count(), threads_before);
  CHECK(w.take_completions().empty());
  w.shutdown();
}

MPTEST_MAIN()
