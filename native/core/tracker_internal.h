// What tracker.cc (the records, the client side) and tracker_pair.cc (the
// tracker processes) share, and no other file includes: the records of the
// channel (tracker.h) and the first active's entry point.
#pragma once
#include <sys/types.h>

#include <climits>
#include <cstddef>
#include <set>
#include <string>
#include <utility>

#include "tracker.h"

namespace mp::tracker::internal {

// What a tracker knows: the registered (kind, POSIX name) pairs.
using Key = std::pair<char, std::string>;
using State = std::set<Key>;

// ---- Records (tracker.cc) ---------------------------------------------------

// "R m 5 /mp-x\n": op, kind, decimal length, name, newline.
constexpr size_t kMaxRecord = 1 + 1 + 1 + 1 + 3 + 1 + 1 + kMaxNameBytes + 1;
static_assert(kMaxRecord < PIPE_BUF, "a record must be one atomic write");

struct Record {
  char op = 0;
  char kind = 0;
  std::string name;
};

// The record of `op` ('R', 'U', or the trackers' 'D') for (kind, name).
std::string encode(char op, char kind, const std::string& name);

enum class Parsed { kOk, kIncomplete, kBad };

// Parses the record at the start of [p, p + n). On kOk, `used` is its size.
// Accepts only what encode() makes: R/U with a valid kind and name, or the
// trackers' own "D - 0 \n" when `allow_done`.
Parsed parse(const char* p, size_t n, bool allow_done, Record& rec, size_t& used);

// Applies an 'R' or 'U' record to a tracker's set.
void apply_record(State& live, const Record& rec);

// ---- The tracker processes (tracker_pair.cc) ---------------------------------

// The first active: detaches, reports its pid once it is ready, and runs.
// Called in the grandchild start_tracker forks; never returns.
[[noreturn]] void tracker_main(int channel, int report, pid_t tag);

}  // namespace mp::tracker::internal
