// Helpers shared by the shared-memory ring's tests (test_ring*.cc): a ring
// in a test's segment, the calling thread as a lock owner, self-checking
// items, and gets into a std::string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/lock.h"
#include "core/ring.h"
#include "mptest_shm.h"

namespace ring_test {

inline mp::RingHeader* make_ring(mptest::Segment& seg, size_t capacity, uint32_t maxsize = 0) {
  mp::ring_init(seg.addr(), capacity, maxsize);
  return static_cast<mp::RingHeader*>(seg.addr());
}

// Not cached: forked children are other threads.
inline mp::Owner me() { return mp::Owner{mp::current_thread_id(), mp::thread_stamp(mp::current_thread_id())}; }

// An item that can tell whether it arrived whole: producer, sequence number,
// a length that varies with them, and a checksum over everything.
inline std::string make_item(uint32_t producer, uint32_t seq) {
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

inline bool item_whole(const std::string& s, uint32_t* producer, uint32_t* seq) {
  if (s.size() < 12) return false;
  uint32_t sum;
  std::memcpy(producer, &s[0], 4);
  std::memcpy(seq, &s[4], 4);
  std::memcpy(&sum, &s[8], 4);
  uint32_t expect = *producer * 31 + *seq;
  for (size_t i = 12; i < s.size(); i++) expect = expect * 33 + uint8_t(s[i]);
  return sum == expect && s.size() == 12 + (*seq * 7 + *producer * 13) % 200;
}

inline mp::RingResult get_string(mp::RingHeader* ring, std::string* out, int64_t timeout_ns = -1) {
  return mp::ring_get(
      ring,
      [&](const char* p, size_t len, uint32_t) {
        out->assign(p, len);
        return true;
      },
      me(), timeout_ns);
}

inline mp::RingResult try_get_string(mp::RingHeader* ring, std::string* out) {
  return mp::ring_try_get(
      ring,
      [&](const char* p, size_t len, uint32_t) {
        out->assign(p, len);
        return true;
      },
      me());
}

}  // namespace ring_test
