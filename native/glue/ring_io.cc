// ringPut and ringGet, the hottest calls in the addon (one per queue put or
// get; the other ring functions are in ring.cc). Besides the handle
// (ring_handle.h), they avoid what costs most in Node-API: the payload goes
// straight between JS values and the ring (a string is encoded into the ring
// and decoded out of it; no Buffer in between), and a get reports its status
// and tag through a small Int32Array instead of allocating a result object.
#include <napi.h>

#include <cmath>
#include <cstring>

#include "../core/ring.h"
#include "addon.h"
#include "errors.h"
#include "ring_codes.h"
#include "ring_handle.h"
#include "segment.h"

namespace mp::glue {

using namespace ring_handle;

namespace {

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

}  // namespace mp::glue
