// A tiny test harness for the native core: no framework, no Node, no network.
//
//   TEST(name) { CHECK(cond); CHECK_EQ(a, b); CHECK_SYSERR(expr, ENOENT); }
//   MPTEST_MAIN()
//
// This header is the harness itself: registration, checks, time, names and
// the runner. Child processes and pipes between them are in
// mptest_process.h, shared-memory segments in mptest_shm.h.
//
// A failed check in the test process throws mptest::Failure (so RAII guards
// unmap and unlink what the test made) and the runner goes on with the next
// test. A failed check in a fork()ed child prints and _exit()s with
// kChildFailed; the parent sees it through EXPECT_EXIT().
//
// Every test runs under alarm(kTestTimeoutSec): a hang (a lost wake-up) kills
// the binary with a message instead of stalling CI. The last line a binary
// prints is "MPTEST-RESULT <binary> passed=P failed=F skipped=S", which
// scripts/test-native.cjs adds up.
//
// Names of shared objects are "/mp-ctest-<pid>-<counter>" (pid of the test
// binary, also in children), and the runner fails the binary if any object
// with its prefix is left in /dev/shm when it ends.
#pragma once

#include <dirent.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "core/sys_error.h"

namespace mptest {

constexpr int kChildFailed = 101;  // a CHECK failed in a child
constexpr unsigned kTestTimeoutSec = 60;

struct Failure {};
struct Skip {
  std::string why;
};

struct Case {
  const char* name;
  void (*fn)();
};

inline std::vector<Case>& registry() {
  static std::vector<Case> r;
  return r;
}

struct Registrar {
  Registrar(const char* name, void (*fn)()) { registry().push_back({name, fn}); }
};

inline bool& in_child() {
  static bool v = false;
  return v;
}

inline pid_t& root_pid() {
  static pid_t p = getpid();
  return p;
}

[[noreturn]] inline void fail(const char* file, int line, const std::string& msg) {
  std::fprintf(stderr, "%s:%d: CHECK failed%s: %s\n", file, line, in_child() ? " (in child)" : "", msg.c_str());
  std::fflush(stderr);
  if (in_child()) _exit(kChildFailed);
  throw Failure{};
}

[[noreturn]] inline void skip(const std::string& why) { throw Skip{why}; }

// Printable form of a checked value: enums as their number.
template <typename T>
std::string show(const T& v) {
  std::ostringstream os;
  if constexpr (std::is_enum_v<T>) {
    os << static_cast<long long>(static_cast<std::underlying_type_t<T>>(v));
  } else if constexpr (std::is_same_v<T, bool>) {
    os << (v ? "true" : "false");
  } else {
    os << v;
  }
  return os.str();
}

#define MPT_CAT2(a, b) a##b
#define MPT_CAT(a, b) MPT_CAT2(a, b)

#define TEST(name)                                                                      \
  static void MPT_CAT(mpt_test_, name)();                                               \
  static ::mptest::Registrar MPT_CAT(mpt_reg_, name)(#name, &MPT_CAT(mpt_test_, name)); \
  static void MPT_CAT(mpt_test_, name)()

#define CHECK(cond)                                         \
  do {                                                      \
    if (!(cond)) ::mptest::fail(__FILE__, __LINE__, #cond); \
  } while (0)

#define CHECK_MSG(cond, msg)                                                              \
  do {                                                                                    \
    if (!(cond)) ::mptest::fail(__FILE__, __LINE__, std::string(#cond) + " -- " + (msg)); \
  } while (0)

#define MPT_CHECK_OP(a, op, b)                                                                                   \
  do {                                                                                                           \
    const auto& mpt_a = (a);                                                                                     \
    const auto& mpt_b = (b);                                                                                     \
    if (!(mpt_a op mpt_b))                                                                                       \
      ::mptest::fail(                                                                                            \
          __FILE__, __LINE__,                                                                                    \
          std::string(#a " " #op " " #b) + " (" + ::mptest::show(mpt_a) + " vs " + ::mptest::show(mpt_b) + ")"); \
  } while (0)

#define CHECK_EQ(a, b) MPT_CHECK_OP(a, ==, b)
#define CHECK_NE(a, b) MPT_CHECK_OP(a, !=, b)
#define CHECK_LT(a, b) MPT_CHECK_OP(a, <, b)
#define CHECK_LE(a, b) MPT_CHECK_OP(a, <=, b)
#define CHECK_GE(a, b) MPT_CHECK_OP(a, >=, b)
#define CHECK_GT(a, b) MPT_CHECK_OP(a, >, b)

// expr must throw mp::SysError with err() == errno_value.
#define CHECK_SYSERR(expr, errno_value)                                                   \
  do {                                                                                    \
    bool mpt_thrown = false;                                                              \
    try {                                                                                 \
      (void)(expr);                                                                       \
    } catch (const ::mp::SysError& mpt_e) {                                               \
      mpt_thrown = true;                                                                  \
      if (mpt_e.err() != (errno_value))                                                   \
        ::mptest::fail(__FILE__, __LINE__,                                                \
                       std::string(#expr " threw err ") + ::mp::errno_name(mpt_e.err()) + \
                           ", expected " #errno_value " (" + mpt_e.what() + ")");         \
    }                                                                                     \
    if (!mpt_thrown) ::mptest::fail(__FILE__, __LINE__, #expr " did not throw SysError"); \
  } while (0)

// ---- Time -------------------------------------------------------------------

inline int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

constexpr int64_t kMs = 1000000;

inline void sleep_ns(int64_t ns) {
  timespec ts{time_t(ns / 1000000000), long(ns % 1000000000)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

// Polls pred until true or timeout (an upper bound only: pred decides).
template <typename Pred>
bool eventually(Pred pred, int64_t timeout_ns = 5000 * kMs) {
  int64_t deadline = now_ns() + timeout_ns;
  int64_t pause = 50000;  // 50 us, growing to 10 ms
  for (;;) {
    if (pred()) return true;
    if (now_ns() > deadline) return pred();
    sleep_ns(pause);
    if (pause < 10 * kMs) pause *= 2;
  }
}

// ---- Names and /dev/shm -------------------------------------------------------

inline std::string name_prefix() { return "mp-ctest-" + std::to_string(root_pid()) + "-"; }

// "/mp-ctest-<pid>-<n>": valid both as a segment and as a semaphore name.
inline std::string unique_name() {
  static unsigned counter = 0;
  return "/" + name_prefix() + std::to_string(++counter);
}

inline std::string shm_path(const std::string& name) { return "/dev/shm/" + name.substr(name[0] == '/'); }
inline std::string sem_path(const std::string& name) { return "/dev/shm/sem." + name.substr(name[0] == '/'); }
inline bool exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

// Objects in /dev/shm made by this binary (segments and semaphores).
inline std::vector<std::string> leftovers() {
  std::vector<std::string> out;
  std::string p = name_prefix();
  if (DIR* d = opendir("/dev/shm")) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n.rfind(p, 0) == 0 || n.rfind("sem." + p, 0) == 0) out.push_back(n);
    }
    closedir(d);
  }
  return out;
}

// ---- Runner --------------------------------------------------------------------

inline const char*& current_test() {
  static const char* name = "";
  return name;
}

inline void on_alarm(int) {
  const char* a = "\nTIMEOUT: test ";
  const char* b = current_test();
  const char* c = " exceeded its time limit (a hang: lost wake-up?)\n";
  ssize_t r = write(2, a, std::strlen(a));
  r = write(2, b, std::strlen(b));
  r = write(2, c, std::strlen(c));
  (void)r;
  _exit(124);
}

inline int run_all(int argc, char** argv) {
  root_pid() = getpid();
  setvbuf(stdout, nullptr, _IOLBF, 0);
  signal(SIGALRM, on_alarm);
  const char* binary = std::strrchr(argv[0], '/') ? std::strrchr(argv[0], '/') + 1 : argv[0];
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int passed = 0, failed = 0, skipped = 0;
  for (const Case& c : registry()) {
    if (filter && !std::strstr(c.name, filter)) continue;
    current_test() = c.name;
    std::printf("[ RUN      ] %s\n", c.name);
    alarm(kTestTimeoutSec);
    int64_t start = now_ns();
    bool ok = false;
    std::string note;
    try {
      c.fn();
      ok = true;
    } catch (const Failure&) {
    } catch (const Skip& s) {
      note = s.why;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "unexpected exception: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "unexpected exception\n");
    }
    alarm(0);
    long ms = long((now_ns() - start) / kMs);
    std::fflush(stderr);
    if (!note.empty()) {
      skipped++;
      std::printf("[  SKIPPED ] %s: %s\n", c.name, note.c_str());
    } else if (ok) {
      passed++;
      std::printf("[       OK ] %s (%ld ms)\n", c.name, ms);
    } else {
      failed++;
      std::printf("[  FAILED  ] %s (%ld ms)\n", c.name, ms);
    }
  }
  for (const std::string& n : leftovers()) {
    std::fprintf(stderr, "left in /dev/shm: %s (removed now)\n", n.c_str());
    unlink(("/dev/shm/" + n).c_str());
    failed++;
  }
  std::printf("MPTEST-RESULT %s passed=%d failed=%d skipped=%d\n", binary, passed, failed, skipped);
  return failed == 0 ? 0 : 1;
}

#define MPTEST_MAIN() \
  int main(int argc, char** argv) { return ::mptest::run_all(argc, argv); }

}  // namespace mptest
