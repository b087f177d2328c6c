#include "ring.h"

#include <climits>
#include <cstring>

#include "futex.h"

namespace mp {

namespace {

// Waiters re-check at least this often: a process that died between its
// commit and its wake-up must not strand them.
constexpr int64_t kRetrySliceNs = 20'000'000;

size_t padded(size_t n) { return (n + 7) & ~size_t(7); }


char* data_of(RingHeader* ring) { return reinterpret_cast<char*>(ring) + sizeof(RingHeader); }

// After a holder died mid-operation: the records between head and tail are
// whole (each became visible only through its commit store), but the holder
// may have died between two stores of its own -- items updated before the
// commit, or head moved before tail on an empty ring's restart. Recount.
void repair(RingHeader* ring) {
  const uint64_t cap = ring->capacity;
  uint64_t head = ring->head.load();
  const uint64_t tail = ring->tail.load();
  if (head > tail) ring->head.store(head = tail);
  const char* base = reinterpret_cast<const char*>(ring) + sizeof(RingHeader);
  uint32_t n = 0;
  for (uint64_t pos = head; pos < tail;) {
    uint32_t header[2];
    std::memcpy(header, base + pos % cap, sizeof header);
    if (header[1] == kRingWrapTag) {
      pos += cap - pos % cap;
    } else {
      n++;
      pos += kRingRecordHeader + padded(header[0]);
    }
  }
  ring->items.store(n);
}

// The ring's lock: the same robust lock as Lock/RLock.
void lock(RingHeader* ring, uint32_t tid) {
  uint32_t expected = 0;
  if (ring->lock.cell.value.compare_exchange_strong(expected, tid)) return;
  if (lock_acquire(&ring->lock, tid, -1) == LockResult::kOwnerDied) repair(ring);
}

void unlock(RingHeader* ring) {
  ring->lock.cell.value.store(0);
  wake(&ring->lock.cell, 1);
}

void bump(WaitCell* cell) {
  cell->value.fetch_add(1);
  wake(cell, INT_MAX);
}

}  // namespace

size_t ring_segment_size(size_t capacity) { return sizeof(RingHeader) + padded(capacity); }

void ring_init(void* segment, size_t capacity, uint32_t maxsize) {
  auto* ring = static_cast<RingHeader*>(segment);
  ring->capacity = uint32_t(padded(capacity));
  ring->maxsize = maxsize;
}

size_t ring_max_payload(const RingHeader* ring) { return ring->capacity - kRingRecordHeader; }

uint32_t ring_items(const RingHeader* ring) { return ring->items.load(); }

RingResult ring_try_put(RingHeader* ring, uint32_t tag, size_t len, RecordWriter write, uint32_t tid) {
  const uint64_t cap = ring->capacity;
  const uint64_t size = kRingRecordHeader + padded(len);
  if (size > cap) return RingResult::kTooBig;
  lock(ring, tid);
  if (ring->closed) {
    unlock(ring);
    return RingResult::kClosed;
  }
  uint64_t head = ring->head;
  uint64_t tail = ring->tail;
  if (ring->maxsize != 0 && ring->items >= ring->maxsize) {
    unlock(ring);
    return RingResult::kFull;
  }
  uint64_t offset = tail % cap;
  uint64_t skip = 0;  // bytes of a wrap marker before the record
  if (offset + size > cap) {
    if (head == tail) {
      // Empty: restart both at the next lap instead of wrapping.
      head = tail = tail - offset + cap;
      ring->head.store(head);
      offset = 0;
    } else {
      skip = cap - offset;
    }
  }
  if ((tail - head) + skip + size > cap) {
    unlock(ring);
    return RingResult::kFull;
  }
  char* base = data_of(ring);
  if (skip) {
    uint32_t marker[2] = {0, kRingWrapTag};
    std::memcpy(base + offset, marker, sizeof marker);
    offset = 0;
  }
  uint32_t header[2] = {uint32_t(len), tag};
  std::memcpy(base + offset, header, sizeof header);
  // A writer that throws leaves nothing behind: the commit below is skipped.
  try {
    write(base + offset + kRingRecordHeader);
  } catch (...) {
    unlock(ring);
    throw;
  }
  ring->items.fetch_add(1);
  ring->tail.store(tail + skip + size);  // the commit
  unlock(ring);
  bump(&ring->written);
  return RingResult::kOk;
}

RingResult ring_try_get(RingHeader* ring, RecordReader read, uint32_t tid) {
  const uint64_t cap = ring->capacity;
  lock(ring, tid);
  uint64_t head = ring->head;
  if (head == ring->tail) {
    RingResult r = ring->closed ? RingResult::kClosed : RingResult::kEmpty;
    unlock(ring);
    return r;
  }
  char* base = data_of(ring);
  uint32_t header[2];
  std::memcpy(header, base + head % cap, sizeof header);
  if (header[1] == kRingWrapTag) {
    head += cap - head % cap;
    std::memcpy(header, base, sizeof header);
  }
  const size_t len = header[0];
  try {
    read(base + head % cap + kRingRecordHeader, len, header[1]);
  } catch (...) {
    unlock(ring);
    throw;
  }
  ring->items.fetch_sub(1);
  ring->head.store(head + kRingRecordHeader + padded(len));  // the commit
  unlock(ring);
  bump(&ring->freed);
  return RingResult::kOk;
}

namespace {

// Waits on `cell` (which moves when the other side commits) until try_op
// stops answering `busy`, in slices so that a dead committer cannot strand us.
template <typename Op>
RingResult blocking(WaitCell* cell, RingResult busy, int64_t timeout_ns, Op try_op) {
  int64_t deadline = timeout_ns < 0 ? -1 : monotonic_ns() + timeout_ns;
  bool first = true;
  for (;;) {
    uint32_t seen = cell->value.load();
    RingResult r = try_op();
    if (r != busy) return r;
    int64_t slice = kRetrySliceNs;
    if (deadline >= 0) {
      int64_t left = deadline - monotonic_ns();
      if (left <= 0) return RingResult::kTimedOut;
      if (left < slice) slice = left;
    }
    wait_while_equal(cell, seen, slice, first);
    first = false;
  }
}

}  // namespace

RingResult ring_put(RingHeader* ring, uint32_t tag, size_t len, RecordWriter write, uint32_t tid, int64_t timeout_ns) {
  return blocking(&ring->freed, RingResult::kFull, timeout_ns, [&] { return ring_try_put(ring, tag, len, write, tid); });
}

RingResult ring_get(RingHeader* ring, RecordReader read, uint32_t tid, int64_t timeout_ns) {
  return blocking(&ring->written, RingResult::kEmpty, timeout_ns, [&] { return ring_try_get(ring, read, tid); });
}

RingResult ring_try_put(RingHeader* ring, const void* data, size_t len, uint32_t tid) {
  return ring_try_put(ring, 0, len, [&](char* payload) { std::memcpy(payload, data, len); }, tid);
}

RingResult ring_put(RingHeader* ring, const void* data, size_t len, uint32_t tid, int64_t timeout_ns) {
  return ring_put(ring, 0, len, [&](char* payload) { std::memcpy(payload, data, len); }, tid, timeout_ns);
}

void ring_close(RingHeader* ring, uint32_t tid) {
  lock(ring, tid);
  ring->closed.store(1);
  unlock(ring);
  bump(&ring->written);
  bump(&ring->freed);
}

}  // namespace mp
