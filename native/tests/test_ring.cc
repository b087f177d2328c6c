// The shared-memory ring (native/core/ring.h): records in order, wrap-around,
// limits, blocking across processes, and crash consistency under SIGKILL.
#include <sys/mman.h>

#include <random>
#include <vector>

#include "core/lock.h"
#include "core/ring.h"
#include "mptest.h"
#include "mptest_process.h"
#include "mptest_shm.h"

using mp::RingHeader;
using mp::RingResult;
using namespace mptest;

namespace {

RingHeader* make_ring(Segment& seg, size_t capacity, uint32_t maxsize = 0) {
  mp::ring_init(seg.addr(), capacity, maxsize);
  return static_cast<RingHeader*>(seg.addr());
}

// Not cached: forked children are other threads.
mp::Owner me() { return mp::Owner{mp::current_thread_id(), mp::thread_stamp(mp::current_thread_id())}; }

// An item that can tell whether it arrived whole: producer, sequence number,
// a length that varies with them, and a checksum over everything.
std::string make_item(uint32_t producer, uint32_t seq) {
  size_t len = 12 + (seq * 7 + producer * 13) % 200;
  std::string s(len, '\0');
  std::memcpy(&s[0], &producer, 4);
  std::memcpy(&s[4], &seq, 4);
  uint32_t sum = producer * 31 + seq;
  for (size_t i = 12; i < len; i++) {
    s[i] = char((seq + i) * 131);
    sum = sum * 33 + uint8_t(s[i]);
  }
  std::memcpy(&s[8], &sum, 4);
  return s;
}

bool item_whole(const std::string& s, uint32_t* producer, uint32_t* seq) {
  if (s.size() < 12) return false;
  uint32_t sum;
  std::memcpy(producer, &s[0], 4);
  std::memcpy(seq, &s[4], 4);
  std::memcpy(&sum, &s[8], 4);
  uint32_t expect = *producer * 31 + *seq;
  for (size_t i = 12; i < s.size(); i++) expect = expect * 33 + uint8_t(s[i]);
  return sum == expect && s.size() == 12 + (*seq * 7 + *producer * 13) % 200;
}

RingResult get_string(RingHeader* ring, std::string* out, int64_t timeout_ns = -1) {
  return mp::ring_get(
      ring,
      [&](const char* p, size_t len, uint32_t) {
        out->assign(p, len);
        return true;
      },
      me(), timeout_ns);
}

RingResult try_get_string(RingHeader* ring, std::string* out) {
  return mp::ring_try_get(
      ring,
      [&](const char* p, size_t len, uint32_t) {
        out->assign(p, len);
        return true;
      },
      me());
}

}  // namespace

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

TEST(producers_and_consumers_in_four_processes_conserve_every_item) {
  constexpr uint32_t kProducers = 2, kConsumers = 2, kPerProducer = 30000;
  Segment seg(mp::ring_segment_size(2048));
  make_ring(seg, 2048, 64);
  Segment tally(sizeof(uint64_t) * 4);  // [0] items, [1] sum of seq, [2] order errors
  std::vector<Child> kids;
  for (uint32_t p = 0; p < kProducers; p++) {
    kids.push_back(spawn([&, p] {
      Attached a(seg.name());
      auto* ring = static_cast<RingHeader*>(a.mapping().addr);
      for (uint32_t s = 0; s < kPerProducer; s++) {
        std::string item = make_item(p, s);
        if (mp::ring_put(ring, item.data(), item.size(), me(), -1) != RingResult::kOk) return 1;
      }
      return 0;
    }));
  }
  for (uint32_t c = 0; c < kConsumers; c++) {
    kids.push_back(spawn([&] {
      Attached a(seg.name());
      Attached t(tally.name());
      auto* ring = static_cast<RingHeader*>(a.mapping().addr);
      auto* counts = static_cast<std::atomic<uint64_t>*>(t.mapping().addr);
      std::vector<int64_t> last(kProducers, -1);
      std::string got;
      for (;;) {
        RingResult r = get_string(ring, &got);
        if (r == RingResult::kShutDown) return 0;
        uint32_t p, s;
        if (r != RingResult::kOk || !item_whole(got, &p, &s) || p >= kProducers) return 1;
        if (int64_t(s) <= last[p]) counts[2]++;  // per-producer order
        last[p] = s;
        counts[0]++;
        counts[1] += s;
      }
    }));
  }
  for (uint32_t p = 0; p < kProducers; p++) EXPECT_EXIT(kids[p], 0);
  mp::ring_shutdown(static_cast<RingHeader*>(seg.addr()), me(), false, 0);
  for (uint32_t c = 0; c < kConsumers; c++) EXPECT_EXIT(kids[kProducers + c], 0);
  auto* counts = static_cast<std::atomic<uint64_t>*>(tally.addr());
  CHECK_EQ(counts[0].load(), uint64_t(kProducers) * kPerProducer);
  CHECK_EQ(counts[1].load(), uint64_t(kProducers) * (uint64_t(kPerProducer) * (kPerProducer - 1) / 2));
  CHECK_EQ(counts[2].load(), uint64_t(0));
}

