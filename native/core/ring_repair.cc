// The ring's distrust and repairs (ring.h, "Crash consistency" and
// "Distrust"): the checks of the records shared memory holds, the emptying
// of a ring found corrupt, the repair after a lock holder died, and
// ring_recover. What the checks found is this thread's fault, ring_fault().
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "ring.h"
#include "ring_internal.h"

namespace mp {

namespace {

thread_local char g_fault[256];

}  // namespace

namespace ring_internal {

void set_fault(const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::vsnprintf(g_fault, sizeof g_fault, format, args);
  va_end(args);
}

// The record at `pos` (< tail), checked against the capacity and `tail`.
// False (with g_fault set) when what the ring says cannot be.
bool record_at(RingHeader* ring, uint64_t cap, uint64_t pos, uint64_t tail, Record* r) {
  const char* base = data_of(ring);
  uint32_t header[2];
  uint64_t off = pos % cap;  // a multiple of 8 below cap: the header fits
  std::memcpy(header, base + off, sizeof header);
  if (header[1] == kRingWrapTag) {
    uint64_t next = pos + (cap - off);
    if (off == 0 || next >= tail) {
      set_fault("a wrap marker at byte %llu does not lead to a record (tail %llu)", (unsigned long long)pos,
                (unsigned long long)tail);
      return false;
    }
    pos = next;
    off = 0;
    std::memcpy(header, base, sizeof header);
    if (header[1] == kRingWrapTag) {
      set_fault("two wrap markers in a row at byte %llu", (unsigned long long)pos);
      return false;
    }
  }
  uint64_t len = header[0];
  if (len > cap - off - kRingRecordHeader || pos + kRingRecordHeader + padded(len) > tail) {
    set_fault(
        "a record at byte %llu says it is %llu bytes long, more than the ring holds there "
        "(capacity %llu, tail %llu)",
        (unsigned long long)pos, (unsigned long long)len, (unsigned long long)cap, (unsigned long long)tail);
    return false;
  }
  *r = Record{pos, pos + kRingRecordHeader + padded(len), uint32_t(len), header[1]};
  return true;
}

// What the ring held cannot be trusted: drop it all and go on empty. Called
// with the lock held; g_fault says why.
void drop_everything(RingHeader* ring) {
  uint64_t tail = ring->tail.load() & ~uint64_t(7);
  ring->tail.store(tail);
  ring->head.store(tail);
  ring->items.store(0);
}

// Walks the records from head to tail and recounts them. False when the
// walk finds corruption (then everything was dropped).
bool recount(RingHeader* ring, uint64_t cap) {
  uint64_t head = ring->head.load();
  const uint64_t tail = ring->tail.load();
  if (!positions_ok(cap, head, tail)) {
    drop_everything(ring);
    return false;
  }
  uint32_t n = 0;
  // Every step advances at least 8 bytes and stays below tail <= head + cap.
  for (uint64_t pos = head; pos < tail;) {
    Record r;
    if (!record_at(ring, cap, pos, tail, &r)) {
      drop_everything(ring);
      return false;
    }
    n++;
    pos = r.next;
  }
  ring->items.store(n);
  return true;
}

// After a holder died mid-operation: the records between head and tail are
// whole (each became visible only through its commit store), but the holder
// may have died between two stores of its own -- items updated before the
// commit, or head moved before tail on an empty ring's restart. Recount.
bool repair(RingHeader* ring, uint64_t cap) {
  uint64_t head = ring->head.load();
  const uint64_t tail = ring->tail.load();
  if (head > tail && head - tail <= cap) ring->head.store(tail);
  return recount(ring, cap);
}

}  // namespace ring_internal

using namespace ring_internal;

const char* ring_fault() { return g_fault; }

bool ring_recover(RingHeader* ring, Owner me, uint32_t capacity) {
  uint32_t owner = ring->lock.cell.value.load();
  if (owner == 0 || !lock_take_if_owner_dead(&ring->lock, owner, me)) return false;
  repair(ring, capacity_for(ring, capacity));
  unlock(ring);
  bump(&ring->written);
  bump(&ring->freed);
  return true;
}

}  // namespace mp
