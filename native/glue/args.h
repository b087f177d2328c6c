// Argument helpers the glue files share (addon.cc's exports).
#pragma once
#include <napi.h>

#include <cstdint>

#include "../core/wait_cell.h"
#include "errors.h"
#include "segment.h"

namespace mp::glue {

inline const char* result_name(WaitResult r) {
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

inline Segment* segment_arg(const Napi::CallbackInfo& info) {
  Segment* seg = Segment::from(info[0]);
  if (!seg) throw type_error(info.Env(), "the first argument must be a Segment");
  return seg;
}

// A wake count: undefined is everyone.
inline int count_arg(const Napi::CallbackInfo& info, size_t i) {
  if (info[i].IsUndefined()) return INT32_MAX;
  double n = arg_number(info, i, "count");
  if (n < 0) throw range_error(info.Env(), "count must not be negative");
  return n >= INT32_MAX ? INT32_MAX : int(n);
}

}  // namespace mp::glue