// Fault injection: producers and consumers are SIGKILLed at random instants
// (mid-put, mid-get, holding the ring's lock) and replaced. Afterwards: no
// item arrived twice or torn; every item whose put returned arrived, except
// at most one per killed consumer (it died holding it); nothing deadlocked.
TEST(random_sigkills_never_corrupt_duplicate_or_deadlock) {
  constexpr uint32_t kProducers = 3, kConsumers = 3, kPerProducer = 20000, kKills = 200;
  Segment seg(mp::ring_segment_size(1024));
  make_ring(seg, 1024, 16);
  // Shared bookkeeping: returned[p] = highest seq whose put returned, +1;
  // seen[p][s] = deliveries; torn = whole-check failures.
  struct Book {
    std::atomic<uint32_t> returned[kProducers];
    std::atomic<uint32_t> next[kProducers];  // where a replacement producer starts
    std::atomic<uint32_t> torn;
    std::atomic<uint8_t> seen[kProducers][kPerProducer + 64];
  };
  Segment book_seg(sizeof(Book));
  auto* book = static_cast<Book*>(book_seg.addr());

  auto producer = [&](uint32_t p) {
    return spawn([&, p] {
      Attached a(seg.name());
      Attached b(book_seg.name());
      auto* ring = static_cast<RingHeader*>(a.mapping().addr);
      auto* bk = static_cast<Book*>(b.mapping().addr);
      for (uint32_t s = bk->next[p].load(); s < kPerProducer; s++) {
        bk->next[p].store(s + 1);  // a replacement skips the seq that may or may not have gone in
        std::string item = make_item(p, s);
        if (mp::ring_put(ring, item.data(), item.size(), me(), -1) != RingResult::kOk) return 1;
        bk->returned[p].store(s + 1);
      }
      return 0;
    });
  };
  auto consumer = [&] {
    return spawn([&] {
      Attached a(seg.name());
      Attached b(book_seg.name());
      auto* ring = static_cast<RingHeader*>(a.mapping().addr);
      auto* bk = static_cast<Book*>(b.mapping().addr);
      std::string got;
      for (;;) {
        RingResult r = get_string(ring, &got);
        if (r == RingResult::kShutDown) return 0;
        uint32_t p, s;
        if (r != RingResult::kOk || !item_whole(got, &p, &s) || p >= kProducers || s >= kPerProducer) {
          bk->torn++;
          continue;
        }
        bk->seen[p][s]++;
      }
    });
  };

  std::vector<Child> producers, consumers;
  std::vector<bool> producer_done(kProducers, false);
  for (uint32_t p = 0; p < kProducers; p++) producers.push_back(producer(p));
  for (uint32_t c = 0; c < kConsumers; c++) consumers.push_back(consumer());
  std::mt19937 rng(12345);
  uint32_t consumer_kills = 0, kills = 0;
  while (kills < kKills) {
    sleep_ns((1 + rng() % 4) * kMs);
    uint32_t victim = rng() % (kProducers + kConsumers);
    int status;
    if (victim < kProducers) {
      if (producer_done[victim]) continue;
      if (producers[victim].try_join(&status)) {  // finished on its own
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        producer_done[victim] = true;
        continue;
      }
      kill(producers[victim].pid(), SIGKILL);
      producers[victim].join();
      producers[victim] = producer(victim);
    } else {
      Child& c = consumers[victim - kProducers];
      kill(c.pid(), SIGKILL);
      c.join();
      consumer_kills++;
      c = consumer();
    }
    kills++;
  }
  for (uint32_t p = 0; p < kProducers; p++)
    if (!producer_done[p]) EXPECT_EXIT(producers[p], 0);
  mp::ring_shutdown(static_cast<RingHeader*>(seg.addr()), me(), false, 0);
  for (auto& c : consumers) EXPECT_EXIT(c, 0);

  CHECK_EQ(book->torn.load(), 0u);
  uint32_t missing = 0;
  for (uint32_t p = 0; p < kProducers; p++) {
    CHECK_EQ(book->returned[p].load(), kPerProducer);
    for (uint32_t s = 0; s < kPerProducer; s++) {
      uint8_t n = book->seen[p][s].load();
      CHECK_LE(n, 1);  // never twice
      if (n == 0) missing++;
    }
  }
  // Lost: at most one item per killed consumer, plus the items whose put was
  // interrupted by a producer kill (skipped by the replacement, never returned).
  CHECK_LE(missing, consumer_kills + (kKills - consumer_kills));
  std::printf("    kills: %u (%u consumers), items missing: %u of %u\n", kills, consumer_kills, missing,
              kProducers * kPerProducer);
}

// ---- Distrust: what another process may have written into the segment -------

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
