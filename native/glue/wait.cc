// Waking, the spin policy, the contended path of locks, and thread identity
// (who holds a lock, and whether that thread still lives).
#include "addon.h"

#include "../core/lock.h"
#include "../core/wait_cell.h"
#include "args.h"
#include "errors.h"
#include "segment.h"

namespace mp::glue {

// wake(segment, offset, count?) -> number woken
Napi::Value Addon::wake(const Napi::CallbackInfo& info) {
  WaitCell* cell = segment_arg(info)->cell_at(info.Env(), info[1]);
  return Napi::Number::New(info.Env(), mp::wake(cell, count_arg(info, 2)));
}

// storeAndWake(segment, offset, value, count?) -> number woken
Napi::Value Addon::store_and_wake(const Napi::CallbackInfo& info) {
  WaitCell* cell = segment_arg(info)->cell_at(info.Env(), info[1]);
  uint32_t value = arg_word(info, 2, "value");
  return Napi::Number::New(info.Env(), mp::store_and_wake(cell, value, count_arg(info, 3)));
}

Napi::Value Addon::get_spin_policy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SpinPolicy p = mp::get_spin_policy();
  Napi::Object o = Napi::Object::New(env);
  o.Set("maxSpinNs", Napi::Number::New(env, double(p.max_spin_ns)));
  o.Set("adaptive", Napi::Boolean::New(env, p.adaptive));
  o.Set("currentBudgetNs", Napi::Number::New(env, double(current_spin_budget_ns())));
  return o;
}

// setSpinPolicy(maxSpinNs, adaptive)
Napi::Value Addon::set_spin_policy(const Napi::CallbackInfo& info) {
  double max = arg_number(info, 0, "maxSpinNs");
  if (!(max >= 0) || max > 1e9) throw range_error(info.Env(), "maxSpinNs must be from 0 to 1e9");
  mp::set_spin_policy({int64_t(max), info[1].ToBoolean()});
  return info.Env().Undefined();
}

static LockState* lock_at(const Napi::CallbackInfo& info) {
  return reinterpret_cast<LockState*>(segment_arg(info)->cell_at(info.Env(), info[1], sizeof(LockState)));
}

// lockAcquire(segment, offset, timeoutMs?) -> 0 acquired, 1 acquired from a
// dead owner, 2 timed out. The contended path only: JS tries the CAS first.
// The owner recorded is this thread (id and stamp).
Napi::Value Addon::lock_acquire(const Napi::CallbackInfo& info) {
  LockState* lock = lock_at(info);
  LockResult r = mp::lock_acquire(lock, current_owner(), arg_timeout_ns(info, 2));
  return Napi::Number::New(info.Env(), r == LockResult::kAcquired ? 0 : r == LockResult::kOwnerDied ? 1 : 2);
}

// lockTakeIfOwnerDead(segment, offset, owner) -> true if taken over for this thread.
Napi::Value Addon::lock_take_if_owner_dead(const Napi::CallbackInfo& info) {
  LockState* lock = lock_at(info);
  uint32_t owner = uint32_t(arg_number(info, 2, "owner"));
  return Napi::Boolean::New(info.Env(), mp::lock_take_if_owner_dead(lock, owner, current_owner()));
}

// threadIdentity() -> [tid, stamp] of this thread (lock.h).
Napi::Value Addon::thread_identity(const Napi::CallbackInfo& info) {
  Owner me = current_owner();
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(uint32_t(0), Napi::Number::New(info.Env(), me.tid));
  out.Set(uint32_t(1), Napi::Number::New(info.Env(), me.stamp));
  return out;
}

// threadAlive(tid, stamp) -> whether that incarnation of the thread lives.
Napi::Value Addon::thread_alive(const Napi::CallbackInfo& info) {
  uint32_t tid = uint32_t(arg_number(info, 0, "tid"));
  uint32_t stamp = uint32_t(arg_number(info, 1, "stamp"));
  return Napi::Boolean::New(info.Env(), tid != 0 && mp::thread_alive(tid, stamp));
}

// threadStampOf(tid) -> that thread's stamp (0: no such thread).
Napi::Value Addon::thread_stamp_of(const Napi::CallbackInfo& info) {
  uint32_t tid = uint32_t(arg_number(info, 0, "tid"));
  return Napi::Number::New(info.Env(), tid == 0 ? 0 : mp::thread_stamp(tid));
}

}  // namespace mp::glue
