// The numbers JS and the ring glue share: what a ring call returns, and how
// a record's tag says what its payload is. The addon exports them
// (layout.cc, `layout.ringStatus` and `layout.representation`); the TS layer
// reads them from there, never from a copy.
#pragma once
#include <cstdint>

namespace mp::glue {

// What a ring call reports. Corruption is not a status: it is thrown
// (ERR_MP_CORRUPT), naming the segment.
enum Status : uint32_t { kOk = 0, kFull = 1, kEmpty = 2, kTooBig = 3, kShutDown = 4, kTimedOut = 5, kBusy = 6 };

// The low two bits of a record's tag say how its payload becomes a JS value;
// the rest is the TS layer's (ts/messaging/encoding.ts: what the value means).
enum Representation : uint32_t { kBytes = 0, kUtf8 = 1, kFloat64 = 2 };
constexpr uint32_t kRepresentationBits = 2;
constexpr uint32_t kRepresentationMask = (1u << kRepresentationBits) - 1;
static_assert(kFloat64 <= kRepresentationMask, "representations fit their bits");
// The largest tag a caller may give (the ring reserves kRingWrapTag).
constexpr uint32_t kMaxTag = 0xFFFF;

}  // namespace mp::glue
