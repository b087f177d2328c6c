#include "ring.h"

#include <climits>
#include <cstdio>
#include <cstring>

#include "futex.h"

namespace mp {

namespace {

// Waiters re-check at least this often: a process that died between its
// commit and its wake-up must not strand them.
constexpr int64_t kRetrySliceNs = 20'000'000;

thread_local char g_fault[256];

size_t padded(size_t n) { return (n + 7) & ~size_t(7); }

char* data_of(RingHeader* ring) { return reinterpret_cast<char*>(ring) + sizeof(RingHeader); }

// The capacity an operation works with, read once: the caller's, checked
// against its mapping (a scribbler may change the header's at any moment,
// to 0 or past the mapping), or else the header's.
uint64_t capacity_for(const RingHeader* ring, uint32_t trusted) { return trusted != 0 ? trusted : ring->capacity; }

// ---- Checks of what shared memory says ---------------------------------------

// Whether head and tail can be those of a ring of `cap` bytes. False (with
// g_fault set) when they cannot.
bool positions_ok(uint64_t cap, uint64_t head, uint64_t tail) {
  if (cap != 0 && cap % 8 == 0 && head % 8 == 0 && tail % 8 == 0 && head <= tail && tail - head <= cap) return true;
  std::snprintf(g_fault, sizeof g_fault, "head %llu and tail %llu do not fit a ring of %llu bytes",
                (unsigned long long)head, (unsigned long long)tail, (unsigned long long)cap);
  return false;
}

struct Record {
  uint64_t start;  // position of the record's header (after any wrap marker)
  uint64_t next;   // position after it
  uint32_t len;
  uint32_t tag;
};

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
      std::snprintf(g_fault, sizeof g_fault, "a wrap marker at byte %llu does not lead to a record (tail %llu)",
                    (unsigned long long)pos, (unsigned long long)tail);
      return false;
    }
    pos = next;
    off = 0;
    std::memcpy(header, base, sizeof header);
    if (header[1] == kRingWrapTag) {
      std::snprintf(g_fault, sizeof g_fault, "two wrap markers in a row at byte %llu", (unsigned long long)pos);
      return false;
    }
  }
  uint64_t len = header[0];
  if (len > cap - off - kRingRecordHeader || pos + kRingRecordHeader + padded(len) > tail) {
    std::snprintf(g_fault, sizeof g_fault,
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

void unlock(RingHeader* ring) { lock_release(&ring->lock); }

void bump(WaitCell* cell) {
  cell->value.fetch_add(1);
  wake(cell, INT_MAX);
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

const char* ring_fault() { return g_fault; }

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
    std::snprintf(g_fault, sizeof g_fault, "a record at byte %llu has tag %u, which no multiproc writes",
                  (unsigned long long)rec.start, rec.tag);
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
