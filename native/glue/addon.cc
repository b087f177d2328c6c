// Module entry: registration of every export (each through guarded(), so no
// C++ exception reaches std::terminate) and the addon's lifetime per
// environment. The exports live by area: bridge.cc (waits), wait.cc (wakes,
// locks, threads), process.cc, tracker.cc, ring.cc, segment.cc, semaphore.cc,
// layout.cc.
#include "addon.h"

#include "errors.h"
#include "segment.h"
#include "semaphore.h"

#ifndef MP_SOURCE_HASH
#define MP_SOURCE_HASH "unknown"
#endif

namespace mp::glue {

Addon::Addon(Napi::Env env, Napi::Object exports) {
  segment_ctor = Napi::Persistent(Segment::define(env));
  semaphore_ctor = Napi::Persistent(Semaphore::define(env));
  exports.Set("ringInit", Napi::Function::New<guarded_function<ring_init_js>>(env, "ringInit"));
  exports.Set("ringOpen", Napi::Function::New<guarded_function<ring_open_js>>(env, "ringOpen"));
  exports.Set("ringPut", Napi::Function::New<guarded_function<ring_put_js>>(env, "ringPut"));
  exports.Set("ringGet", Napi::Function::New<guarded_function<ring_get_js>>(env, "ringGet"));
  exports.Set("ringShutdown", Napi::Function::New<guarded_function<ring_shutdown_js>>(env, "ringShutdown"));
  exports.Set("ringRecover", Napi::Function::New<guarded_function<ring_recover_js>>(env, "ringRecover"));
  DefineAddon(exports, {
                           InstanceValue("Segment", segment_ctor.Value(), napi_enumerable),
                           InstanceValue("NamedSemaphore", semaphore_ctor.Value(), napi_enumerable),
                           InstanceValue("sourceHash", Napi::String::New(env, MP_SOURCE_HASH), napi_enumerable),
                           InstanceValue("layout", layout_object(env), napi_enumerable),
                           InstanceMethod<&Addon::guarded<&Addon::noop>>("noop"),
                           InstanceMethod<&Addon::guarded<&Addon::wait_sync>>("waitSync"),
                           InstanceMethod<&Addon::guarded<&Addon::wait_async>>("wait"),
                           InstanceMethod<&Addon::guarded<&Addon::cancel_wait>>("cancelWait"),
                           InstanceMethod<&Addon::guarded<&Addon::wake>>("wake"),
                           InstanceMethod<&Addon::guarded<&Addon::lock_acquire>>("lockAcquire"),
                           InstanceMethod<&Addon::guarded<&Addon::lock_take_if_owner_dead>>("lockTakeIfOwnerDead"),
                           InstanceMethod<&Addon::guarded<&Addon::thread_identity>>("threadIdentity"),
                           InstanceMethod<&Addon::guarded<&Addon::thread_alive>>("threadAlive"),
                           InstanceMethod<&Addon::guarded<&Addon::thread_stamp_of>>("threadStampOf"),
                           InstanceMethod<&Addon::guarded<&Addon::mapping_stats>>("mappingStats"),
                           InstanceMethod<&Addon::guarded<&Addon::store_and_wake>>("storeAndWake"),
                           InstanceMethod<&Addon::guarded<&Addon::get_spin_policy>>("getSpinPolicy"),
                           InstanceMethod<&Addon::guarded<&Addon::set_spin_policy>>("setSpinPolicy"),
                           InstanceMethod<&Addon::guarded<&Addon::send_signal>>("kill"),
                           InstanceMethod<&Addon::guarded<&Addon::set_parent_death_signal>>("setParentDeathSignal"),
                           InstanceMethod<&Addon::guarded<&Addon::wait_child_exit>>("waitChildExit"),
                           InstanceMethod<&Addon::guarded<&Addon::make_pipe>>("pipe"),
                           InstanceMethod<&Addon::guarded<&Addon::tracker_info>>("trackerInfo"),
                           InstanceMethod<&Addon::guarded<&Addon::tracker_adopt>>("trackerAdopt"),
                           InstanceMethod<&Addon::guarded<&Addon::tracker_remove>>("trackerRemove"),
                           InstanceMethod<&Addon::guarded<&Addon::tracker_unregister>>("trackerUnregister"),
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

}  // namespace mp::glue

using MultiprocAddon = mp::glue::Addon;
NODE_API_ADDON(MultiprocAddon)
