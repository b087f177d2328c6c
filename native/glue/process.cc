// Processes: signals, the parent-death signal, child status, pipes, and how
// many segments this process maps.
#include "addon.h"

#include <cstdint>

#include "../core/child_status.h"
#include "../core/shm.h"
#include "../core/signals.h"
#include "args.h"
#include "errors.h"

namespace mp::glue {

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

// mappingStats() -> { count, limit }: segments this process maps, and the most it may.
Napi::Value Addon::mapping_stats(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("count", Napi::Number::New(info.Env(), double(shm_mapping_count())));
  o.Set("limit", Napi::Number::New(info.Env(), double(shm_mapping_limit())));
  return o;
}

}  // namespace mp::glue
