// The resource tracker (native/core/tracker.h).
//
// This binary never talks to a tracker itself: each test forks a child that
// starts its own (the tracker's state is per process), registers and creates
// objects, and ends; the parent then polls /dev/shm (5 s upper bound) for
// what the tracker did at EOF.
#include <climits>
#include <cstring>
#include <set>

#include "core/semaphore.h"
#include "core/shm.h"
#include "core/sys_error.h"
#include "core/tracker.h"
#include "mptest.h"

using namespace mptest;
namespace tracker = mp::tracker;
using tracker::Kind;

namespace {

constexpr int64_t kCleanupBound = 5000 * kMs;

// Removes every listed object (segment or semaphore) when the test ends.
struct Cleanup {
  std::vector<std::string> paths;
  ~Cleanup() {
    for (const std::string& p : paths) unlink(p.c_str());
  }
};

// The child reports its tracker's pid through this pipe.
pid_t read_pid(Gate& g) {
  int64_t v = g.recv();
  CHECK_MSG(v > 0, "the child did not report its tracker pid");
  return pid_t(v);
}

void await_gone(const std::string& path) {
  CHECK_MSG(eventually([&] { return !exists(path); }, kCleanupBound), path + " was not removed by the tracker");
}

void await_tracker_exit(pid_t pid) {
  CHECK_MSG(eventually([&] { return process_gone(pid); }, kCleanupBound),
            "tracker " + std::to_string(pid) + " did not exit after EOF");
}

mp::Mapping tracked_segment(const std::string& name, size_t size) {
  tracker::register_object(Kind::kSegment, name);
  return mp::shm_create(name, size);
}

}  // namespace

TEST(registered_objects_are_removed_when_the_process_exits) {
  std::string seg = unique_name(), sem = unique_name();
  Cleanup c{{shm_path(seg), sem_path(sem)}};
  Gate report;
  Child child = spawn([&] {
    tracker::Info info = tracker::ensure();
    CHECK(info.pid > 0);
    CHECK(info.fd >= 0);
    CHECK_EQ(info.pid, tracker::ensure().pid);  // one tracker per process
    report.send(info.pid);
    mp::Mapping m = tracked_segment(seg, 4096);
    tracker::register_object(Kind::kSemaphore, sem);
    mp::NamedSemaphore s = mp::NamedSemaphore::create(sem, 0);
    (void)m;
    return 0;  // exit without unlinking anything
  });
  pid_t tracker_pid = read_pid(report);
  EXPECT_EXIT(child, 0);
  await_gone(shm_path(seg));
  await_gone(sem_path(sem));
  await_tracker_exit(tracker_pid);
}

TEST(registered_objects_are_removed_after_sigkill) {
  std::string a = unique_name(), b = unique_name(), s = unique_name();
  Cleanup c{{shm_path(a), shm_path(b), sem_path(s)}};
  Gate report;
  Child child = spawn([&] {
    report.send(tracker::ensure().pid);
    tracked_segment(a, 4096);
    tracked_segment(b, 1);
    tracker::register_object(Kind::kSemaphore, s);
    mp::NamedSemaphore sem = mp::NamedSemaphore::create(s, 1);
    raise(SIGKILL);
    return 1;
  });
  pid_t tracker_pid = read_pid(report);
  int st = child.join();
  CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, describe_status(st));
  await_gone(shm_path(a));
  await_gone(shm_path(b));
  await_gone(sem_path(s));
  await_tracker_exit(tracker_pid);
}

TEST(unregistered_objects_are_not_removed) {
  std::string never = unique_name();     // created, never registered
  std::string dropped = unique_name();   // registered, then unregistered
  std::string removed = unique_name();   // registered, unlinked + unregistered by the child
  std::string kept_sem = unique_name();  // semaphore, registered then unregistered
  std::string tracked = unique_name();   // registered: must go
  Cleanup c{{shm_path(never), shm_path(dropped), shm_path(removed), sem_path(kept_sem), shm_path(tracked)}};
  Gate report;
  Child child = spawn([&] {
    report.send(tracker::ensure().pid);
    mp::shm_create(never, 64);
    tracked_segment(dropped, 64);
    tracker::unregister_object(Kind::kSegment, dropped);
    tracked_segment(removed, 64);
    mp::shm_remove(removed);
    tracker::unregister_object(Kind::kSegment, removed);
    tracker::register_object(Kind::kSemaphore, kept_sem);
    mp::NamedSemaphore s = mp::NamedSemaphore::create(kept_sem, 0);
    tracker::unregister_object(Kind::kSemaphore, kept_sem);
    // Unregistering what was never registered is harmless.
    tracker::unregister_object(Kind::kSegment, never);
    tracked_segment(tracked, 64);
    return 0;
  });
  pid_t tracker_pid = read_pid(report);
  EXPECT_EXIT(child, 0);
  await_gone(shm_path(tracked));
  // The tracker removes everything at once at EOF, then exits: once it has
  // exited, whatever is still there was left alone on purpose.
  await_tracker_exit(tracker_pid);
  CHECK(exists(shm_path(never)));
  CHECK(exists(shm_path(dropped)));
  CHECK(exists(sem_path(kept_sem)));
  CHECK(!exists(shm_path(removed)));
}

