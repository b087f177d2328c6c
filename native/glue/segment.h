// JS class Segment: one mapping of a shared-memory segment.
//
// Lifetime: the mapping is exposed as at most one external Buffer per
// Segment (V8 refuses to wrap the same memory twice). Once that Buffer
// exists, its finalizer owns the munmap, so the address can never be reused
// while V8 still tracks it. close() detaches the Buffer (every view of it
// becomes empty, so a stale view reads nothing rather than crashing) and
// cancels the async waits pending on it.
#pragma once
#include <napi.h>

#include "../core/shm.h"
#include "../core/wait_cell.h"

namespace mp::glue {

class Addon;

class Segment : public Napi::ObjectWrap<Segment> {
 public:
  // The Segment behind a JS value, or nullptr. A Node-API type tag, not
  // instanceof: this runs on every wait, wake and ring operation, and
  // napi_instanceof costs ~500 ns where the tag check costs a few.
  static Segment* from(const Napi::Value& v);

  static Napi::Function define(Napi::Env env);
  explicit Segment(const Napi::CallbackInfo& info);
  ~Segment() override;

  // The cell at `offset`, validated (4-byte aligned, 8 bytes inside).
  WaitCell* cell_at(Napi::Env env, const Napi::Value& offset);
  const Mapping& mapping() const { return mapping_; }

 private:
  static Napi::Value create(const Napi::CallbackInfo& info);
  static Napi::Value open(const Napi::CallbackInfo& info);
  static Napi::Value unlink(const Napi::CallbackInfo& info);
  Napi::Value buffer(const Napi::CallbackInfo& info);
  Napi::Value size(const Napi::CallbackInfo& info);
  Napi::Value name(const Napi::CallbackInfo& info);
  Napi::Value closed(const Napi::CallbackInfo& info);
  Napi::Value close(const Napi::CallbackInfo& info);

  Mapping mapping_;
  std::string name_;
  bool buffer_owns_mapping_ = false;
  Napi::Reference<Napi::Buffer<uint8_t>> buffer_;
};

}  // namespace mp::glue
