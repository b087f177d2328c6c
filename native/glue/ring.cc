// JS functions over native/core/ring.h: a ring lives at a byte offset inside
// a Segment (after the queue's own header).
#include <napi.h>

#include "../core/ring.h"
#include "addon.h"
#include "errors.h"
#include "segment.h"

namespace mp::glue {

namespace {

// Status codes shared with ts/messaging/ring.ts.
enum Status { kOk = 0, kFull = 1, kEmpty = 2, kTooBig = 3, kClosed = 4, kTimedOut = 5 };

int status_of(RingResult r) {
  switch (r) {
    case RingResult::kOk: return kOk;
    case RingResult::kFull: return kFull;
    case RingResult::kEmpty: return kEmpty;
    case RingResult::kTooBig: return kTooBig;
    case RingResult::kClosed: return kClosed;
    case RingResult::kTimedOut: return kTimedOut;
  }
  return kOk;
}

Segment* segment_of(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Segment* seg = Segment::from(info[0]);
  if (!seg) throw type_error(env, "the first argument must be a Segment");
  if (!seg->mapping().addr) throw coded_error(env, "ERR_MP_CLOSED", "the queue's segment is closed");
  return seg;
}

RingHeader* ring_at(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Mapping& m = segment_of(info)->mapping();
  double off = arg_number(info, 1, "offset");
  if (!(off >= 0) || uint64_t(off) % 64 != 0 || uint64_t(off) + sizeof(RingHeader) > m.size) {
    throw range_error(env, "ring offset must be a multiple of 64 inside the segment");
  }
  auto* ring = reinterpret_cast<RingHeader*>(static_cast<char*>(m.addr) + uint64_t(off));
  // The capacity lives in shared memory: never trust it beyond the mapping.
  if (ring->capacity == 0 || uint64_t(off) + ring_segment_size(ring->capacity) > m.size) {
    throw coded_error(env, "ERR_MP_CORRUPT", "the queue's ring header does not fit its segment");
  }
  return ring;
}

std::function<void*(size_t)> allocator(Napi::Env env, Napi::Value* out) {
  return [env, out](size_t len) {
    Napi::Buffer<uint8_t> b = Napi::Buffer<uint8_t>::New(env, len);
    *out = b;
    return static_cast<void*>(b.Data());
  };
}

}  // namespace

// ringInit(segment, offset, capacity, maxsize)
Napi::Value ring_init_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Segment* seg = segment_of(info);
  double off = arg_number(info, 1, "offset");
  if (!(off >= 0) || uint64_t(off) % 64 != 0) throw range_error(env, "ring offset must be a multiple of 64");
  double capacity = arg_number(info, 2, "capacity");
  double maxsize = arg_number(info, 3, "maxsize");
  if (capacity < 64 || capacity > 0xFFFFFFF0 || uint64_t(off) + ring_segment_size(size_t(capacity)) > seg->mapping().size) {
    throw range_error(env, "ring capacity does not fit the segment");
  }
  ring_init(static_cast<char*>(seg->mapping().addr) + uint64_t(off), size_t(capacity), uint32_t(maxsize));
  return env.Undefined();
}

// ringPut(segment, offset, bytes, tid, timeoutMs) -> status; timeoutMs 0: try once.
Napi::Value ring_put_js(const Napi::CallbackInfo& info) {
  RingHeader* ring = ring_at(info);
  if (!info[2].IsTypedArray()) throw type_error(info.Env(), "bytes must be a Buffer or Uint8Array");
  Napi::Uint8Array bytes = info[2].As<Napi::Uint8Array>();
  uint32_t tid = info[3].ToNumber().Uint32Value();
  int64_t timeout = arg_timeout_ns(info, 4);
  RingResult r = timeout == 0 ? ring_try_put(ring, bytes.Data(), bytes.ByteLength(), tid)
                              : ring_put(ring, bytes.Data(), bytes.ByteLength(), tid, timeout);
  return Napi::Number::New(info.Env(), status_of(r));
}

// ringGet(segment, offset, tid, timeoutMs) -> Buffer | status; timeoutMs 0: try once.
Napi::Value ring_get_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RingHeader* ring = ring_at(info);
  uint32_t tid = info[2].ToNumber().Uint32Value();
  int64_t timeout = arg_timeout_ns(info, 3);
  Napi::Value out = env.Undefined();
  RingResult r = timeout == 0 ? ring_try_get(ring, allocator(env, &out), tid)
                              : ring_get(ring, allocator(env, &out), tid, timeout);
  if (r == RingResult::kOk) return out;
  return Napi::Number::New(env, status_of(r));
}

// ringClose(segment, offset, tid)
Napi::Value ring_close_js(const Napi::CallbackInfo& info) {
  RingHeader* ring = ring_at(info);
  ring_close(ring, info[2].ToNumber().Uint32Value());
  return info.Env().Undefined();
}

// ringMaxPayload(segment, offset) -> bytes one record can hold
Napi::Value ring_max_payload_js(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(ring_max_payload(ring_at(info))));
}

}  // namespace mp::glue
