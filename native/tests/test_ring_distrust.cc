// The shared-memory ring (native/core/ring.h) distrusts what another
// process may have written into the segment: record lengths beyond the ring
// or tail, impossible head/tail, a wrap marker leading nowhere, a garbage
// tail, capacity or item count: kCorrupt (or a recount), never a crash or a
// loop, and the ring works again. Also a held lock (kBusy, deadlines,
// ring_recover), the consumer counter and ring_shutdown. Helpers:
// ring_support.h.
#include <atomic>
#include <cstring>
#include <functional>
#include <string>

#include "core/lock.h"
#include "core/ring.h"
#include "mptest.h"
#include "mptest_shm.h"
#include "ring_support.h"

using mp::RingHeader;
using mp::RingResult;
using namespace mptest;
using namespace ring_test;

namespace {

// Puts "hello", then lets `scribble` damage the ring; a get must report
// kCorrupt (never crash or loop), and the ring must work again afterwards.
void expect_corruption_handled(const std::function<void(RingHeader*)>& scribble) {
  Segment seg(mp::ring_segment_size(1024));
  RingHeader* ring = make_ring(seg, 1024);
  CHECK(mp::ring_try_put(ring, "hello", 5, me()) == RingResult::kOk);
  scribble(ring);
  std::string got;
  // A lock wait, so that a scribbled owner that cannot exist is taken over.
  RingResult r = mp::ring_try_get(
      ring,
      [&](const char* p, size_t len, uint32_t) {
        got.assign(p, len);
        return true;
      },
      me(), 50 * kMs);
  CHECK_MSG(r == RingResult::kCorrupt, "result " + std::to_string(int(r)));
  CHECK(std::strlen(mp::ring_fault()) > 0);
  // Usable again: the bad contents were dropped.
  CHECK(mp::ring_try_put(ring, "after", 5, me()) == RingResult::kOk);
  CHECK(try_get_string(ring, &got) == RingResult::kOk);
  CHECK_EQ(got, std::string("after"));
  CHECK_EQ(mp::ring_items(ring), 0u);
}

char* data(RingHeader* ring) { return reinterpret_cast<char*>(ring) + sizeof(RingHeader); }

}  // namespace

TEST(a_record_length_beyond_the_ring_or_tail_is_corruption) {
  for (uint32_t len : {0xFFFFFFF0u, 64u << 20, 1017u, 200u}) {
    expect_corruption_handled([&](RingHeader* ring) { std::memcpy(data(ring), &len, 4); });
  }
}

TEST(head_and_tail_that_cannot_be_are_corruption) {
  expect_corruption_handled([](RingHeader* ring) { ring->head.store(1 << 20); });            // after tail
  expect_corruption_handled([](RingHeader* ring) { ring->tail.store(uint64_t(1) << 40); });  // far beyond head
  expect_corruption_handled([](RingHeader* ring) { ring->head.store(3); });                  // unaligned
}

TEST(a_wrap_marker_that_leads_nowhere_is_corruption) {
  expect_corruption_handled([](RingHeader* ring) {
    uint32_t tag = mp::kRingWrapTag;
    std::memcpy(data(ring) + 4, &tag, 4);  // the only record becomes a wrap marker at offset 0
  });
}

TEST(a_dead_holder_and_a_garbage_tail_do_not_make_the_repair_walk_for_ever) {
  expect_corruption_handled([](RingHeader* ring) {
    ring->tail.store(uint64_t(1) << 40);
    ring->lock.cell.value.store(4000000);  // a thread id that cannot exist: the next acquirer repairs
  });
}

TEST(a_record_the_reader_refuses_is_dropped_and_reported) {
  Segment seg(mp::ring_segment_size(1024));
  RingHeader* ring = make_ring(seg, 1024);
  CHECK(mp::ring_try_put(ring, "bad", 3, me()) == RingResult::kOk);
  CHECK(mp::ring_try_put(ring, "good", 4, me()) == RingResult::kOk);
  RingResult r = mp::ring_try_get(
      ring, [](const char*, size_t, uint32_t) { return false; }, me());
  CHECK(r == RingResult::kCorrupt);
  std::string got;
  CHECK(try_get_string(ring, &got) == RingResult::kOk);  // the next record is fine: not poisoned
  CHECK_EQ(got, std::string("good"));
}

TEST(a_capacity_scribbled_after_open_is_not_used_and_zero_is_corruption_not_a_crash) {
  Segment seg(mp::ring_segment_size(1024));
  RingHeader* ring = make_ring(seg, 1024);
  const uint32_t checked = ring->capacity;  // as the glue checked it against the mapping
  auto put = [&](char c) {
    return mp::ring_try_put(
        ring, 0, 1, [&](char* p) { *p = c; }, me(), 0, checked);
  };
  CHECK(put('x') == RingResult::kOk);
  ring->capacity = 1u << 30;  // far past the mapping
  std::string got;
  auto read = [&](const char* p, size_t len, uint32_t) {
    got.assign(p, len);
    return true;
  };
  CHECK(mp::ring_try_get(ring, read, me(), 0, nullptr, checked) == RingResult::kOk);
  CHECK_EQ(got, std::string("x"));
  CHECK(put('y') == RingResult::kOk);
  ring->capacity = 0;  // a caller without a checked capacity: no division by zero
  CHECK(mp::ring_try_put(ring, "z", 1, me()) == RingResult::kTooBig);  // nothing fits a ring of 0 bytes
  CHECK(mp::ring_try_get(ring, read, me()) == RingResult::kCorrupt);
}

