// Turning core errors into JS errors. Every exported function runs its body
// through guard(), so a SysError becomes an Error with code/errno/syscall and
// nothing ever aborts the process.
#pragma once
#include <napi.h>

#include <string>

#include "../core/sys_error.h"

namespace mp::glue {

inline Napi::Error sys_error(Napi::Env env, const SysError& e) {
  Napi::Error err = Napi::Error::New(env, e.what());
  err.Set("code", Napi::String::New(env, errno_name(e.err())));
  err.Set("errno", Napi::Number::New(env, -e.err()));  // Node's convention: negative
  err.Set("syscall", Napi::String::New(env, e.syscall()));
  return err;
}

// An error of ours (not an errno): code is an ERR_MP_* string.
inline Napi::Error coded_error(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

inline Napi::Error type_error(Napi::Env env, const std::string& message) { return Napi::TypeError::New(env, message); }

inline Napi::Error range_error(Napi::Env env, const std::string& message) {
  return Napi::RangeError::New(env, message);
}

template <typename F>
Napi::Value guard(const Napi::CallbackInfo& info, F body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;  // a JS error already: node-addon-api throws it into JS
  } catch (const SysError& e) {
    throw sys_error(info.Env(), e);
  } catch (const std::bad_alloc&) {
    throw coded_error(info.Env(), "ENOMEM", "out of memory");
  } catch (const std::exception& e) {
    throw coded_error(info.Env(), "ERR_MP_INTERNAL", std::string("internal error in the addon: ") + e.what());
  } catch (...) {
    throw coded_error(info.Env(), "ERR_MP_INTERNAL", "internal error in the addon");
  }
}

// Every exported function is registered through these (addon.cc; Addon::guarded for its methods), so that no
// C++ exception escapes a call to std::terminate, whether or not the function
// guards its own body.
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value guarded_function(const Napi::CallbackInfo& info) {
  return guard(info, [&] { return F(info); });
}

// Argument helpers: the TS layer validates for users; these only keep a bad
// call from reaching the core (a wrong offset would be a segfault).
std::string arg_string(const Napi::CallbackInfo& info, size_t i, const char* what);
double arg_number(const Napi::CallbackInfo& info, size_t i, const char* what);
// A 32-bit word's bits from a number (an Int32Array element may be negative).
uint32_t arg_word(const Napi::CallbackInfo& info, size_t i, const char* what);
// Milliseconds (undefined, null, negative, Infinity or above ~31 years:
// forever) to ns (-1: forever).
int64_t arg_timeout_ns(const Napi::CallbackInfo& info, size_t i);

}  // namespace mp::glue