TEST(the_tracker_waits_for_the_last_process) {
  // A fork()ed grandchild inherits the write end: the tracker cleans up
  // only when both have exited.
  std::string a = unique_name(), b = unique_name();
  Cleanup c{{shm_path(a), shm_path(b)}};
  Gate report, release;
  Child child = spawn([&] {
    report.send(tracker::ensure().pid);
    tracked_segment(a, 64);
    std::fflush(nullptr);
    pid_t grandchild = fork();
    if (grandchild == 0) {
      tracked_segment(b, 64);
      report.send(1);  // b exists
      release.wait();
      _exit(0);
    }
    return grandchild > 0 ? 0 : 1;
  });
  pid_t tracker_pid = read_pid(report);
  CHECK_EQ(report.recv(), 1);
  EXPECT_EXIT(child, 0);
  // The child is gone, the grandchild lives: nothing may be removed. (This
  // can only catch an early removal, never fail a correct tracker.)
  sleep_ns(100 * kMs);
  CHECK(exists(shm_path(a)));
  CHECK(exists(shm_path(b)));
  CHECK(!process_gone(tracker_pid));
  release.open();
  await_gone(shm_path(a));
  await_gone(shm_path(b));
  await_tracker_exit(tracker_pid);
}

TEST(a_killed_tracker_is_restarted_with_everything_registered) {
  std::string a = unique_name(), b = unique_name();
  Cleanup c{{shm_path(a), shm_path(b)}};
  Gate report;
  Child child = spawn([&] {
    signal(SIGPIPE, SIG_IGN);  // as in Node: a write to a dead tracker is EPIPE
    pid_t first = tracker::ensure().pid;
    tracked_segment(a, 64);
    kill(first, SIGKILL);
    CHECK(eventually([&] { return process_gone(first); }, kCleanupBound));
    tracked_segment(b, 64);  // EPIPE: restart, re-register a, register b
    pid_t second = tracker::ensure().pid;
    CHECK_NE(second, first);
    report.send(second);
    return 0;
  });
  pid_t tracker_pid = read_pid(report);
  EXPECT_EXIT(child, 0);
  await_gone(shm_path(a));
  await_gone(shm_path(b));
  await_tracker_exit(tracker_pid);
}

TEST(the_wire_protocol_and_an_adopted_tracker) {
  // adopt(): the write end a parent passed on. Point it at a pipe of ours
  // and read the exact lines.
  Child child = spawn([&] {
    int p[2];
    CHECK_EQ(pipe(p), 0);
    int wfd = fcntl(p[1], F_DUPFD, 10);  // any fd >= 3
    CHECK(wfd >= 10);
    close(p[1]);
    // Not a pipe, not open, or a standard stream: refused, nothing adopted.
    int devnull = open("/dev/null", O_WRONLY);
    CHECK(devnull >= 3);
    CHECK(!tracker::adopt(devnull, getppid()));
    CHECK(!tracker::adopt(1000, getppid()));
    CHECK(!tracker::adopt(2, getppid()));
    CHECK(!tracker::adopt(wfd, 0));
    close(devnull);
    CHECK(tracker::adopt(wfd, getppid()));
    CHECK(fcntl(wfd, F_GETFD) & FD_CLOEXEC);  // not leaked into exec()ed programs
    CHECK(!tracker::adopt(wfd, getppid()));   // already has a tracker
    tracker::Info info = tracker::ensure();
    CHECK_EQ(info.fd, wfd);
    CHECK_EQ(info.pid, getppid());
    tracker::register_object(Kind::kSegment, "/mp-x");
    tracker::register_object(Kind::kSemaphore, "mp-y");
    tracker::unregister_object(Kind::kSegment, "/mp-x");
    // A name that does not fit in one atomic pipe write is refused.
    CHECK_SYSERR(tracker::register_object(Kind::kSegment, std::string(PIPE_BUF, 'n')), ENAMETOOLONG);
    char buf[256] = {};
    ssize_t n = read(p[0], buf, sizeof buf - 1);
    CHECK_EQ(std::string(buf, n > 0 ? size_t(n) : 0), std::string("R m /mp-x\nR s mp-y\nU m /mp-x\n"));
    return 0;
  });
  EXPECT_EXIT(child, 0);
}

