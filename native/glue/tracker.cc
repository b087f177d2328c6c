// The resource tracker, seen from JS: start or adopt it, remove and forget
// names.
#include "addon.h"

#include "../core/tracker.h"
#include "args.h"
#include "errors.h"

namespace mp::glue {

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
