// What ring.cc and ring_repair.cc share, and no other file includes: small
// helpers over the ring's layout (ring.h), and the checks and repairs of
// ring_repair.cc with the fault they leave for ring_fault().
#pragma once
#include <climits>
#include <cstddef>
#include <cstdint>

#include "lock.h"
#include "ring.h"
#include "wait_cell.h"

namespace mp::ring_internal {

inline size_t padded(size_t n) { return (n + 7) & ~size_t(7); }

inline char* data_of(RingHeader* ring) { return reinterpret_cast<char*>(ring) + sizeof(RingHeader); }

// The capacity an operation works with, read once: the caller's, checked
// against its mapping (a scribbler may change the header's at any moment,
// to 0 or past the mapping), or else the header's.
inline uint64_t capacity_for(const RingHeader* ring, uint32_t trusted) {
  return trusted != 0 ? trusted : ring->capacity;
}

inline void unlock(RingHeader* ring) { lock_release(&ring->lock); }

inline void bump(WaitCell* cell) {
  cell->value.fetch_add(1);
  wake(cell, INT_MAX);
}

// ---- Checks of what shared memory says, and repairs (ring_repair.cc) -------------

// Says what the last kCorrupt of this thread found (what ring_fault() returns):
// printf's format, cut to the fault's 255 bytes.
void set_fault(const char* format, ...) __attribute__((format(printf, 1, 2)));

// Whether head and tail can be those of a ring of `cap` bytes. False (with
// the fault set) when they cannot.
inline bool positions_ok(uint64_t cap, uint64_t head, uint64_t tail) {
  if (cap != 0 && cap % 8 == 0 && head % 8 == 0 && tail % 8 == 0 && head <= tail && tail - head <= cap) return true;
  set_fault("head %llu and tail %llu do not fit a ring of %llu bytes", (unsigned long long)head,
            (unsigned long long)tail, (unsigned long long)cap);
  return false;
}

struct Record {
  uint64_t start;  // position of the record's header (after any wrap marker)
  uint64_t next;   // position after it
  uint32_t len;
  uint32_t tag;
};

// The record at `pos` (< tail), checked: false (with the fault set) when
// what the ring says cannot be.
bool record_at(RingHeader* ring, uint64_t cap, uint64_t pos, uint64_t tail, Record* r);

// Empties a ring whose contents cannot be trusted (with the lock held).
void drop_everything(RingHeader* ring);

// Recounts the records: false when that found corruption (then everything
// was dropped).
bool recount(RingHeader* ring, uint64_t cap);

// Repairs a ring whose lock holder died mid-operation, then recounts: false
// when that found corruption (then everything was dropped).
bool repair(RingHeader* ring, uint64_t cap);

}  // namespace mp::ring_internal
