// The async-wait bridge: waits settled on waiter threads (core/async_waiter.h)
// come back to the JS thread as promise settlements; and the blocking wait.
#include "addon.h"

#include <cstdint>
#include <vector>

#include "../core/futex.h"
#include "../core/wait_cell.h"
#include "args.h"
#include "errors.h"
#include "segment.h"

namespace mp::glue {

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

}  // namespace mp::glue
