// JS functions over native/core/ring.h: a ring lives at a byte offset inside
// a Segment (after the queue's own header). Here: ringInit, ringOpen (the
// handle), ringShutdown, ringRecover and the queue's ERR_MP_CORRUPT; the hot
// ringPut and ringGet are in ring_io.cc.
//
// The ring's calls are the hottest in the addon (one per queue put or get),
// so the ring is reached through an External made once by ringOpen
// (napi_unwrap and the type-tag check cost ~60 % of a call): ring_handle.h.
#include <napi.h>

#include "../core/ring.h"
#include "../core/shm.h"
#include "addon.h"
#include "errors.h"
#include "ring_handle.h"
#include "segment.h"

namespace mp::glue {

using namespace ring_handle;

namespace ring_handle {

// A truncated segment reads as zeros from the fault on, so that is said
// first.
Napi::Error corrupt(Napi::Env env, const Segment* seg, const std::string& what) {
  const std::string& name = seg->name();
  std::string shown = !name.empty() && name[0] == '/' ? name.substr(1) : name;
  if (shm_truncated(seg->mapping())) {
    return coded_error(env, "ERR_MP_CORRUPT",
                       "the queue in segment '" + shown + "' was truncated by another process: what it held is lost");
  }
  return coded_error(
      env, "ERR_MP_CORRUPT",
      "the queue in segment '" + shown + "' was corrupted by a write from outside multiproc (" + what + ")");
}

}  // namespace ring_handle

namespace {

Segment* segment_arg(const Napi::CallbackInfo& info) {
  Segment* seg = Segment::from(info[0]);
  if (!seg) throw type_error(info.Env(), "the first argument must be a Segment");
  if (!seg->mapping().addr) throw coded_error(info.Env(), "ERR_MP_CLOSED", "the queue's segment is closed");
  return seg;
}

}  // namespace

// ringInit(segment, offset, capacity, maxsize)
Napi::Value ring_init_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Segment* seg = segment_arg(info);
  double off = arg_number(info, 1, "offset");
  if (!(off >= 0) || uint64_t(off) % 64 != 0) throw range_error(env, "ring offset must be a multiple of 64");
  double capacity = arg_number(info, 2, "capacity");
  double maxsize = arg_number(info, 3, "maxsize");
  if (capacity < 64 || capacity > 0xFFFFFFF0 ||
      uint64_t(off) + ring_segment_size(size_t(capacity)) > seg->mapping().size) {
    throw range_error(env, "ring capacity does not fit the segment");
  }
  ring_init(static_cast<char*>(seg->mapping().addr) + uint64_t(off), size_t(capacity), uint32_t(maxsize));
  return env.Undefined();
}

// ringOpen(segment, offset, result: Int32Array(2)) -> ring handle
Napi::Value ring_open_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Segment* seg = segment_arg(info);
  const Mapping& m = seg->mapping();
  double off = arg_number(info, 1, "offset");
  if (!(off >= 0) || uint64_t(off) % 64 != 0 || uint64_t(off) + sizeof(RingHeader) > m.size) {
    throw range_error(env, "ring offset must be a multiple of 64 inside the segment");
  }
  auto* ring = reinterpret_cast<RingHeader*>(static_cast<char*>(m.addr) + uint64_t(off));
  // The capacity lives in shared memory: checked against the mapping here,
  // and on every call against what was checked here.
  if (ring->capacity == 0 || ring->capacity % 8 != 0 || uint64_t(off) + ring_segment_size(ring->capacity) > m.size) {
    throw coded_error(env, "ERR_MP_CORRUPT", "the queue's ring header does not fit its segment");
  }
  if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      info[2].As<Napi::Int32Array>().ElementLength() < 2) {
    throw type_error(env, "result must be an Int32Array of 2 elements");
  }
  Napi::Int32Array result = info[2].As<Napi::Int32Array>();
  auto* ref = new RingRef{Napi::Persistent(info[0].As<Napi::Object>()),
                          seg,
                          size_t(off),
                          ring->capacity,
                          Napi::Persistent(result),
                          result.Data(),
                          shm_truncated_flag(m),
                          current_owner()};
  return Napi::External<RingRef>::New(env, ref, [](Napi::Env, RingRef* r) { delete r; });
}

// ringShutdown(ring, immediate, timeoutMs) -> status (ok, or timed out when
// `immediate` could not get the lock to drop the contents).
Napi::Value ring_shutdown_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RingRef& ref = ref_of(info);
  RingHeader* ring = ring_of(info, ref);
  RingResult r = ring_shutdown(ring, ref.owner, info[1].ToBoolean(), arg_timeout_ns(info, 2), ref.capacity);
  return Napi::Number::New(env, status_of(env, ref.segment, r));
}

// ringRecover(ring) -> whether a dead holder's lock was taken over (and the ring repaired).
Napi::Value ring_recover_js(const Napi::CallbackInfo& info) {
  RingRef& ref = ref_of(info);
  return Napi::Boolean::New(info.Env(), ring_recover(ring_of(info, ref), ref.owner, ref.capacity));
}

}  // namespace mp::glue
