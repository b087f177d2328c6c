#include "tracker.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <utility>

#include "sys_error.h"

namespace mp::tracker {

namespace {

std::mutex g_mutex;
Info g_info{0, -1};
// What this process registered, to re-register if the tracker has to be
// restarted (someone killed it).
std::set<std::pair<char, std::string>> g_registered;

// ---- The tracker process -------------------------------------------------

void close_fds_from(int first) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, first, ~0U, 0) == 0) return;
#endif
  long max = sysconf(_SC_OPEN_MAX);
  for (int fd = first; fd < (max > 0 ? max : 65536); fd++) close(fd);
}

[[noreturn]] void tracker_main(int rfd, int report_fd) {
  // We are a fork of a multi-threaded process: use plain syscalls and the
  // C library only (glibc keeps malloc usable in a fork child).
  setsid();
  prctl(PR_SET_NAME, "mp-tracker", 0, 0, 0);
  // Report only once named and detached, so whoever sees our pid sees a
  // tracker that is ready.
  pid_t self = getpid();
  ssize_t w = write(report_fd, &self, sizeof self);
  (void)w;
  close(report_fd);
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    signal(sig, SIG_IGN);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  // Move the pipe to fd 3 before touching 0-2: in a process started with
  // stdin closed, the pipe itself may be fd 0.
  if (rfd != 3) dup2(rfd, 3);
  int devnull = open("/dev/null", O_RDWR);
  for (int fd = 0; fd < 3; fd++) dup2(devnull, fd);
  close_fds_from(4);  // above all, every inherited write end of our own pipe

  std::set<std::pair<char, std::string>> live;
  std::string pending;
  char buf[4096];
  for (;;) {
    ssize_t n = read(3, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: every process of the program is gone
    pending.append(buf, size_t(n));
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      // "R m name"
      if (nl - start < 5 || pending[start + 1] != ' ' || pending[start + 3] != ' ') continue;
      auto key = std::make_pair(pending[start + 2], pending.substr(start + 4, nl - start - 4));
      if (pending[start] == 'R') live.insert(key);
      else if (pending[start] == 'U') live.erase(key);
    }
    pending.erase(0, start);
  }
  for (const auto& [kind, name] : live) remove_object(Kind(kind), name);
  _exit(0);
}

// ---- The client side -----------------------------------------------------

Info start_tracker() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2", "for the resource tracker");
  int report[2];  // the tracker tells us its pid once it is ready
  if (pipe2(report, O_CLOEXEC) != 0) {
    close(fds[0]);
    close(fds[1]);
    throw_errno("pipe2", "for the resource tracker");
  }
  pid_t mid = fork();
  if (mid < 0) {
    int err = errno;
    for (int fd : {fds[0], fds[1], report[0], report[1]}) close(fd);
    throw SysError(err, "fork", "of the resource tracker");
  }
  if (mid == 0) {
    // Fork twice, so that init rather than our program reaps the tracker.
    if (fork() == 0) tracker_main(fds[0], report[1]);
    _exit(0);
  }
  close(fds[0]);
  close(report[1]);
  pid_t tracker = 0;
  ssize_t got;
  do got = read(report[0], &tracker, sizeof tracker);
  while (got < 0 && errno == EINTR);
  close(report[0]);
  while (waitpid(mid, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (got != sizeof tracker || tracker <= 0) {
    close(fds[1]);
    throw SysError(EAGAIN, "fork", "of the resource tracker");
  }
  return Info{tracker, fds[1]};
}

bool write_line(int fd, const std::string& line) {
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;  // EPIPE: the tracker is gone (Node ignores SIGPIPE)
    p += n;
    left -= size_t(n);
  }
  return true;
}

std::string line_of(char op, Kind kind, const std::string& name) {
  std::string line;
  line.reserve(name.size() + 5);
  line += op;
  line += ' ';
  line += char(kind);
  line += ' ';
  line += name;
  line += '\n';
  return line;
}

Info ensure_locked() {
  if (g_info.fd < 0) g_info = start_tracker();
  return g_info;
}

void send_locked(const std::string& line) {
  ensure_locked();
  if (write_line(g_info.fd, line)) return;
  // The tracker died: start a new one and tell it everything we still own.
  close(g_info.fd);
  g_info = start_tracker();
  for (const auto& [kind, name] : g_registered)
    write_line(g_info.fd, line_of('R', Kind(kind), name));
  if (!write_line(g_info.fd, line)) throw_errno("write", "to the resource tracker");
}

}  // namespace

Info ensure() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return ensure_locked();
}

bool adopt(int fd, pid_t pid) {
  struct stat st;
  if (fd < 3 || pid <= 0 || fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) return false;
  // Keep it from leaking into processes the user spawns; multiproc passes it
  // on explicitly to its own children.
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_info.fd >= 0) return false;
  g_info = Info{pid, fd};
  return true;
}

void register_object(Kind kind, const std::string& name) {
  if (name.size() + 5 > PIPE_BUF) throw SysError(ENAMETOOLONG, "register", "'" + name + "'");
  std::lock_guard<std::mutex> lock(g_mutex);
  send_locked(line_of('R', kind, name));
  g_registered.emplace(char(kind), name);
}

void unregister_object(Kind kind, const std::string& name) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_registered.erase({char(kind), name}) == 0 && g_info.fd < 0) return;
  send_locked(line_of('U', kind, name));
}

void remove_object(Kind kind, const std::string& name) {
  std::string base = name[0] == '/' ? name.substr(1) : name;
  std::string path = kind == Kind::kSemaphore ? "/dev/shm/sem." + base : "/dev/shm/" + base;
  unlink(path.c_str());
}

}  // namespace mp::tracker