TEST(a_garbage_item_count_is_recounted_not_trusted) {
  Segment seg(mp::ring_segment_size(1024));
  RingHeader* ring = make_ring(seg, 1024, 4);
  CHECK(mp::ring_try_put(ring, "x", 1, me()) == RingResult::kOk);
  ring->items.store(0xFFFFFFFF);
  CHECK(mp::ring_try_put(ring, "y", 1, me()) == RingResult::kOk);  // not "full" for ever
  CHECK_EQ(mp::ring_items(ring), 2u);
}

TEST(a_held_lock_bounds_one_try_calls_and_blocking_ones_by_their_deadline) {
  Segment seg(mp::ring_segment_size(1024));
  RingHeader* ring = make_ring(seg, 1024);
  CHECK(mp::ring_try_put(ring, "x", 1, me()) == RingResult::kOk);
  // Held by a live thread that is not us (pid 1): as if it were stopped inside put().
  ring->lock.cell.value.store(1);
  ring->lock.stamp.store(mp::thread_stamp(1));
  std::string got;
  CHECK(try_get_string(ring, &got) == RingResult::kBusy);
  CHECK(mp::ring_try_put(
            ring, 0, 1, [](char* p) { *p = 'y'; }, me(), 5 * kMs) == RingResult::kBusy);
  int64_t t0 = now_ns();
  CHECK(get_string(ring, &got, 20 * kMs) == RingResult::kTimedOut);
  CHECK(now_ns() - t0 >= 20 * kMs);      // a timeout never returns early
  CHECK(!mp::ring_recover(ring, me()));  // its holder is alive: nothing to take over
  // The holder "dies" (its stamp no longer matches a live thread): recovered.
  ring->lock.stamp.store(12345);
  CHECK(mp::ring_recover(ring, me()));
  CHECK(try_get_string(ring, &got) == RingResult::kOk);
  CHECK_EQ(got, std::string("x"));
}

TEST(a_consumer_counter_is_incremented_under_the_lock_before_the_commit) {
  Segment seg(mp::ring_segment_size(1024));
  RingHeader* ring = make_ring(seg, 1024);
  std::atomic<uint32_t> taken{0};
  CHECK(mp::ring_try_put(ring, "x", 1, me()) == RingResult::kOk);
  CHECK(mp::ring_try_get(
            ring, [](const char*, size_t, uint32_t) { return true; }, me(), 0, &taken) == RingResult::kOk);
  CHECK_EQ(taken.load(), 1u);
  // A refused record is not counted as taken.
  CHECK(mp::ring_try_put(ring, "z", 1, me()) == RingResult::kOk);
  CHECK(mp::ring_try_get(
            ring, [](const char*, size_t, uint32_t) { return false; }, me(), 0, &taken) == RingResult::kCorrupt);
  CHECK_EQ(taken.load(), 1u);
}

TEST(shutdown_needs_no_lock_and_immediate_drops_the_contents) {
  Segment seg(mp::ring_segment_size(1024));
  RingHeader* ring = make_ring(seg, 1024);
  CHECK(mp::ring_try_put(ring, "x", 1, me()) == RingResult::kOk);
  ring->lock.cell.value.store(1);  // held by someone else
  ring->lock.stamp.store(mp::thread_stamp(1));
  CHECK(mp::ring_shutdown(ring, me(), false, 0) == RingResult::kOk);
  CHECK(mp::ring_shutdown(ring, me(), true, 5 * kMs) == RingResult::kTimedOut);  // could not drop: lock held
  mp::lock_release(&ring->lock);
  CHECK(mp::ring_try_put(ring, "y", 1, me()) == RingResult::kShutDown);
  std::string got;
  CHECK(try_get_string(ring, &got) == RingResult::kOk);  // drains
  CHECK(try_get_string(ring, &got) == RingResult::kShutDown);
  CHECK(mp::ring_try_put(ring, "z", 1, me()) == RingResult::kShutDown);
  Segment seg2(mp::ring_segment_size(1024));
  RingHeader* ring2 = make_ring(seg2, 1024);
  CHECK(mp::ring_try_put(ring2, "x", 1, me()) == RingResult::kOk);
  CHECK(mp::ring_shutdown(ring2, me(), true, -1) == RingResult::kOk);
  CHECK(try_get_string(ring2, &got) == RingResult::kShutDown);  // dropped at once
}

MPTEST_MAIN()
