// Per-environment state of the addon (one per main thread or Worker), and the
// async-wait bridge between waiter threads and the JS thread.
#pragma once
#include <napi.h>

#include <atomic>
#include <map>
#include <memory>

#include "../core/async_waiter.h"
#include "errors.h"

namespace mp::glue {

// native/glue/layout.cc: the shared layouts and codes, for `addon.layout`
Napi::Object layout_object(Napi::Env env);

// native/glue/ring.cc
Napi::Value ring_init_js(const Napi::CallbackInfo& info);
Napi::Value ring_open_js(const Napi::CallbackInfo& info);
Napi::Value ring_put_js(const Napi::CallbackInfo& info);
Napi::Value ring_get_js(const Napi::CallbackInfo& info);
Napi::Value ring_shutdown_js(const Napi::CallbackInfo& info);
Napi::Value ring_recover_js(const Napi::CallbackInfo& info);

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports);
  ~Addon();

  static Addon& of(Napi::Env env) { return *env.GetInstanceData<Addon>(); }

  // An exported method, its body run through guard() (errors.h).
  template <Napi::Value (Addon::*M)(const Napi::CallbackInfo&)>
  Napi::Value guarded(const Napi::CallbackInfo& info) {
    return guard(info, [&] { return (this->*M)(info); });
  }

  Napi::FunctionReference segment_ctor;
  Napi::FunctionReference semaphore_ctor;

  // Rejects (with ERR_MP_CLOSED) the async waits on a segment being closed.
  void cancel_waits_in(Napi::Env env, const void* base, size_t len);

 private:
  Napi::Value noop(const Napi::CallbackInfo& info);
  Napi::Value wait_sync(const Napi::CallbackInfo& info);
  Napi::Value wait_async(const Napi::CallbackInfo& info);
  Napi::Value cancel_wait(const Napi::CallbackInfo& info);
  Napi::Value wake(const Napi::CallbackInfo& info);
  Napi::Value lock_acquire(const Napi::CallbackInfo& info);
  Napi::Value lock_take_if_owner_dead(const Napi::CallbackInfo& info);
  Napi::Value thread_identity(const Napi::CallbackInfo& info);
  Napi::Value thread_alive(const Napi::CallbackInfo& info);
  Napi::Value thread_stamp_of(const Napi::CallbackInfo& info);
  Napi::Value mapping_stats(const Napi::CallbackInfo& info);
  Napi::Value store_and_wake(const Napi::CallbackInfo& info);
  Napi::Value get_spin_policy(const Napi::CallbackInfo& info);
  Napi::Value set_spin_policy(const Napi::CallbackInfo& info);
  Napi::Value send_signal(const Napi::CallbackInfo& info);
  Napi::Value set_parent_death_signal(const Napi::CallbackInfo& info);
  Napi::Value wait_child_exit(const Napi::CallbackInfo& info);
  Napi::Value make_pipe(const Napi::CallbackInfo& info);
  Napi::Value tracker_info(const Napi::CallbackInfo& info);
  Napi::Value tracker_adopt(const Napi::CallbackInfo& info);
  Napi::Value tracker_remove(const Napi::CallbackInfo& info);
  Napi::Value tracker_unregister(const Napi::CallbackInfo& info);

  void ensure_bridge(Napi::Env env);
  void settle_completions(Napi::Env env);
  void on_pending_changed(Napi::Env env);
  static void call_js(Napi::Env env, Napi::Function, Addon* self, void*);
  static void on_env_cleanup(void* self);
  void stop();

  struct Pending {
    Napi::Promise::Deferred deferred;
    Napi::ObjectReference segment;  // keeps the mapping alive while waiting
  };
  using Bridge = Napi::TypedThreadSafeFunction<Addon, void, call_js>;

  std::unique_ptr<AsyncWaiter> waiter_;
  Bridge bridge_;
  napi_env env_ = nullptr;
  std::atomic<bool> bridge_live_{false};  // read by waiter threads
  bool stopped_ = false;                  // the environment is being torn down: no more waits
  bool bridge_ref_ = false;
  std::map<uint64_t, Pending> pending_;
};

}  // namespace mp::glue
