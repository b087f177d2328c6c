#include "segment.h"

#include <cstdint>
#include <string>

#include "../core/tracker.h"
#include "../core/wait_cell.h"
#include "addon.h"
#include "errors.h"

namespace mp::glue {

Napi::Function Segment::define(Napi::Env env) {
  return DefineClass(env, "Segment",
                     {
                         StaticMethod<&Segment::create>("create"),
                         StaticMethod<&Segment::open>("open"),
                         StaticMethod<&Segment::unlink>("unlink"),
                         InstanceAccessor<&Segment::buffer>("buffer"),
                         InstanceAccessor<&Segment::size>("size"),
                         InstanceAccessor<&Segment::name_js>("name"),
                         InstanceAccessor<&Segment::closed>("closed"),
                         InstanceAccessor<&Segment::truncated>("truncated"),
                         InstanceMethod<&Segment::close>("close"),
                     });
}

namespace {
const napi_type_tag kSegmentTag = {0x6d756c746970726fULL, 0x632d7365676d656eULL};  // "multiproc-segmen"
const Mapping kNoMapping{};
}  // namespace

Segment* Segment::from(const Napi::Value& v) {
  if (!v.IsObject()) return nullptr;
  Napi::Object o = v.As<Napi::Object>();
  return o.CheckTypeTag(&kSegmentTag) ? Segment::Unwrap(o) : nullptr;
}

// Constructed only by create()/open(): (External<shared_ptr<SharedMapping>>, name).
Segment::Segment(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Segment>(info) {
  if (info.Length() != 2 || !info[0].IsExternal()) {
    throw type_error(info.Env(), "Segment cannot be constructed directly: use Segment.create() or Segment.open()");
  }
  info.This().As<Napi::Object>().TypeTag(&kSegmentTag);
  mapping_ = *info[0].As<Napi::External<std::shared_ptr<SharedMapping>>>().Data();
  name_ = info[1].As<Napi::String>().Utf8Value();
}

Segment::~Segment() = default;  // drops this share; the Buffer and pending waits keep theirs

const Mapping& Segment::mapping() const { return mapping_ ? mapping_->mapping : kNoMapping; }

static Napi::Value wrap(Napi::Env env, Mapping m, const std::string& name) {
  std::shared_ptr<SharedMapping> owned;
  try {
    owned = std::make_shared<SharedMapping>(m);
  } catch (...) {
    shm_unmap(m);
    throw;
  }
  Napi::External<std::shared_ptr<SharedMapping>> ext = Napi::External<std::shared_ptr<SharedMapping>>::New(env, &owned);
  return Addon::of(env).segment_ctor.New({ext, Napi::String::New(env, name)});
}

// create(name, size, track)
Napi::Value Segment::create(const Napi::CallbackInfo& info) {
  return guard(info, [&] {
    std::string name = arg_string(info, 0, "name");
    double size = arg_number(info, 1, "size");
    if (size < 1 || size > 9007199254740991.0 || size != double(uint64_t(size))) {
      throw range_error(info.Env(), "size must be a positive integer, got " + std::to_string(size));
    }
    bool track = info[2].ToBoolean();
    if (track) tracker::register_object(tracker::Kind::kSegment, name);
    Mapping m;
    try {
      m = shm_create(name, size_t(size));
    } catch (...) {
      if (track) tracker::unregister_object(tracker::Kind::kSegment, name);
      throw;
    }
    return wrap(info.Env(), m, name);
  });
}

// open(name, minSize = 1): refuses a file that is not ours or is smaller.
Napi::Value Segment::open(const Napi::CallbackInfo& info) {
  return guard(info, [&] {
    std::string name = arg_string(info, 0, "name");
    double min_size = info[1].IsUndefined() ? 1 : arg_number(info, 1, "minSize");
    if (!(min_size >= 1) || min_size > 9007199254740991.0)
      throw range_error(info.Env(), "minSize must be a positive integer");
    return wrap(info.Env(), shm_open_existing(name, size_t(min_size)), name);
  });
}

// unlink(name): removes the name and tells the tracker it is gone.
Napi::Value Segment::unlink(const Napi::CallbackInfo& info) {
  return guard(info, [&] {
    std::string name = arg_string(info, 0, "name");
    shm_remove(name);
    tracker::unregister_object(tracker::Kind::kSegment, name);
    return info.Env().Undefined();
  });
}

Napi::Value Segment::buffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!mapping_) throw coded_error(env, "ERR_MP_CLOSED", "segment '" + name_ + "' is closed");
  if (!buffer_.IsEmpty()) return buffer_.Value();
  auto* share = new std::shared_ptr<SharedMapping>(mapping_);
  napi_value value;
  napi_status status = napi_create_external_buffer(
      env, mapping_->mapping.size, mapping_->mapping.addr,
      [](napi_env, void*, void* hint) { delete static_cast<std::shared_ptr<SharedMapping>*>(hint); }, share, &value);
  if (status != napi_ok) {
    delete share;
    // Builds with the V8 sandbox (e.g. Electron) refuse memory they did not
    // allocate: say so plainly instead of aborting.
    throw coded_error(env, "ERR_MP_EXTERNAL_BUFFERS_UNSUPPORTED",
                      "this JavaScript runtime does not allow external buffers, so shared memory "
                      "cannot be exposed as a Buffer (napi status " +
                          std::to_string(int(status)) + ")");
  }
  Napi::Buffer<uint8_t> buf(env, value);
  buffer_ = Napi::Persistent(buf);
  return buf;
}

Napi::Value Segment::size(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(mapping().size));
}

Napi::Value Segment::name_js(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), name_); }

Napi::Value Segment::closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !mapping_); }

Napi::Value Segment::truncated(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), mapping_ && shm_truncated(mapping_->mapping));
}

Napi::Value Segment::close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!mapping_) return env.Undefined();
  Addon::of(env).cancel_waits_in(env, mapping_->mapping.addr, mapping_->mapping.size);
  if (!buffer_.IsEmpty()) {
    // Detaching releases the backing store, whose finalizer drops its share.
    buffer_.Value().ArrayBuffer().Detach();
    buffer_.Reset();
  }
  mapping_.reset();
  return env.Undefined();
}

void Segment::check_intact(Napi::Env env) const {
  if (mapping_ && shm_truncated(mapping_->mapping)) {
    throw coded_error(env, "ERR_MP_CORRUPT",
                      "segment '" + (name_[0] == '/' ? name_.substr(1) : name_) +
                          "' was truncated by another process: what it held is lost");
  }
}

WaitCell* Segment::cell_at(Napi::Env env, const Napi::Value& offset, size_t bytes) {
  if (!mapping_) throw coded_error(env, "ERR_MP_CLOSED", "segment '" + name_ + "' is closed");
  check_intact(env);
  if (!offset.IsNumber()) throw type_error(env, "offset must be a number");
  const Mapping& m = mapping_->mapping;
  double off = offset.As<Napi::Number>().DoubleValue();
  if (!(off >= 0) || off != double(uint64_t(off)) || uint64_t(off) % 4 != 0 || uint64_t(off) + bytes > m.size) {
    throw range_error(env, "offset must be a multiple of 4 with " + std::to_string(bytes) +
                               " bytes inside the segment (size " + std::to_string(m.size) + "), got " +
                               std::to_string(off));
  }
  return reinterpret_cast<WaitCell*>(static_cast<char*>(m.addr) + uint64_t(off));
}

}  // namespace mp::glue
