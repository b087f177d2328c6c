#include "errors.h"

#include <cmath>

namespace mp::glue {

std::string arg_string(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsString()) throw type_error(info.Env(), std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

double arg_number(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsNumber()) throw type_error(info.Env(), std::string(what) + " must be a number");
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (std::isnan(v)) throw type_error(info.Env(), std::string(what) + " must not be NaN");
  return v;
}

uint32_t arg_word(const Napi::CallbackInfo& info, size_t i, const char* what) {
  arg_number(info, i, what);
  return info[i].As<Napi::Number>().Uint32Value();  // ToUint32: -2 becomes 0xFFFFFFFE
}

int64_t arg_timeout_ns(const Napi::CallbackInfo& info, size_t i) {
  if (info[i].IsUndefined() || info[i].IsNull()) return -1;
  double ms = arg_number(info, i, "timeout");
  if (ms < 0 || std::isinf(ms)) return -1;
  double ns = ms * 1e6;
  // Beyond ~31 years is forever: callers add the timeout to the clock, which
  // must not overflow.
  return ns > 1e18 ? -1 : int64_t(ns);
}

}  // namespace mp::glue
