// The shared-memory ring (native/core/ring.h) in one process: its layout,
// records in order across many laps (wrap-around), limits (full, too big,
// shut down), tags and throwing callbacks, and a record as large as the
// ring at any offset. Helpers: ring_support.h.
#include <cstddef>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "core/ring.h"
#include "mptest.h"
#include "mptest_shm.h"
#include "ring_support.h"

using mp::RingHeader;
using mp::RingResult;
using namespace mptest;
using namespace ring_test;

TEST(layout_is_64_bytes_then_data) {
  CHECK_EQ(sizeof(RingHeader), size_t(64));
  CHECK_EQ(offsetof(RingHeader, written), size_t(16));
  CHECK_EQ(offsetof(RingHeader, freed), size_t(24));
  CHECK_EQ(offsetof(RingHeader, head), size_t(32));
  CHECK_EQ(offsetof(RingHeader, capacity), size_t(56));
  CHECK_EQ(mp::ring_segment_size(100), size_t(64 + 104));
}

TEST(records_come_out_in_order_across_many_laps) {
  Segment seg(mp::ring_segment_size(1024));
  RingHeader* ring = make_ring(seg, 1024);
  uint32_t next_in = 0, next_out = 0;
  std::string got;
  // Sizes vary so records land at every offset and wrap often.
  for (int round = 0; round < 5000; round++) {
    while (mp::ring_try_put(ring, make_item(1, next_in).data(), make_item(1, next_in).size(), me()) == RingResult::kOk)
      next_in++;
    for (int k = 0; k < 1 + round % 5 && try_get_string(ring, &got) == RingResult::kOk; k++) {
      uint32_t p, s;
      CHECK(item_whole(got, &p, &s));
      CHECK_EQ(s, next_out);
      next_out++;
    }
  }
  while (try_get_string(ring, &got) == RingResult::kOk) next_out++;
  CHECK_EQ(next_in, next_out);
  CHECK_GT(ring->tail.load(), uint64_t(100) * 1024);  // it went round many times
  CHECK_EQ(mp::ring_items(ring), 0u);
}

TEST(limits_full_too_big_closed) {
  Segment seg(mp::ring_segment_size(256));
  RingHeader* ring = make_ring(seg, 256, 2);
  char buf[300] = {};
  CHECK(mp::ring_try_put(ring, buf, 249, me()) == RingResult::kTooBig);  // 8 + 256 > 256
  CHECK(mp::ring_try_put(ring, buf, 10, me()) == RingResult::kOk);
  CHECK(mp::ring_try_put(ring, buf, 10, me()) == RingResult::kOk);
  CHECK(mp::ring_try_put(ring, buf, 10, me()) == RingResult::kFull);  // maxsize 2
  std::string got;
  CHECK(try_get_string(ring, &got) == RingResult::kOk);
  // One 24-byte record left at offset 24..48: a 240-byte record does not fit
  // before the end (48 + 240 > 256), nor after wrapping (24 + 208 + 240 > 256).
  CHECK(mp::ring_try_put(ring, buf, 232, me()) == RingResult::kFull);
  CHECK(mp::ring_put(ring, buf, 232, me(), 5 * kMs) == RingResult::kTimedOut);
  CHECK(mp::ring_try_put(ring, buf, 200, me()) == RingResult::kOk);  // 48 + 208 = 256 fits
  mp::ring_shutdown(ring, me(), false, 0);
  CHECK(mp::ring_try_put(ring, buf, 1, me()) == RingResult::kShutDown);
  CHECK(try_get_string(ring, &got) == RingResult::kOk);  // drains what is left
  CHECK(try_get_string(ring, &got) == RingResult::kOk);
  CHECK_EQ(got.size(), size_t(200));
  CHECK(try_get_string(ring, &got) == RingResult::kShutDown);
  CHECK(get_string(ring, &got, 5 * kMs) == RingResult::kShutDown);
}

TEST(tags_travel_with_records_and_a_throwing_callback_changes_nothing) {
  Segment seg(mp::ring_segment_size(256));
  RingHeader* ring = make_ring(seg, 256);
  auto put = [&](uint32_t tag, const std::string& s) {
    return mp::ring_try_put(
        ring, tag, s.size(), [&](char* p) { std::memcpy(p, s.data(), s.size()); }, me());
  };
  // A writer that throws (JS: a failed string conversion) commits nothing.
  bool threw = false;
  try {
    mp::ring_try_put(
        ring, 9, 16, [](char*) { throw 1; }, me());
  } catch (int) {
    threw = true;
  }
  CHECK(threw);
  CHECK_EQ(mp::ring_items(ring), 0u);
  CHECK(put(7, "seven") == RingResult::kOk);
  CHECK(put(200, "two hundred") == RingResult::kOk);
  // A reader that throws (JS: out of memory) leaves the record in place.
  threw = false;
  try {
    mp::ring_try_get(
        ring, [](const char*, size_t, uint32_t) -> bool { throw 2; }, me());
  } catch (int) {
    threw = true;
  }
  CHECK(threw);
  CHECK_EQ(mp::ring_items(ring), 2u);
  std::vector<std::pair<uint32_t, std::string>> got;
  auto read = [&](const char* p, size_t len, uint32_t tag) {
    got.emplace_back(tag, std::string(p, len));
    return true;
  };
  while (mp::ring_try_get(ring, read, me()) == RingResult::kOk) {
  }
  CHECK_EQ(got.size(), size_t(2));
  CHECK_EQ(got[0].first, 7u);
  CHECK(got[0].second == "seven");
  CHECK_EQ(got[1].first, 200u);
  CHECK(got[1].second == "two hundred");
  CHECK(ring->lock.cell.value.load() == 0u);  // never left locked
}

TEST(an_empty_ring_takes_a_record_as_large_as_its_capacity_at_any_offset) {
  Segment seg(mp::ring_segment_size(256));
  RingHeader* ring = make_ring(seg, 256);
  char buf[256] = {};
  std::string got;
  for (size_t first = 1; first < 200; first += 17) {
    CHECK(mp::ring_try_put(ring, buf, first, me()) == RingResult::kOk);
    CHECK(try_get_string(ring, &got) == RingResult::kOk);
    CHECK(mp::ring_try_put(ring, buf, 248, me()) == RingResult::kOk);
    CHECK(try_get_string(ring, &got) == RingResult::kOk);
    CHECK_EQ(got.size(), size_t(248));
  }
}

MPTEST_MAIN()
