// JS class Segment: one mapping of a shared-memory segment.
//
// Lifetime: the mapping is owned jointly (a shared_ptr) by the Segment, by
// the one external Buffer exposing it (V8 refuses to wrap the same memory
// twice; the Buffer's finalizer drops its share), and by every async wait
// pending on a cell inside it. It is unmapped when the last of them lets go,
// so the address can never be reused while V8 still tracks it, and a waiter
// thread never reads a cell that was unmapped under it -- not even when a
// worker_thread is torn down and Node runs the Buffer finalizers before our
// clean-up hook. close() detaches the Buffer (every view of it becomes
// empty, so a stale view reads nothing rather than crashing) and cancels
// the async waits pending on it.
#pragma once
#include <napi.h>

#include <memory>

#include "../core/shm.h"
#include "../core/wait_cell.h"

namespace mp::glue {

class Addon;

// One mapping, unmapped when the last owner lets go.
struct SharedMapping {
  Mapping mapping;
  explicit SharedMapping(Mapping m) : mapping(m) {}
  ~SharedMapping() { shm_unmap(mapping); }
  SharedMapping(const SharedMapping&) = delete;
  SharedMapping& operator=(const SharedMapping&) = delete;
};

class Segment : public Napi::ObjectWrap<Segment> {
 public:
  // The Segment behind a JS value, or nullptr. A Node-API type tag, not
  // instanceof: this runs on every wait, wake and ring operation, and
  // napi_instanceof costs ~500 ns where the tag check costs a few.
  static Segment* from(const Napi::Value& v);

  static Napi::Function define(Napi::Env env);
  explicit Segment(const Napi::CallbackInfo& info);
  ~Segment() override;

  // The cell at `offset`, validated (4-byte aligned, `bytes` inside the
  // mapping); throws ERR_MP_CLOSED after close() and ERR_MP_CORRUPT once
  // another process has truncated the segment.
  WaitCell* cell_at(Napi::Env env, const Napi::Value& offset, size_t bytes = sizeof(WaitCell));
  // The mapping; empty (addr nullptr) after close().
  const Mapping& mapping() const;
  // A share of the mapping, for whoever must keep it mapped (async waits).
  std::shared_ptr<SharedMapping> share() const { return mapping_; }
  const std::string& name() const { return name_; }
  // Throws ERR_MP_CORRUPT if another process truncated the segment.
  void check_intact(Napi::Env env) const;

 private:
  static Napi::Value create(const Napi::CallbackInfo& info);
  static Napi::Value open(const Napi::CallbackInfo& info);
  static Napi::Value unlink(const Napi::CallbackInfo& info);
  Napi::Value buffer(const Napi::CallbackInfo& info);
  Napi::Value size(const Napi::CallbackInfo& info);
  Napi::Value name_js(const Napi::CallbackInfo& info);
  Napi::Value closed(const Napi::CallbackInfo& info);
  Napi::Value truncated(const Napi::CallbackInfo& info);
  Napi::Value close(const Napi::CallbackInfo& info);

  std::shared_ptr<SharedMapping> mapping_;
  std::string name_;
  Napi::Reference<Napi::Buffer<uint8_t>> buffer_;
};

}  // namespace mp::glue
