// Module entry: the exported functions and the async-wait bridge.
#include "addon.h"

#include <cstdint>
#include <vector>

#include "../core/child_status.h"
#include "../core/futex.h"
#include "../core/lock.h"
#include "../core/shm.h"
#include "../core/signals.h"
#include "../core/tracker.h"
#include "../core/wait_cell.h"
#include "errors.h"
#include "segment.h"
#include "semaphore.h"

#ifndef MP_SOURCE_HASH
#define MP_SOURCE_HASH "unknown"
#endif

namespace mp::glue {

namespace {

const char* result_name(WaitResult r) {
  switch (r) {
    case WaitResult::kOk:
      return "ok";
    case WaitResult::kNotEqual:
      return "not-equal";
    case WaitResult::kTimedOut:
      return "timed-out";
  }
  return "ok";
}

Segment* segment_arg(const Napi::CallbackInfo& info) {
  Segment* seg = Segment::from(info[0]);
  if (!seg) throw type_error(info.Env(), "the first argument must be a Segment");
  return seg;
}

int count_arg(const Napi::CallbackInfo& info, size_t i) {
  if (info[i].IsUndefined()) return INT32_MAX;
  double n = arg_number(info, i, "count");
  if (n < 0) throw range_error(info.Env(), "count must not be negative");
  return n >= INT32_MAX ? INT32_MAX : int(n);
}

}  // namespace

Addon::Addon(Napi::Env env, Napi::Object exports) {
  segment_ctor = Napi::Persistent(Segment::define(env));
  semaphore_ctor = Napi::Persistent(Semaphore::define(env));
  exports.Set("ringInit", Napi::Function::New<ring_init_js>(env, "ringInit"));
  exports.Set("ringOpen", Napi::Function::New<ring_open_js>(env, "ringOpen"));
  exports.Set("ringPut", Napi::Function::New<ring_put_js>(env, "ringPut"));
  exports.Set("ringGet", Napi::Function::New<ring_get_js>(env, "ringGet"));
  exports.Set("ringShutdown", Napi::Function::New<ring_shutdown_js>(env, "ringShutdown"));
  exports.Set("ringRecover", Napi::Function::New<ring_recover_js>(env, "ringRecover"));
  DefineAddon(exports, {
                           InstanceValue("Segment", segment_ctor.Value(), napi_enumerable),
                           InstanceValue("NamedSemaphore", semaphore_ctor.Value(), napi_enumerable),
                           InstanceValue("sourceHash", Napi::String::New(env, MP_SOURCE_HASH), napi_enumerable),
                           InstanceValue("layout", layout_object(env), napi_enumerable),
                           InstanceMethod<&Addon::noop>("noop"),
                           InstanceMethod<&Addon::wait_sync>("waitSync"),
                           InstanceMethod<&Addon::wait_async>("wait"),
                           InstanceMethod<&Addon::cancel_wait>("cancelWait"),
                           InstanceMethod<&Addon::wake>("wake"),
                           InstanceMethod<&Addon::lock_acquire>("lockAcquire"),
                           InstanceMethod<&Addon::lock_take_if_owner_dead>("lockTakeIfOwnerDead"),
                           InstanceMethod<&Addon::thread_identity>("threadIdentity"),
                           InstanceMethod<&Addon::thread_alive>("threadAlive"),
                           InstanceMethod<&Addon::thread_stamp_of>("threadStampOf"),
                           InstanceMethod<&Addon::mapping_stats>("mappingStats"),
                           InstanceMethod<&Addon::store_and_wake>("storeAndWake"),
                           InstanceMethod<&Addon::get_spin_policy>("getSpinPolicy"),
                           InstanceMethod<&Addon::set_spin_policy>("setSpinPolicy"),
                           InstanceMethod<&Addon::send_signal>("kill"),
                           InstanceMethod<&Addon::set_parent_death_signal>("setParentDeathSignal"),
                           InstanceMethod<&Addon::wait_child_exit>("waitChildExit"),
                           InstanceMethod<&Addon::make_pipe>("pipe"),
                           InstanceMethod<&Addon::tracker_info>("trackerInfo"),
                           InstanceMethod<&Addon::tracker_adopt>("trackerAdopt"),
                           InstanceMethod<&Addon::tracker_remove>("trackerRemove"),
                           InstanceMethod<&Addon::tracker_unregister>("trackerUnregister"),
                       });
}

Addon::~Addon() {
  if (waiter_) napi_remove_env_cleanup_hook(env_, &Addon::on_env_cleanup, this);
  stop();
}

// Runs at the environment's clean-up (a worker_thread ending or being
// terminated, or the main thread exiting) and again from the destructor.
// Waiter threads stop first; the waits they held keep their segments mapped
// until here (segment.h), even though Node has run Buffer finalizers by now.
void Addon::stop() {
  stopped_ = true;
  if (waiter_) waiter_->shutdown();
  if (bridge_live_) {
    bridge_live_ = false;
    bridge_.Release();
  }
}

void Addon::on_env_cleanup(void* self) { static_cast<Addon*>(self)->stop(); }

Napi::Value Addon::noop(const Napi::CallbackInfo& info) { return info.Env().Undefined(); }

// waitSync(segment, offset, expected, timeoutMs?) -> 'ok' | 'not-equal' | 'timed-out'
Napi::Value Addon::wait_sync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  WaitCell* cell = segment_arg(info)->cell_at(env, info[1]);
  uint32_t expected = arg_word(info, 2, "expected");
  int64_t timeout = arg_timeout_ns(info, 3);
  return Napi::String::New(env, result_name(wait_while_equal(cell, expected, timeout)));
}

