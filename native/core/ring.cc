// The ring's operations (ring.h): its lock, one-try and blocking puts and
// gets, and shutdown. The checks of what shared memory says and the repairs
// after a dead lock holder are in ring_repair.cc.
#include "ring.h"

#include <cstring>

#include "futex.h"
#include "ring_internal.h"

namespace mp {

using namespace ring_internal;

namespace {

// Waiters re-check at least this often: a process that died between its
// commit and its wake-up must not strand them.
constexpr int64_t kRetrySliceNs = 20'000'000;

// The ring's lock: the same robust lock as Lock/RLock, held for at most
// lock_ns of waiting (0: one CAS, < 0: forever). kCorrupt: taken over from a
// dead holder, and the repair found the ring corrupt (and emptied it).
enum class Locked { kNo, kYes, kCorrupt };

Locked lock(RingHeader* ring, uint64_t cap, Owner me, int64_t lock_ns) {
  if (lock_try(&ring->lock, me)) return Locked::kYes;
  if (lock_ns == 0) return Locked::kNo;
  // Waits shorter than a millisecond come from the async paths, which call
  // ring_recover after a slice without progress.
  const Liveness liveness = lock_ns > 0 && lock_ns < 1'000'000 ? Liveness::kSlicesOnly : Liveness::kAtDeadline;
  switch (lock_acquire(&ring->lock, me, lock_ns, liveness)) {
    case LockResult::kAcquired:
      return Locked::kYes;
    case LockResult::kOwnerDied:
      return repair(ring, cap) ? Locked::kYes : Locked::kCorrupt;
    case LockResult::kTimedOut:
      return Locked::kNo;
  }
  return Locked::kNo;
}

RingResult corrupt(RingHeader* ring) {
  drop_everything(ring);
  unlock(ring);
  bump(&ring->freed);
  return RingResult::kCorrupt;
}

// The lock for a one-try put or get: kOk when it is held, else what the
// operation reports -- kBusy (not had within lock_ns), or kCorrupt (taken
// over from a dead holder, and the ring was found corrupt: it was emptied
// and the lock is released again).
RingResult lock_for_operation(RingHeader* ring, uint64_t cap, Owner me, int64_t lock_ns) {
  switch (lock(ring, cap, me, lock_ns)) {
    case Locked::kNo:
      return RingResult::kBusy;
    case Locked::kCorrupt:
      return corrupt(ring);
    case Locked::kYes:
      break;
  }
  return RingResult::kOk;
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

RingResult ring_try_put(RingHeader* ring, uint32_t tag, size_t len, RecordWriter write, Owner me, int64_t lock_ns,
                        uint32_t capacity) {
  const uint64_t cap = capacity_for(ring, capacity);
  const uint64_t size = kRingRecordHeader + padded(len);
  if (size > cap) return RingResult::kTooBig;
  // Shut down for good: say so without the lock (which a stopped process
  // may hold); checked again under it for a shutdown that comes meanwhile.
  if (ring->shut_down.load(std::memory_order_relaxed)) return RingResult::kShutDown;
  if (RingResult r = lock_for_operation(ring, cap, me, lock_ns); r != RingResult::kOk) return r;
  if (ring->shut_down) {
    unlock(ring);
    return RingResult::kShutDown;
  }
  uint64_t head = ring->head;
  uint64_t tail = ring->tail;
  if (!positions_ok(cap, head, tail)) return corrupt(ring);
  // A count no ring of this size can hold: recount before trusting it.
  if (ring->items > cap / kRingRecordHeader && !recount(ring, cap)) {
    unlock(ring);
    bump(&ring->freed);
    return RingResult::kCorrupt;
  }
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

RingResult ring_try_get(RingHeader* ring, RecordReader read, Owner me, int64_t lock_ns, std::atomic<uint32_t>* taken,
                        uint32_t capacity) {
  const uint64_t cap = capacity_for(ring, capacity);
  if (RingResult r = lock_for_operation(ring, cap, me, lock_ns); r != RingResult::kOk) return r;
  const uint64_t head = ring->head;
  const uint64_t tail = ring->tail;
  if (!positions_ok(cap, head, tail)) return corrupt(ring);
  if (head == tail) {
    RingResult r = ring->shut_down ? RingResult::kShutDown : RingResult::kEmpty;
    unlock(ring);
    return r;
  }
  Record rec;
  if (!record_at(ring, cap, head, tail, &rec)) return corrupt(ring);
  bool accepted;
  try {
    accepted = read(data_of(ring) + rec.start % cap + kRingRecordHeader, rec.len, rec.tag);
  } catch (...) {
    unlock(ring);
    throw;
  }
  // The consumer's count first, then the ring's: an observer that reads
  // items and then the consumers' counts never misses an item in between.
  if (accepted && taken) taken->fetch_add(1);
  uint32_t items = ring->items.load();
  ring->items.store(items > 0 ? items - 1 : 0);
  ring->head.store(rec.next);          // the commit
  if (items == 0) recount(ring, cap);  // the count was wrong: make it right
  unlock(ring);
  bump(&ring->freed);
  if (!accepted) {
    set_fault("a record at byte %llu has tag %u, which no multiproc writes", (unsigned long long)rec.start, rec.tag);
    return RingResult::kCorrupt;
  }
  return RingResult::kOk;
}

namespace {

// Waits on `cell` (which moves when the other side commits) until try_op
// stops answering `busy`, in slices so that a dead committer cannot strand
// us. try_op gets how long it may wait for the ring's lock: what is left of
// the deadline, so a stopped lock holder makes the call time out too.
template <typename Op>
RingResult blocking(WaitCell* cell, RingResult busy, int64_t timeout_ns, Op try_op) {
  const int64_t deadline = timeout_ns < 0 ? -1 : monotonic_ns() + timeout_ns;
  bool first = true;
  for (;;) {
    uint32_t seen = cell->value.load();
    int64_t left = -1;
    if (deadline >= 0) {
      left = deadline - monotonic_ns();
      if (left < 0) left = 0;
    }
    RingResult r = try_op(left);
    if (r == RingResult::kBusy) {
      if (deadline >= 0 && monotonic_ns() >= deadline) return RingResult::kTimedOut;
      continue;  // the lock wait ended early (it cannot, without a deadline): try again
    }
    if (r != busy) return r;
    int64_t slice = kRetrySliceNs;
    if (deadline >= 0) {
      left = deadline - monotonic_ns();
      if (left <= 0) return RingResult::kTimedOut;
      if (left < slice) slice = left;
    }
    wait_while_equal(cell, seen, slice, first);
    first = false;
  }
}

}  // namespace

RingResult ring_put(RingHeader* ring, uint32_t tag, size_t len, RecordWriter write, Owner me, int64_t timeout_ns,
                    uint32_t capacity) {
  return blocking(&ring->freed, RingResult::kFull, timeout_ns,
                  [&](int64_t lock_ns) { return ring_try_put(ring, tag, len, write, me, lock_ns, capacity); });
}

RingResult ring_get(RingHeader* ring, RecordReader read, Owner me, int64_t timeout_ns, std::atomic<uint32_t>* taken,
                    uint32_t capacity) {
  return blocking(&ring->written, RingResult::kEmpty, timeout_ns,
                  [&](int64_t lock_ns) { return ring_try_get(ring, read, me, lock_ns, taken, capacity); });
}

RingResult ring_try_put(RingHeader* ring, const void* data, size_t len, Owner me) {
  return ring_try_put(
      ring, 0, len, [&](char* payload) { std::memcpy(payload, data, len); }, me);
}

RingResult ring_put(RingHeader* ring, const void* data, size_t len, Owner me, int64_t timeout_ns) {
  return ring_put(
      ring, 0, len, [&](char* payload) { std::memcpy(payload, data, len); }, me, timeout_ns);
}

RingResult ring_shutdown(RingHeader* ring, Owner me, bool immediate, int64_t timeout_ns, uint32_t capacity) {
  ring->shut_down.store(1);
  RingResult r = RingResult::kOk;
  if (immediate) {
    if (lock(ring, capacity_for(ring, capacity), me, timeout_ns) != Locked::kNo) {
      drop_everything(ring);
      unlock(ring);
    } else {
      r = RingResult::kTimedOut;
    }
  }
  bump(&ring->written);
  bump(&ring->freed);
  return r;
}

}  // namespace mp
