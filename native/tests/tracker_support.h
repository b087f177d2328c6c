// Helpers shared by the resource tracker's tests (test_tracker*.cc).
//
// Those tests never talk to a tracker from the test process itself: each
// forks a child that starts its own (the tracker's state is per process),
// registers and creates objects, and ends; the parent then polls /dev/shm
// (kCleanupBound, an upper bound) for what the tracker did at EOF.
#pragma once

#include <dirent.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/shm.h"
#include "core/tracker.h"
#include "mptest.h"
#include "mptest_process.h"

namespace tracker_test {

constexpr int64_t kCleanupBound = 5000 * mptest::kMs;

// Removes every listed object (segment or semaphore) when the test ends.
struct Cleanup {
  std::vector<std::string> paths;
  ~Cleanup() {
    for (const std::string& p : paths) unlink(p.c_str());
  }
};

// The child reports its tracker's pid through this pipe.
inline pid_t read_pid(mptest::Gate& g) {
  int64_t v = g.recv();
  CHECK_MSG(v > 0, "the child did not report its tracker pid");
  return pid_t(v);
}

inline void await_gone(const std::string& path) {
  CHECK_MSG(mptest::eventually([&] { return !mptest::exists(path); }, kCleanupBound),
            path + " was not removed by the tracker");
}

inline mp::Mapping tracked_segment(const std::string& name, size_t size) {
  mp::tracker::register_object(mp::tracker::Kind::kSegment, name);
  return mp::shm_create(name, size);
}

// The live tracker processes of the program tagged `tag`, found by the names
// they give themselves (tracker.h): { active, backup }, 0 where none.
struct Pair {
  pid_t active = 0, backup = 0;
  int count = 0;  // every live process with either name (2 for a healthy pair)
};

inline Pair trackers_of(pid_t tag) {
  Pair out;
  std::string active = mp::tracker::process_name(tag, false), backup = mp::tracker::process_name(tag, true);
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      pid_t pid = pid_t(std::atol(e->d_name));
      if (pid <= 0 || mptest::process_gone(pid)) continue;
      FILE* f = std::fopen(("/proc/" + std::string(e->d_name) + "/comm").c_str(), "r");
      if (!f) continue;
      char comm[32] = {};
      size_t n = std::fread(comm, 1, sizeof comm - 1, f);
      std::fclose(f);
      std::string c(comm, n);
      if (!c.empty() && c.back() == '\n') c.pop_back();
      if (c == active) out.active = pid;
      if (c == backup) out.backup = pid;
      if (c == active || c == backup) out.count++;
    }
    closedir(d);
  }
  return out;
}

// Waits until no tracker of the program tagged `tag` is left: the first
// active (pid `tag`) and every tracker named after the tag.
inline void await_tracker_exit(pid_t tag) {
  CHECK_MSG(mptest::eventually(
                [&] {
                  Pair p = trackers_of(tag);
                  return mptest::process_gone(tag) && p.active == 0 && p.backup == 0;
                },
                kCleanupBound),
            "the trackers of tag " + std::to_string(tag) + " did not exit after EOF");
}

}  // namespace tracker_test
