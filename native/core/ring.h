// Ring: a bounded multi-producer multi-consumer queue of variable-length
// records in one shared segment -- the core of Queue, SimpleQueue,
// JoinableQueue and Pipe.
//
//   offset  0 +----------------------------+
//             | LockState lock       (16)  |  guards everything below (native/core/lock.h)
//          16 | WaitCell written      (8)  |  bumped after each put: consumers wait on it
//          24 | WaitCell freed        (8)  |  bumped after each get: producers wait on it
//          32 | u64 head              (8)  |  byte position of the oldest record
//          40 | u64 tail              (8)  |  byte position after the newest record
//          48 | u32 items             (4)  |
//          52 | u32 maxsize           (4)  |  Python's maxsize: 0 = no item limit
//          56 | u32 capacity          (4)  |  data bytes, a multiple of 8
//          60 | u32 shut down         (4)  |  puts refused, gets drain then fail
//          64 +----------------------------+
//             | data[capacity]             |  records: [u32 length][u32 tag][payload][pad to 8]
//             +----------------------------+
//
// head and tail only grow; a record's offset is position % capacity. A
// record never wraps: when it does not fit before the end, a wrap marker
// (tag kRingWrapTag) fills the rest and the record starts at offset 0 (an
// empty ring simply restarts at the next multiple of capacity). A record's
// tag is the caller's: JS keeps its encoding there (a string, bytes, a
// number...), so the payload stays 8-byte aligned and needs no prefix.
//
// Crash consistency: a process may be SIGKILLed at any instant. Each put
// writes its record beyond `tail` and then commits with one store of
// `tail`; each get copies the record out and then commits with one store of
// `head`. Both happen under the robust lock, whose next acquirer takes it
// over from a dead holder (lock.h) and recounts. So a survivor finds either
// the whole record or none of it: an item whose put returned is delivered
// exactly once, unless the process that took it out died with it. Waiters
// sleep in slices and retry, so a process that died between its commit and
// its wake-up cannot strand them.
//
// Distrust: any process of the same user can write into the segment. Every
// field read from it is bounded before use -- capacity against the mapping
// (by the caller, once), head and tail against each other and the capacity,
// each record's length against the room before the end and before tail --
// and a walk never takes more than capacity / 8 steps. What fails a check is
// corruption: the ring drops what it holds (nothing in it can be trusted),
// keeps working, and the operation reports kCorrupt with ring_fault() saying
// what was wrong.
//
// Waiting for the lock is bounded too: every operation takes the caller's
// deadline for it, so a holder that is stopped (SIGSTOP, a debugger) makes
// callers time out instead of blocking them (kBusy for a one-try call).
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "function_ref.h"
#include "lock.h"
#include "wait_cell.h"

namespace mp {

struct RingHeader {
  LockState lock;
  WaitCell written;
  WaitCell freed;
  std::atomic<uint64_t> head;
  std::atomic<uint64_t> tail;
  std::atomic<uint32_t> items;
  uint32_t maxsize;   // written once, before the ring is shared
  uint32_t capacity;  // likewise
  std::atomic<uint32_t> shut_down;
};
static_assert(sizeof(RingHeader) == 64, "RingHeader layout is shared with other processes");
static_assert(std::atomic<uint64_t>::is_always_lock_free, "cross-process atomics must be lock-free");

constexpr size_t kRingRecordHeader = 8;
constexpr uint32_t kRingWrapTag = 0xFFFFFFFF;  // reserved: every other tag is the caller's

// Fills a record's payload: called under the ring's lock with where its
// `len` bytes go (the ring's own memory: no intermediate copy).
using RecordWriter = FunctionRef<void(char* payload)>;
// Takes a record's payload out: called under the lock. The record is
// removed when it returns; it returns false for a record it cannot accept
// (a tag it does not know: the operation then reports kCorrupt); a record
// stays if it throws.
using RecordReader = FunctionRef<bool(const char* payload, size_t len, uint32_t tag)>;

enum class RingResult { kOk, kFull, kEmpty, kTooBig, kShutDown, kTimedOut, kBusy, kCorrupt };

// Bytes a segment needs for a ring of `capacity` data bytes (rounded up to 8).
size_t ring_segment_size(size_t capacity);

// Initializes a zero-filled segment of ring_segment_size(capacity) bytes.
void ring_init(void* segment, size_t capacity, uint32_t maxsize);

// The largest payload one record can hold (larger items need another path).
size_t ring_max_payload(const RingHeader* ring);

// Every operation takes `capacity`: the ring's data bytes as the caller
// checked them against its mapping when it opened the ring (0: read the
// header's). The header's field is shared memory that another process may
// scribble on at any moment; an operation uses the one value throughout.

// One try: appends one record of `len` payload bytes written by `write`, or
// says why not (kFull, kTooBig, kShutDown, kBusy when the lock stayed held
// for lock_ns, kCorrupt). tag: anything but kRingWrapTag. lock_ns 0: one CAS.
RingResult ring_try_put(RingHeader* ring, uint32_t tag, size_t len, RecordWriter write, Owner me, int64_t lock_ns = 0,
                        uint32_t capacity = 0);

// One try: removes the oldest record, handing it to `read` first. kEmpty,
// kShutDown once shut down and empty, kBusy, kCorrupt. `taken`, when given,
// is incremented under the lock before the record's removal is committed
// (JoinableQueue counts the items each consumer holds there).
RingResult ring_try_get(RingHeader* ring, RecordReader read, Owner me, int64_t lock_ns = 0,
                        std::atomic<uint32_t>* taken = nullptr, uint32_t capacity = 0);

// Blocking forms: wait (spin, then sleep) up to timeout_ns (< 0: forever)
// for the lock and for room or a record; kTimedOut when time ran out.
RingResult ring_put(RingHeader* ring, uint32_t tag, size_t len, RecordWriter write, Owner me, int64_t timeout_ns,
                    uint32_t capacity = 0);
RingResult ring_get(RingHeader* ring, RecordReader read, Owner me, int64_t timeout_ns,
                    std::atomic<uint32_t>* taken = nullptr, uint32_t capacity = 0);

// Byte-copying forms of the above (tag 0 on put).
RingResult ring_try_put(RingHeader* ring, const void* data, size_t len, Owner me);
RingResult ring_put(RingHeader* ring, const void* data, size_t len, Owner me, int64_t timeout_ns);

// Refuses further puts and wakes every waiter (no lock needed: a put that
// already passed its check still commits). With `immediate`, also drops
// what the ring holds, which needs the lock within timeout_ns: kTimedOut if
// it could not be had (the ring is shut down either way).
RingResult ring_shutdown(RingHeader* ring, Owner me, bool immediate, int64_t timeout_ns, uint32_t capacity = 0);

// If the ring's lock is held by a dead owner, takes it over, repairs the
// ring and releases it: true if it did. For callers that wait for the lock
// asynchronously (they never block in lock_acquire, which does this itself).
bool ring_recover(RingHeader* ring, Owner me, uint32_t capacity = 0);

uint32_t ring_items(const RingHeader* ring);

// What the last kCorrupt of this thread found (a static description).
const char* ring_fault();

}  // namespace mp