// wait(segment, offset, expected, timeoutMs, id) -> Promise<'ok' | 'not-equal' | 'timed-out' | 'cancelled'>
Napi::Value Addon::wait_async(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Segment* seg = segment_arg(info);
    WaitCell* cell = seg->cell_at(env, info[1]);
    uint32_t expected = arg_word(info, 2, "expected");
    int64_t timeout = arg_timeout_ns(info, 3);
    uint64_t id = uint64_t(arg_number(info, 4, "id"));
    auto deferred = Napi::Promise::Deferred::New(env);
    if (cell->value.load() != expected) {
      deferred.Resolve(Napi::String::New(env, "not-equal"));
      return deferred.Promise();
    }
    if (timeout == 0) {
      deferred.Resolve(Napi::String::New(env, "timed-out"));
      return deferred.Promise();
    }
    if (stopped_) throw coded_error(env, "ERR_MP_CLOSED", "this thread's environment is shutting down");
    if (pending_.count(id)) throw range_error(env, "wait id " + std::to_string(id) + " is already pending");
    ensure_bridge(env);
    Napi::Promise promise = deferred.Promise();
    pending_.emplace(id, Pending{deferred, Napi::Persistent(info[0].As<Napi::Object>())});
    try {
      // The wait holds a share of the mapping: its cell stays mapped while
      // a waiter thread may read it.
      waiter_->add(id, cell, expected, timeout < 0 ? -1 : monotonic_ns() + timeout, seg->share());
    } catch (...) {
      pending_.erase(id);
      throw;
    }
    on_pending_changed(env);
    return promise;
  });
}

// cancelWait(id) -> true when a pending wait was cancelled (it resolves 'cancelled').
Napi::Value Addon::cancel_wait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t id = uint64_t(arg_number(info, 0, "id"));
  auto it = pending_.find(id);
  if (it == pending_.end() || !waiter_->cancel(id)) return Napi::Boolean::New(env, false);
  it->second.deferred.Resolve(Napi::String::New(env, "cancelled"));
  pending_.erase(it);
  on_pending_changed(env);
  return Napi::Boolean::New(env, true);
}

void Addon::cancel_waits_in(Napi::Env env, const void* base, size_t len) {
  if (!waiter_) return;
  for (uint64_t id : waiter_->cancel_range(base, len)) {
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;
    it->second.deferred.Reject(
        coded_error(env, "ERR_MP_CLOSED", "the segment was closed while a wait on it was pending").Value());
    pending_.erase(it);
  }
  on_pending_changed(env);
}

void Addon::ensure_bridge(Napi::Env env) {
  if (waiter_) return;
  env_ = env;
  bridge_ = Bridge::New(env, "multiproc.wait", 0, 1, this);
  bridge_.Unref(env);
  bridge_live_ = true;
  // Registered after the thread-safe function's own hook, so it runs first:
  // waiter threads stop before the bridge they call goes away.
  napi_add_env_cleanup_hook(env, &Addon::on_env_cleanup, this);
  waiter_ = std::make_unique<AsyncWaiter>([this] {
    if (bridge_live_) bridge_.NonBlockingCall();
  });
}

// Pending waits keep the event loop alive, as a pending fs read does.
void Addon::on_pending_changed(Napi::Env env) {
  if (!bridge_live_) return;
  bool want = !pending_.empty();
  if (want == bridge_ref_) return;
  if (want)
    bridge_.Ref(env);
  else
    bridge_.Unref(env);
  bridge_ref_ = want;
}

// Runs on the JS thread. Nothing may escape it: it is called from libuv,
// where an exception would reach std::terminate. While a worker_thread is
// being terminated, Node-API refuses to run JS (settling a promise throws):
// the waits of a dying environment are dropped, never allowed to abort the
// whole process.
void Addon::call_js(Napi::Env env, Napi::Function, Addon* self, void*) {
  if (env == nullptr || self->stopped_ || !self->waiter_) return;  // tearing down
  try {
    self->settle_completions(env);
  } catch (...) {
  }
}

