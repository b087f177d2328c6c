// Child processes for the tests (the harness is mptest.h): spawn() runs a
// function in a fork()ed child, EXPECT_EXIT() checks how it ended, a Gate
// is a pipe between processes, and proc_state() and friends read /proc.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <string>
#include <utility>

#include "mptest.h"

namespace mptest {

constexpr int kChildThrew = 102;  // an exception escaped a child
constexpr int kChildSkip = 77;    // the child could not set up its probe

// A fork()ed child. If the test fails (throws) while a child still runs,
// the destructor kills and reaps it, so no test leaves processes behind.
class Child {
 public:
  explicit Child(pid_t pid = -1) : pid_(pid) {}
  Child(Child&& o) noexcept : pid_(o.pid_) { o.pid_ = -1; }
  Child& operator=(Child&& o) noexcept {
    std::swap(pid_, o.pid_);
    return *this;
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
  }
  pid_t pid() const { return pid_; }

  // Non-blocking: true (and the status) once the child has ended.
  bool try_join(int* status) {
    pid_t r;
    do r = waitpid(pid_, status, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r != pid_) return false;
    pid_ = -1;
    return true;
  }

  // Waits (upper bound only); on timeout kills the child and fails.
  int join(int64_t timeout_ns = 20000 * kMs) {
    int status = 0;
    if (eventually([&] { return try_join(&status); }, timeout_ns)) return status;
    pid_t pid = pid_;
    kill(pid_, SIGKILL);
    while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    fail(__FILE__, __LINE__, "child " + std::to_string(pid) + " did not finish in time");
  }

 private:
  pid_t pid_;
};

// Runs fn in a fork()ed child; its return value is the exit code. The child
// dies with the test binary (PR_SET_PDEATHSIG) and never returns into the
// runner: it leaves through _exit, so no atexit handler or leak check runs
// per child.
inline Child spawn(const std::function<int()>& fn) {
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) fail(__FILE__, __LINE__, std::string("fork: ") + std::strerror(errno));
  if (pid > 0) return Child(pid);
  in_child() = true;
  alarm(0);
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (getppid() != parent) _exit(kChildFailed);
  int code;
  try {
    code = fn();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "exception in child: %s\n", e.what());
    code = kChildThrew;
  } catch (...) {
    std::fprintf(stderr, "unknown exception in child\n");
    code = kChildThrew;
  }
  std::fflush(stdout);
  std::fflush(stderr);
  _exit(code);
}

inline std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

#define EXPECT_EXIT(child, code)                                                                                     \
  do {                                                                                                               \
    int mpt_st = (child).join();                                                                                     \
    if (!(WIFEXITED(mpt_st) && WEXITSTATUS(mpt_st) == (code)))                                                       \
      ::mptest::fail(__FILE__, __LINE__,                                                                             \
                     "child " #child " ended with " + ::mptest::describe_status(mpt_st) + ", expected exit " #code); \
  } while (0)

// A one-way channel between processes: a pipe. Create before fork(). Both
// sides keep both ends, so a reader cannot rely on EOF: recv() has an upper
// bound instead, and a test that fails on the other side cannot hang here.
class Gate {
 public:
  Gate() {
    if (pipe2(fds_, O_CLOEXEC) != 0) fail(__FILE__, __LINE__, "pipe2");
  }
  ~Gate() {
    for (int fd : fds_)
      if (fd >= 0) close(fd);
  }
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;
  void open() { send(1); }
  // True once opened; false after the upper bound.
  bool wait(int64_t timeout_ns = 20000 * kMs) { return recv(timeout_ns) >= 0; }
  void send(int64_t v) {
    if (write(fds_[1], &v, sizeof v) != sizeof v) fail(__FILE__, __LINE__, "gate write");
  }
  // The next value sent, or -1 after the upper bound.
  int64_t recv(int64_t timeout_ns = 20000 * kMs) {
    int64_t deadline = now_ns() + timeout_ns;
    for (;;) {
      pollfd p{fds_[0], POLLIN, 0};
      int64_t left = deadline - now_ns();
      if (left <= 0) return -1;
      int r = poll(&p, 1, int(left / kMs) + 1);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return -1;
      int64_t v = -1;
      ssize_t n;
      do n = read(fds_[0], &v, sizeof v);
      while (n < 0 && errno == EINTR);
      return n == sizeof v ? v : -1;
    }
  }

 private:
  int fds_[2] = {-1, -1};
};

// /proc/self/task: how many threads this process has.
inline int thread_count() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') n++;
    closedir(d);
  }
  return n;
}

// State letter from /proc/<pid>/stat ('S' sleeping, 'Z' zombie, ...), or 0
// if the process is gone.
inline char proc_state(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return 0;
  char buf[512];
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = 0;
  const char* p = std::strrchr(buf, ')');  // comm may contain spaces
  return p && p[1] == ' ' ? p[2] : 0;
}

inline bool process_gone(pid_t pid) {
  char s = proc_state(pid);
  return s == 0 || s == 'Z' || s == 'X';
}

}  // namespace mptest
