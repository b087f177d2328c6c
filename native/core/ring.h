// Ring: a bounded multi-producer multi-consumer queue of variable-length
// records in one shared segment -- the core of Queue, SimpleQueue,
// JoinableQueue and Pipe.
//
//   offset  0 +----------------------------+
//             | LockState lock       (16)  |  guards everything below (native/core/lock.h):
//          16 | WaitCell written      (8)  |  bumped after each put: consumers wait on it
//          24 | WaitCell freed        (8)  |  bumped after each get: producers wait on it
//          32 | u64 head              (8)  |  byte position of the oldest record
//          40 | u64 tail              (8)  |  byte position after the newest record
//          48 | u32 items             (4)  |
//          52 | u32 maxsize           (4)  |  Python's maxsize: 0 = no item limit
//          56 | u32 capacity          (4)  |  data bytes, a multiple of 8
//          60 | u32 closed            (4)  |
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
// over from a dead holder (lock.h). So a survivor finds either the whole
// record or none of it: an item whose put returned is delivered exactly
// once, unless the process that took it out died with it. Waiters sleep in
// slices and retry, so a process that died between its commit and its wake
// cannot strand them.
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
  std::atomic<uint32_t> closed;
};
static_assert(sizeof(RingHeader) == 64, "RingHeader layout is shared with other processes");
static_assert(std::atomic<uint64_t>::is_always_lock_free, "cross-process atomics must be lock-free");

constexpr size_t kRingRecordHeader = 8;
constexpr uint32_t kRingWrapTag = 0xFFFFFFFF;  // reserved: every other tag is the caller's

// Fills a record's payload: called under the ring's lock with where its
// `len` bytes go (the ring's own memory: no intermediate copy).
using RecordWriter = FunctionRef<void(char* payload)>;
// Takes a record's payload out: called under the lock; the record is removed
// when it returns, and stays if it throws.
using RecordReader = FunctionRef<void(const char* payload, size_t len, uint32_t tag)>;

enum class RingResult { kOk, kFull, kEmpty, kTooBig, kClosed, kTimedOut };

// Bytes a segment needs for a ring of `capacity` data bytes (rounded up to 8).
size_t ring_segment_size(size_t capacity);

// Initializes a zero-filled segment of ring_segment_size(capacity) bytes.
void ring_init(void* segment, size_t capacity, uint32_t maxsize);

// The largest payload one record can hold (larger items need another path).
size_t ring_max_payload(const RingHeader* ring);

// Appends one record of `len` payload bytes written by `write`, or says why
// not (kFull, kTooBig, kClosed). tag: anything but kRingWrapTag. tid: this
// thread's id, for the lock.
RingResult ring_try_put(RingHeader* ring, uint32_t tag, size_t len, RecordWriter write, uint32_t tid);

// Removes the oldest record, handing it to `read` first. kEmpty, or kClosed
// once closed and empty.
RingResult ring_try_get(RingHeader* ring, RecordReader read, uint32_t tid);

// Blocking forms: wait (spin, then sleep) up to timeout_ns (< 0: forever)
// for room or for a record; kTimedOut when it ran out.
RingResult ring_put(RingHeader* ring, uint32_t tag, size_t len, RecordWriter write, uint32_t tid, int64_t timeout_ns);
RingResult ring_get(RingHeader* ring, RecordReader read, uint32_t tid, int64_t timeout_ns);

// Byte-copying forms of the above (tag 0 on put).
RingResult ring_try_put(RingHeader* ring, const void* data, size_t len, uint32_t tid);
RingResult ring_put(RingHeader* ring, const void* data, size_t len, uint32_t tid, int64_t timeout_ns);

// Refuses further puts and wakes every waiter; gets drain what is left.
void ring_close(RingHeader* ring, uint32_t tid);

uint32_t ring_items(const RingHeader* ring);

}  // namespace mp