void Addon::settle_completions(Napi::Env env) {
  Napi::HandleScope scope(env);
  for (const AsyncCompletion& c : waiter_->take_completions()) {
    auto it = pending_.find(c.id);
    if (it == pending_.end()) continue;  // cancelled meanwhile
    Napi::Promise::Deferred deferred = it->second.deferred;
    pending_.erase(it);
    if (c.status == AsyncWaitStatus::kFailed) {
      deferred.Reject(
          sys_error(env, SysError(c.error, "futex_waitv", "(async waits need Linux 5.16 or later)")).Value());
    } else {
      deferred.Resolve(Napi::String::New(env, c.status == AsyncWaitStatus::kOk ? "ok" : "timed-out"));
    }
  }
  on_pending_changed(env);
}

// wake(segment, offset, count?) -> number woken
Napi::Value Addon::wake(const Napi::CallbackInfo& info) {
  WaitCell* cell = segment_arg(info)->cell_at(info.Env(), info[1]);
  return Napi::Number::New(info.Env(), mp::wake(cell, count_arg(info, 2)));
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

// mappingStats() -> { count, limit }: segments this process maps, and the most it may.
Napi::Value Addon::mapping_stats(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("count", Napi::Number::New(info.Env(), double(shm_mapping_count())));
  o.Set("limit", Napi::Number::New(info.Env(), double(shm_mapping_limit())));
  return o;
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

// kill(pid, signalNumber)
Napi::Value Addon::send_signal(const Napi::CallbackInfo& info) {
  return guard(info, [&] {
    mp::send_signal(pid_t(arg_number(info, 0, "pid")), int(arg_number(info, 1, "signal")));
    return info.Env().Undefined();
  });
}

// setParentDeathSignal(signalNumber) -> getppid() after the call
Napi::Value Addon::set_parent_death_signal(const Napi::CallbackInfo& info) {
  return guard(info, [&] {
    return Napi::Number::New(info.Env(), mp::set_parent_death_signal(int(arg_number(info, 0, "signal"))));
  });
}

// waitChildExit(pid, timeoutMs?) -> null while running, else { code, signal }.
// Does not reap: libuv still emits 'exit' for it.
Napi::Value Addon::wait_child_exit(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    ChildStatus s = mp::wait_child_exit(pid_t(arg_number(info, 0, "pid")), arg_timeout_ns(info, 1));
    if (!s.exited) return env.Null();
    Napi::Object o = Napi::Object::New(env);
    o.Set("code", Napi::Number::New(env, s.code));
    o.Set("signal", Napi::Number::New(env, s.signal));
    return o;
  });
}

// pipe() -> [readFd, writeFd], blocking, close-on-exec.
Napi::Value Addon::make_pipe(const Napi::CallbackInfo& info) {
  return guard(info, [&] {
    int fds[2];
    mp::make_pipe(fds);
    Napi::Array out = Napi::Array::New(info.Env(), 2);
    out.Set(uint32_t(0), Napi::Number::New(info.Env(), fds[0]));
    out.Set(uint32_t(1), Napi::Number::New(info.Env(), fds[1]));
    return out;
  });
}

// trackerAdopt(fd, pid) -> whether the inherited tracker channel was adopted
// (pid: the program's tag, as trackerInfo() gives it).
Napi::Value Addon::tracker_adopt(const Napi::CallbackInfo& info) {
  int fd = int(arg_number(info, 0, "fd"));
  pid_t tag = pid_t(arg_number(info, 1, "pid"));
  return Napi::Boolean::New(info.Env(), tracker::adopt(fd, tag));
}

// trackerInfo() -> { pid, fd }: starts the trackers if this process has none.
// pid is the program's tag (the pid of its first tracker, tracker.h).
Napi::Value Addon::tracker_info(const Napi::CallbackInfo& info) {
  return guard(info, [&] {
    tracker::Info t = tracker::ensure();
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("pid", Napi::Number::New(info.Env(), t.tag));
    o.Set("fd", Napi::Number::New(info.Env(), t.fd));
    return o;
  });
}

static tracker::Kind kind_arg(const Napi::CallbackInfo& info) {
  std::string k = arg_string(info, 0, "kind");
  if (k == "segment") return tracker::Kind::kSegment;
  if (k == "semaphore") return tracker::Kind::kSemaphore;
  throw type_error(info.Env(), "kind must be 'segment' or 'semaphore'");
}

// trackerRemove(kind, name): unlink, ignoring a name already gone.
Napi::Value Addon::tracker_remove(const Napi::CallbackInfo& info) {
  tracker::remove_object(kind_arg(info), arg_string(info, 1, "name"));
  return info.Env().Undefined();
}

// trackerUnregister(kind, name): forget without unlinking (the owner took it over).
Napi::Value Addon::tracker_unregister(const Napi::CallbackInfo& info) {
  return guard(info, [&] {
    tracker::unregister_object(kind_arg(info), arg_string(info, 1, "name"));
    return info.Env().Undefined();
  });
}

}  // namespace mp::glue

using MultiprocAddon = mp::glue::Addon;
NODE_API_ADDON(MultiprocAddon)
