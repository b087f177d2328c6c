// The shared layouts the TS layer needs, exported from the C++ headers that
// define them (`addon.layout`): offsets and sizes of RingHeader, LockState
// and WaitCell, the ring's statuses and tag bits. TS reads them from here, so
// there is one source; test/layout.test.ts holds the drawings in the headers
// against these numbers.
#include <cstddef>

#include "../core/lock.h"
#include "../core/ring.h"
#include "../core/wait_cell.h"
#include "addon.h"
#include "ring_codes.h"

namespace mp::glue {

namespace {

// offsetof on types with atomic members: standard layout in every ABI we
// build for, which these asserts hold us to.
static_assert(std::is_standard_layout_v<WaitCell>, "WaitCell is read by offset");
static_assert(std::is_standard_layout_v<LockState>, "LockState is read by offset");
static_assert(std::is_standard_layout_v<RingHeader>, "RingHeader is read by offset");

void put(Napi::Object o, const char* key, size_t value) { o.Set(key, Napi::Number::New(o.Env(), double(value))); }

Napi::Object wait_cell_layout(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  put(o, "bytes", sizeof(WaitCell));
  put(o, "value", offsetof(WaitCell, value));
  put(o, "sleepers", offsetof(WaitCell, sleepers));
  return o;
}

Napi::Object lock_layout(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  put(o, "bytes", sizeof(LockState));
  put(o, "owner", offsetof(LockState, cell) + offsetof(WaitCell, value));
  put(o, "sleepers", offsetof(LockState, cell) + offsetof(WaitCell, sleepers));
  put(o, "count", offsetof(LockState, count));
  put(o, "stamp", offsetof(LockState, stamp));
  return o;
}

Napi::Object ring_layout(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  put(o, "bytes", sizeof(RingHeader));
  put(o, "lock", offsetof(RingHeader, lock));
  put(o, "written", offsetof(RingHeader, written));
  put(o, "freed", offsetof(RingHeader, freed));
  put(o, "head", offsetof(RingHeader, head));
  put(o, "tail", offsetof(RingHeader, tail));
  put(o, "items", offsetof(RingHeader, items));
  put(o, "maxsize", offsetof(RingHeader, maxsize));
  put(o, "capacity", offsetof(RingHeader, capacity));
  put(o, "shutDown", offsetof(RingHeader, shut_down));
  put(o, "recordHeader", kRingRecordHeader);
  put(o, "wrapTag", kRingWrapTag);
  return o;
}

Napi::Object ring_status(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  put(o, "ok", kOk);
  put(o, "full", kFull);
  put(o, "empty", kEmpty);
  put(o, "tooBig", kTooBig);
  put(o, "shutDown", kShutDown);
  put(o, "timedOut", kTimedOut);
  put(o, "busy", kBusy);
  return o;
}

Napi::Object representation(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  put(o, "bytes", kBytes);
  put(o, "utf8", kUtf8);
  put(o, "float64", kFloat64);
  put(o, "bits", kRepresentationBits);
  put(o, "maxTag", kMaxTag);
  return o;
}

}  // namespace

Napi::Object layout_object(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("waitCell", wait_cell_layout(env));
  o.Set("lock", lock_layout(env));
  o.Set("ring", ring_layout(env));
  o.Set("ringStatus", ring_status(env));
  o.Set("representation", representation(env));
  o.Freeze();
  return o;
}

}  // namespace mp::glue
