#include "semaphore.h"

#include "../core/tracker.h"
#include "addon.h"
#include "errors.h"

namespace mp::glue {

Napi::Function Semaphore::define(Napi::Env env) {
  return DefineClass(env, "NamedSemaphore",
                     {
                         StaticMethod<&Semaphore::create>("create"),
                         StaticMethod<&Semaphore::open>("open"),
                         StaticMethod<&Semaphore::unlink>("unlink"),
                         InstanceMethod<&Semaphore::post>("post"),
                         InstanceMethod<&Semaphore::wait>("wait"),
                         InstanceMethod<&Semaphore::try_wait>("tryWait"),
                         InstanceAccessor<&Semaphore::value>("value"),
                         InstanceAccessor<&Semaphore::name>("name"),
                         InstanceMethod<&Semaphore::close>("close"),
                     });
}

Semaphore::Semaphore(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Semaphore>(info) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw type_error(info.Env(), "NamedSemaphore cannot be constructed directly: use create() or open()");
  }
  sem_.reset(info[0].As<Napi::External<NamedSemaphore>>().Data());
}

static Napi::Value wrap(Napi::Env env, NamedSemaphore&& s) {
  auto* owned = new NamedSemaphore(std::move(s));
  try {
    return Addon::of(env).semaphore_ctor.New({Napi::External<NamedSemaphore>::New(env, owned)});
  } catch (...) {
    delete owned;
    throw;
  }
}

// create(name, value, track)
Napi::Value Semaphore::create(const Napi::CallbackInfo& info) {
  return guard(info, [&] {
    std::string name = arg_string(info, 0, "name");
    double value = arg_number(info, 1, "value");
    if (value < 0 || value > 2147483647.0 || value != double(unsigned(value))) {
      throw range_error(info.Env(), "value must be an integer from 0 to 2147483647, got " + std::to_string(value));
    }
    bool track = info[2].ToBoolean();
    if (track) tracker::register_object(tracker::Kind::kSemaphore, name);
    try {
      return wrap(info.Env(), NamedSemaphore::create(name, unsigned(value)));
    } catch (...) {
      if (track) tracker::unregister_object(tracker::Kind::kSemaphore, name);
      throw;
    }
  });
}

Napi::Value Semaphore::open(const Napi::CallbackInfo& info) {
  return guard(info, [&] { return wrap(info.Env(), NamedSemaphore::open(arg_string(info, 0, "name"))); });
}

Napi::Value Semaphore::unlink(const Napi::CallbackInfo& info) {
  return guard(info, [&] {
    std::string name = arg_string(info, 0, "name");
    NamedSemaphore::remove(name);
    tracker::unregister_object(tracker::Kind::kSemaphore, name);
    return info.Env().Undefined();
  });
}

NamedSemaphore& Semaphore::get(Napi::Env env) {
  if (sem_->closed()) throw coded_error(env, "ERR_MP_CLOSED", "semaphore '" + sem_->name() + "' is closed");
  return *sem_;
}

Napi::Value Semaphore::post(const Napi::CallbackInfo& info) {
  return guard(info, [&] {
    get(info.Env()).post();
    return info.Env().Undefined();
  });
}

// wait(timeoutMs?): blocks the calling thread; false on timeout.
Napi::Value Semaphore::wait(const Napi::CallbackInfo& info) {
  return guard(info, [&] {
    NamedSemaphore& s = get(info.Env());
    return Napi::Boolean::New(info.Env(), s.wait(arg_timeout_ns(info, 0)));
  });
}

Napi::Value Semaphore::try_wait(const Napi::CallbackInfo& info) {
  return guard(info, [&] { return Napi::Boolean::New(info.Env(), get(info.Env()).try_wait()); });
}

Napi::Value Semaphore::value(const Napi::CallbackInfo& info) {
  return guard(info, [&] { return Napi::Number::New(info.Env(), get(info.Env()).value()); });
}

Napi::Value Semaphore::name(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), sem_->name()); }

Napi::Value Semaphore::close(const Napi::CallbackInfo& info) {
  sem_->close();
  return info.Env().Undefined();
}

}  // namespace mp::glue
