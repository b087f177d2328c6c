// JS functions over native/core/ring.h: a ring lives at a byte offset inside
// a Segment (after the queue's own header).
//
// These are the hottest calls in the addon (one per queue put or get), so
// they avoid what costs most in Node-API: the ring is reached through an
// External made once by ringOpen (napi_unwrap and the type-tag check cost
// ~60 % of a call), the payload goes straight between JS values and the ring
// (a string is encoded into the ring and decoded out of it; no Buffer in
// between), and a get reports its status and tag through a small Int32Array
// instead of allocating a result object.
#include <napi.h>

#include <cmath>
#include <cstring>

#include "../core/ring.h"
#include "../core/shm.h"
#include "addon.h"
#include "errors.h"
#include "ring_codes.h"
#include "segment.h"

namespace mp::glue {

namespace {

// ERR_MP_CORRUPT for a queue whose segment another process wrote into --
// or shrank: a truncated segment reads as zeros from the fault on, so that
// is said first.
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

int status_of(Napi::Env env, const Segment* seg, RingResult r) {
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

Segment* segment_arg(const Napi::CallbackInfo& info) {
  Segment* seg = Segment::from(info[0]);
  if (!seg) throw type_error(info.Env(), "the first argument must be a Segment");
  if (!seg->mapping().addr) throw coded_error(info.Env(), "ERR_MP_CLOSED", "the queue's segment is closed");
  return seg;
}

RingRef& ref_of(const Napi::CallbackInfo& info) {
  napi_value v = info[0];
  void* data = nullptr;
  if (napi_get_value_external(info.Env(), v, &data) != napi_ok || data == nullptr) {
    throw type_error(info.Env(), "the first argument must be a ring handle from ringOpen");
  }
  return *static_cast<RingRef*>(data);
}

RingHeader* ring_of(const Napi::CallbackInfo& info, RingRef& ref) {
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

// A u32 counter at byte `offset` of the ring's segment (JoinableQueue's
// count of the items this consumer holds), or nullptr for undefined / -1.
std::atomic<uint32_t>* counter_at(const Napi::CallbackInfo& info, RingRef& ref, size_t i) {
  if (info.Length() <= i || info[i].IsUndefined()) return nullptr;
  double off = arg_number(info, i, "counter offset");
  if (off < 0) return nullptr;
  const Mapping& m = ref.segment->mapping();
  if (off != double(uint64_t(off)) || uint64_t(off) % 4 != 0 || uint64_t(off) + 4 > m.size) {
    throw range_error(info.Env(), "counter offset must be a multiple of 4 inside the segment");
  }
  return reinterpret_cast<std::atomic<uint32_t>*>(static_cast<char*>(m.addr) + uint64_t(off));
}

// How long a one-try call may wait for the ring's lock (ms; 0: one CAS).
int64_t lock_wait_ns(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || info[i].IsUndefined()) return 0;
  int64_t ns = arg_timeout_ns(info, i);
  return ns < 0 ? 0 : ns;
}

// A put's payload, seen before the lock is taken: its length and how to write it.
struct Payload {
  size_t len = 0;
  const void* bytes = nullptr;  // kBytes
  napi_value string = nullptr;  // kUtf8: encoded straight into the ring
  double number = 0;            // kFloat64
};

Payload payload_of(const Napi::CallbackInfo& info, uint32_t representation) {
  Napi::Env env = info.Env();
  Napi::Value v = info[2];
  Payload p;
  switch (representation) {
    case kUtf8: {
      if (!v.IsString()) throw type_error(env, "the value of a string record must be a string");
      p.string = v;
      size_t len = 0;
      NAPI_THROW_IF_FAILED(env, napi_get_value_string_utf8(env, v, nullptr, 0, &len), Payload());
      // napi_get_value_string_utf8 always writes a terminating NUL: the
      // record keeps room for it, and get drops it.
      p.len = len + 1;
      return p;
    }
    case kFloat64:
      if (!v.IsNumber()) throw type_error(env, "the value of a number record must be a number");
      p.number = v.As<Napi::Number>().DoubleValue();
      p.len = sizeof(double);
      return p;
    case kBytes:
      if (!v.IsTypedArray()) throw type_error(env, "the value of a bytes record must be a Buffer or Uint8Array");
      {
        Napi::Uint8Array bytes = v.As<Napi::Uint8Array>();
        p.bytes = bytes.Data();
        p.len = bytes.ByteLength();
      }
      return p;
  }
  throw range_error(env, "unknown record representation");
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

// ringPut(ring, tag, value, timeoutMs, lockMs?) -> status. timeoutMs 0: try
// once, waiting at most lockMs (default 0: not at all, status busy) for the
// ring's lock. The tag's representation bits say what value is.
Napi::Value ring_put_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RingRef& ref = ref_of(info);
  RingHeader* ring = ring_of(info, ref);
  if (!info[1].IsNumber()) throw type_error(env, "tag must be a number");
  uint32_t tag = info[1].As<Napi::Number>().Uint32Value();
  if (tag > kMaxTag || (tag & kRepresentationMask) > kFloat64)
    throw range_error(env, "tag must be a record tag of encoding.ts");
  const Payload p = payload_of(info, tag & kRepresentationMask);
  int64_t timeout = arg_timeout_ns(info, 3);
  auto write = [&](char* dst) {
    if (p.string) {
      size_t written = 0;
      NAPI_THROW_IF_FAILED_VOID(env, napi_get_value_string_utf8(env, p.string, dst, p.len, &written));
    } else {
      std::memcpy(dst, p.bytes ? p.bytes : &p.number, p.len);
    }
  };
  RingResult r = timeout == 0 ? ring_try_put(ring, tag, p.len, write, ref.owner, lock_wait_ns(info, 4), ref.capacity)
                              : ring_put(ring, tag, p.len, write, ref.owner, timeout, ref.capacity);
  return Napi::Number::New(env, status_of(env, ref.segment, r));
}

// ringGet(ring, timeoutMs, lockMs?, counterOffset?) -> value, with [status,
// tag] in the handle's result words; undefined when status is not kOk.
// timeoutMs 0: try once (lockMs as for ringPut). counterOffset: a u32 the
// get increments under the ring's lock (JoinableQueue).
Napi::Value ring_get_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RingRef& ref = ref_of(info);
  RingHeader* ring = ring_of(info, ref);
  int64_t timeout = arg_timeout_ns(info, 1);
  std::atomic<uint32_t>* taken = counter_at(info, ref, 3);
  napi_value out = nullptr;
  // A record whose tag multiproc never writes (or whose payload cannot be
  // what its tag says) is refused: the ring drops it and reports corruption.
  auto read = [&](const char* src, size_t len, uint32_t tag) -> bool {
    if (tag > kMaxTag) return false;
    switch (tag & kRepresentationMask) {
      case kUtf8:
        if (len == 0 || src[len - 1] != 0) return false;  // put always stores the NUL
        NAPI_THROW_IF_FAILED(env, napi_create_string_utf8(env, src, len - 1, &out), false);
        break;
      case kFloat64: {
        if (len != sizeof(double)) return false;
        double d;
        std::memcpy(&d, src, sizeof d);
        out = Napi::Number::New(env, d);
        break;
      }
      case kBytes:
        out = Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(src), len);
        break;
      default:
        return false;
    }
    ref.result[1] = int32_t(tag);
    return true;
  };
  RingResult r = timeout == 0 ? ring_try_get(ring, read, ref.owner, lock_wait_ns(info, 2), taken, ref.capacity)
                              : ring_get(ring, read, ref.owner, timeout, taken, ref.capacity);
  ref.result[0] = status_of(env, ref.segment, r);
  return r == RingResult::kOk ? Napi::Value(env, out) : env.Undefined();
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
