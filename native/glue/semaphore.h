// JS class NamedSemaphore over a POSIX named semaphore.
#pragma once
#include <napi.h>

#include <memory>

#include "../core/semaphore.h"

namespace mp::glue {

class Semaphore : public Napi::ObjectWrap<Semaphore> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit Semaphore(const Napi::CallbackInfo& info);

 private:
  static Napi::Value create(const Napi::CallbackInfo& info);
  static Napi::Value open(const Napi::CallbackInfo& info);
  static Napi::Value unlink(const Napi::CallbackInfo& info);
  Napi::Value post(const Napi::CallbackInfo& info);
  Napi::Value wait(const Napi::CallbackInfo& info);
  Napi::Value try_wait(const Napi::CallbackInfo& info);
  Napi::Value value(const Napi::CallbackInfo& info);
  Napi::Value name(const Napi::CallbackInfo& info);
  Napi::Value close(const Napi::CallbackInfo& info);
  NamedSemaphore& get(Napi::Env env);

  std::unique_ptr<NamedSemaphore> sem_;
};

}  // namespace mp::glue
