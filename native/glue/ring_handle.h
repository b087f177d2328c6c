// The glue's ring handle (what ringOpen hands to JS) and what every ring
// call does with it: internal, shared by ring.cc and ring_io.cc and included
// nowhere else. The accessors are inline: they run on every queue put and get.
#pragma once
#include <napi.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "../core/ring.h"
#include "errors.h"
#include "ring_codes.h"
#include "segment.h"

namespace mp::glue::ring_handle {

// ERR_MP_CORRUPT for a queue whose segment another process wrote into --
// or shrank (ring.cc).
Napi::Error corrupt(Napi::Env env, const Segment* seg, const std::string& what);

inline int status_of(Napi::Env env, const Segment* seg, RingResult r) {
  switch (r) {
    case RingResult::kOk:
      return kOk;
    case RingResult::kFull:
      return kFull;
    case RingResult::kEmpty:
      return kEmpty;
    case RingResult::kTooBig:
      return kTooBig;
    case RingResult::kShutDown:
      return kShutDown;
    case RingResult::kTimedOut:
      return kTimedOut;
    case RingResult::kBusy:
      return kBusy;
    case RingResult::kCorrupt:
      break;
  }
  throw corrupt(env, seg, std::string(ring_fault()) + "; what it held was discarded");
}

// What ringOpen hands to JS. The references keep the mapping (through its
// Segment) and the result words alive as long as the handle.
struct RingRef {
  Napi::ObjectReference segment_ref;
  Segment* segment;
  size_t offset;
  uint32_t capacity;  // as checked against the mapping by ringOpen
  Napi::Reference<Napi::Int32Array> result_ref;
  int32_t* result;  // [status, tag] of the last get
  // Read on every call, so kept here: the mapping's truncated flag (shm.h),
  // and who this thread is -- a handle is used only by the JS thread that
  // opened it (an External belongs to one isolate).
  const std::atomic<uint32_t>* truncated;
  Owner owner;
};

inline RingRef& ref_of(const Napi::CallbackInfo& info) {
  napi_value v = info[0];
  void* data = nullptr;
  if (napi_get_value_external(info.Env(), v, &data) != napi_ok || data == nullptr) {
    throw type_error(info.Env(), "the first argument must be a ring handle from ringOpen");
  }
  return *static_cast<RingRef*>(data);
}

inline RingHeader* ring_of(const Napi::CallbackInfo& info, RingRef& ref) {
  void* base = ref.segment->mapping().addr;
  if (!base) throw coded_error(info.Env(), "ERR_MP_CLOSED", "the queue's segment is closed");
  if (ref.truncated && ref.truncated->load(std::memory_order_relaxed)) ref.segment->check_intact(info.Env());
  auto* ring = reinterpret_cast<RingHeader*>(static_cast<char*>(base) + ref.offset);
  // The capacity lives in shared memory, where any process could scribble:
  // never trust it beyond what ringOpen checked against the mapping. The
  // operations work with ref.capacity (the header may change after this
  // check); a header that says otherwise is reported here.
  if (ring->capacity != ref.capacity) {
    throw corrupt(
        info.Env(), ref.segment,
        "its capacity changed from " + std::to_string(ref.capacity) + " to " + std::to_string(ring->capacity));
  }
  return ring;
}

}  // namespace mp::glue::ring_handle