// The exec()ed side of the next test: `test_tracker --adopt-child <fd>
// <tracker pid> <name>` adopts the inherited write end, creates a tracked
// segment and exits without removing it.
int adopt_child_main(char** argv) {
  int fd = std::atoi(argv[2]);
  pid_t pid = pid_t(std::atol(argv[3]));
  if (!tracker::adopt(fd, pid)) return 2;
  if (tracker::ensure().pid != pid) return 3;
  tracked_segment(argv[4], 64);
  return 0;
}

TEST(an_adopted_tracker_cleans_up_after_the_whole_family) {
  // As multiproc starts a child: exec() with the write end inherited and
  // adopted. The objects both register go when the last of them exits.
  std::string a = unique_name(), b = unique_name();
  Cleanup c{{shm_path(a), shm_path(b)}};
  Gate report;
  Child child = spawn([&] {
    tracker::Info info = tracker::ensure();
    report.send(info.pid);
    tracked_segment(a, 64);
    int inherited = fcntl(info.fd, F_DUPFD, 10);  // without FD_CLOEXEC
    CHECK(inherited >= 10);
    std::fflush(nullptr);
    pid_t grandchild = fork();
    if (grandchild == 0) {
      std::string fd = std::to_string(inherited), pid = std::to_string(info.pid);
      execl("/proc/self/exe", "test_tracker", "--adopt-child", fd.c_str(), pid.c_str(), b.c_str(), nullptr);
      _exit(127);
    }
    close(inherited);
    CHECK(grandchild > 0);
    int st = 0;
    while (waitpid(grandchild, &st, 0) < 0 && errno == EINTR) {
    }
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "adopting child: " + describe_status(st));
    CHECK(exists(shm_path(b)));  // its creator is gone, but we still run
    return 0;
  });
  pid_t tracker_pid = read_pid(report);
  EXPECT_EXIT(child, 0);
  await_gone(shm_path(a));
  await_gone(shm_path(b));
  await_tracker_exit(tracker_pid);
}

TEST(remove_object_unlinks_by_kind_and_ignores_missing) {
  std::string seg = unique_name(), sem = unique_name();
  Cleanup c{{shm_path(seg), sem_path(sem)}};
  mp::Mapping m = mp::shm_create(seg, 64);
  mp::shm_unmap(m);
  { mp::NamedSemaphore s = mp::NamedSemaphore::create(sem, 0); }
  tracker::remove_object(Kind::kSemaphore, seg);  // wrong kind: nothing
  CHECK(exists(shm_path(seg)));
  tracker::remove_object(Kind::kSegment, seg);
  CHECK(!exists(shm_path(seg)));
  tracker::remove_object(Kind::kSegment, seg);  // missing: ignored
  tracker::remove_object(Kind::kSemaphore, sem.substr(1));  // with or without '/'
  CHECK(!exists(sem_path(sem)));
}

// Regression: a process whose stdin is closed gets the tracker pipe's read
// end as fd 0, and tracker_main() used to overwrite fd 0 with /dev/null
// before moving the read end to fd 3; the tracker then read EOF at once and
// exited, and nothing was ever cleaned up. (Node reopens fds
// 0-2 at startup, so node programs do not hit it; other users of the core do.)
TEST(a_process_started_with_stdin_closed_is_tracked_too) {
  std::string a = unique_name();
  Cleanup c{{shm_path(a)}};
  Gate report;
  Child child = spawn([&] {
    signal(SIGPIPE, SIG_IGN);  // as in Node
    close(0);
    report.send(tracker::ensure().pid);
    tracked_segment(a, 64);
    return 0;
  });
  read_pid(report);
  EXPECT_EXIT(child, 0);
  await_gone(shm_path(a));
}

int main(int argc, char** argv) {
  if (argc == 5 && std::strcmp(argv[1], "--adopt-child") == 0) return adopt_child_main(argv);
  return mptest::run_all(argc, argv);
}
