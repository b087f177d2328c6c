// The resource tracker (native/core/tracker.h).
//
// This binary never talks to a tracker itself: each test forks a child that
// starts its own (the tracker's state is per process), registers and creates
// objects, and ends; the parent then polls /dev/shm (5 s upper bound) for
// what the tracker did at EOF.
#include <pthread.h>
#include <sys/socket.h>

#include <climits>
#include <cstring>
#include <set>

#include "core/semaphore.h"
#include "core/shm.h"
#include "core/sys_error.h"
#include "core/tracker.h"
#include "mptest.h"
#include "mptest_process.h"

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

mp::Mapping tracked_segment(const std::string& name, size_t size) {
  tracker::register_object(Kind::kSegment, name);
  return mp::shm_create(name, size);
}

// The live tracker processes of the program tagged `tag`, found by the names
// they give themselves (tracker.h): { active, backup }, 0 where none.
struct Pair {
  pid_t active = 0, backup = 0;
  int count = 0;  // every live process with either name (2 for a healthy pair)
};

Pair trackers_of(pid_t tag) {
  Pair out;
  std::string active = tracker::process_name(tag, false), backup = tracker::process_name(tag, true);
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      pid_t pid = pid_t(std::atol(e->d_name));
      if (pid <= 0 || process_gone(pid)) continue;
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

pid_t parent_of(pid_t pid) {
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (!f) return 0;
  char buf[512];
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = 0;
  const char* p = std::strrchr(buf, ')');
  return p ? pid_t(std::atol(p + 4)) : 0;  // ") S <ppid>"
}

// Waits until the program tagged `tag` has an active tracker not in
// `old_active` and a backup not in `old_backup`, and returns them.
Pair await_pair(pid_t tag, std::set<pid_t> old_active = {}, std::set<pid_t> old_backup = {}) {
  Pair p;
  bool ok = eventually(
      [&] {
        p = trackers_of(tag);
        return p.active > 0 && p.backup > 0 && !old_active.count(p.active) && !old_backup.count(p.backup);
      },
      kCleanupBound);
  CHECK_MSG(ok, "no new tracker pair for tag " + std::to_string(tag) + " (active " + std::to_string(p.active) +
                    ", backup " + std::to_string(p.backup) + ")");
  return p;
}

// Waits until no tracker of the program tagged `tag` is left: the first
// active (pid `tag`) and every tracker named after the tag.
void await_tracker_exit(pid_t tag) {
  CHECK_MSG(eventually(
                [&] {
                  Pair p = trackers_of(tag);
                  return process_gone(tag) && p.active == 0 && p.backup == 0;
                },
                kCleanupBound),
            "the trackers of tag " + std::to_string(tag) + " did not exit after EOF");
}

void kill_and_wait(pid_t pid) {
  CHECK_EQ(kill(pid, SIGKILL), 0);
  CHECK_MSG(eventually([&] { return process_gone(pid); }, kCleanupBound),
            "tracker " + std::to_string(pid) + " survived SIGKILL");
}

// A test's own stand-in for another program's file in /dev/shm: never
// registered, so no tracker may remove it.
std::string make_victim(const std::string& name) {
  std::string path = shm_path(name);
  int fd = open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
  CHECK_MSG(fd >= 0, "cannot create " + path);
  close(fd);
  return path;
}

}  // namespace

TEST(registered_objects_are_removed_when_the_process_exits) {
  std::string seg = unique_name(), sem = unique_name();
  Cleanup c{{shm_path(seg), sem_path(sem)}};
  Gate report;
  Child child = spawn([&] {
    tracker::Info info = tracker::ensure();
    CHECK(info.tag > 0);
    CHECK(info.fd >= 0);
    CHECK_EQ(info.tag, tracker::ensure().tag);  // one tracker pair per process
    report.send(info.tag);
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
    report.send(tracker::ensure().tag);
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
    report.send(tracker::ensure().tag);
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
    report.send(tracker::ensure().tag);
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

TEST(the_tracker_is_a_named_pair_of_detached_processes) {
  std::string a = unique_name();
  Cleanup c{{shm_path(a)}};
  Gate report, release;
  Child child = spawn([&] {
    tracker::Info info = tracker::ensure();
    report.send(info.tag);
    tracked_segment(a, 64);
    release.wait();
    return 0;
  });
  pid_t tag = read_pid(report);
  Pair p = await_pair(tag);
  CHECK_EQ(p.active, tag);  // the first active's pid is the tag
  CHECK_EQ(tracker::process_name(tag, false).rfind("mp-trk-", 0), 0u);
  CHECK_LE(tracker::process_name(4194304, true).size(), 15u);  // fits in comm for any pid
  CHECK_EQ(parent_of(p.backup), p.active);                     // the backup is the active's child
  CHECK_NE(parent_of(p.active), child.pid());                  // double-forked: not a child of the program
  release.open();
  EXPECT_EXIT(child, 0);
  await_gone(shm_path(a));
  await_tracker_exit(tag);
}

TEST(killing_the_active_tracker_hands_over_to_the_backup) {
  // Objects registered before and after the kill are removed at exit, and
  // the survivor finds itself a new backup.
  std::string before = unique_name(), after = unique_name(), dropped = unique_name();
  Cleanup c{{shm_path(before), shm_path(after), shm_path(dropped)}};
  Gate report, go;
  Child child = spawn([&] {
    report.send(tracker::ensure().tag);
    tracked_segment(before, 64);
    tracked_segment(dropped, 64);
    tracker::unregister_object(Kind::kSegment, dropped);  // forgotten: must stay
    report.send(1);
    go.wait();
    tracked_segment(after, 64);  // through the same channel, to the new active
    report.send(2);
    go.wait();
    return 0;
  });
  pid_t tag = read_pid(report);
  CHECK_EQ(report.recv(), 1);
  Pair first = await_pair(tag);
  kill_and_wait(first.active);
  Pair second = await_pair(tag, {first.active}, {first.backup});
  CHECK_EQ(second.active, first.backup);  // the backup took over
  go.open();
  CHECK_EQ(report.recv(), 2);
  CHECK(exists(shm_path(before)));
  go.open();
  EXPECT_EXIT(child, 0);
  await_gone(shm_path(before));
  await_gone(shm_path(after));
  await_tracker_exit(tag);
  CHECK(exists(shm_path(dropped)));
}

TEST(killing_the_backup_tracker_starts_another) {
  // Kill the backup, then the active that replaced it: what was registered
  // before either death is still removed at exit.
  std::string a = unique_name(), b = unique_name();
  Cleanup c{{shm_path(a), shm_path(b)}};
  Gate report, go;
  Child child = spawn([&] {
    report.send(tracker::ensure().tag);
    tracked_segment(a, 64);
    report.send(1);
    go.wait();
    tracked_segment(b, 64);
    report.send(2);
    go.wait();
    return 0;
  });
  pid_t tag = read_pid(report);
  CHECK_EQ(report.recv(), 1);
  Pair first = await_pair(tag);
  kill_and_wait(first.backup);
  Pair second = await_pair(tag, {}, {first.backup});
  CHECK_EQ(second.active, first.active);  // a new backup, replayed to
  go.open();
  CHECK_EQ(report.recv(), 2);
  kill_and_wait(second.active);  // the replacement backup must know a and b
  Pair third = await_pair(tag, {second.active}, {first.backup, second.backup});
  CHECK_EQ(third.active, second.backup);
  go.open();
  EXPECT_EXIT(child, 0);
  await_gone(shm_path(a));
  await_gone(shm_path(b));
  await_tracker_exit(tag);
}

TEST(killing_both_trackers_restarts_a_pair_with_everything_registered) {
  std::string a = unique_name(), b = unique_name();
  Cleanup c{{shm_path(a), shm_path(b)}};
  Gate report;
  Child child = spawn([&] {
    pid_t tag = tracker::ensure().tag;
    tracked_segment(a, 64);
    Pair first = await_pair(tag);
    // Both at once (one could replace the other in between): the trackers
    // share the first one's session and process group.
    CHECK_EQ(kill(-tag, SIGKILL), 0);
    CHECK(eventually([&] { return process_gone(first.active) && process_gone(first.backup); }, kCleanupBound));
    tracked_segment(b, 64);                // EPIPE: a new pair, a re-registered, b registered
    CHECK_EQ(tracker::ensure().tag, tag);  // same tag: names made before still say whose they are
    Pair second = await_pair(tag, {first.active, first.backup}, {first.active, first.backup});
    report.send(second.active);
    report.send(second.backup);
    return 0;
  });
  pid_t active = read_pid(report), backup = read_pid(report);
  EXPECT_EXIT(child, 0);
  await_gone(shm_path(a));
  await_gone(shm_path(b));
  CHECK(eventually([&] { return process_gone(active) && process_gone(backup); }, kCleanupBound));
}

// libuv's atfork child handler, as it runs in every fork of a node process:
// it closes its signal pipe by number and makes a new one (fds 4 and 5 in
// the process it was registered in, and in our trackers, our pipe).
void libuv_like_atfork_child() {
  close(4);
  close(5);
  int p[2];
  if (pipe(p) == 0) {
    ssize_t w = write(p[1], "*", 1);
    (void)w;
  }
}

// Kills every process of a tracker's session when a test fails midway, so a
// broken tracker cannot outlive the test (the first active calls setsid()).
struct KillSession {
  pid_t tag = 0;
  ~KillSession() {
    if (tag > 0 && trackers_of(tag).count > 0) kill(-tag, SIGKILL);
  }
};

TEST(atfork_handlers_of_the_program_do_not_split_the_pair) {
  // Regression: the active forked its backups with fork(), which ran the
  // program's atfork handlers in them; libuv's closed the new backup's pipe,
  // the backup took that for the active's death and took over, and the
  // pair multiplied without end.
  std::string a = unique_name(), b = unique_name();
  Cleanup c{{shm_path(a), shm_path(b)}};
  KillSession guard;
  Gate report, go;
  Child child = spawn([&] {
    CHECK_EQ(pthread_atfork(nullptr, nullptr, libuv_like_atfork_child), 0);
    report.send(tracker::ensure().tag);
    tracked_segment(a, 64);
    report.send(1);
    go.wait();
    tracked_segment(b, 64);
    report.send(2);
    go.wait();
    return 0;
  });
  pid_t tag = read_pid(report);
  guard.tag = tag;
  CHECK_EQ(report.recv(), 1);
  Pair first = await_pair(tag);
  go.open();
  CHECK_EQ(report.recv(), 2);  // b went through the pair
  Pair now = trackers_of(tag);
  CHECK_EQ(now.count, 2);
  CHECK_EQ(now.active, first.active);
  CHECK_EQ(now.backup, first.backup);
  kill_and_wait(first.backup);  // and a replacement is forked the same way
  Pair second = await_pair(tag, {}, {first.backup});
  CHECK_EQ(trackers_of(tag).count, 2);
  (void)second;
  go.open();
  EXPECT_EXIT(child, 0);
  await_gone(shm_path(a));
  await_gone(shm_path(b));
  await_tracker_exit(tag);
}

TEST(forged_and_malformed_records_unlink_nothing) {
  // Issue 9, item 11: a name with a newline registered a second name. Now
  // register_object refuses it, and the tracker itself drops any message
  // that is not exactly one well-formed record with a valid name.
  std::string real = unique_name(), victim = unique_name(), other = unique_name();
  std::string victim_path = make_victim(victim), other_path = make_victim(other);
  Cleanup c{{shm_path(real), victim_path, other_path}};
  Gate report;
  Child child = spawn([&] {
    tracker::Info info = tracker::ensure();
    report.send(info.tag);
    std::string v = victim, o = other.substr(1);
    CHECK_SYSERR(tracker::register_object(Kind::kSegment, real + "\nR m " + std::to_string(v.size()) + " " + v),
                 EINVAL);
    // Straight onto the channel, as a buggy or hostile writer could:
    auto raw = [&](const std::string& m) {
      CHECK_EQ(send(info.fd, m.data(), m.size(), MSG_NOSIGNAL), ssize_t(m.size()));
    };
    std::string len = std::to_string(v.size());
    raw("R m " + len + " " + v);                                    // no newline
    raw("R m " + std::to_string(v.size() + 1) + " " + v + "\n");    // length off by one
    raw("R m 0" + len + " " + v + "\n");                            // leading zero
    raw("R m " + len + " " + v + "\nR m " + len + " " + v + "\n");  // two records in one message
    raw("R x " + len + " " + v + "\n");                             // unknown kind
    raw("D - 0 \n");                                                // the trackers' own record
    raw("");                                                        // empty message
    std::string dotted = "/../shm/" + o;                            // /dev/shm/../shm/<other>
    raw("R m " + std::to_string(dotted.size()) + " " + dotted + "\n");
    raw("R m 3 /..\n");
    raw("R m 5 /a\nb\n");
    raw(std::string(PIPE_BUF + 10, 'R'));
    tracked_segment(real, 64);  // and the channel still works after all that
    return 0;
  });
  pid_t tag = read_pid(report);
  EXPECT_EXIT(child, 0);
  await_gone(shm_path(real));
  await_tracker_exit(tag);
  CHECK(exists(victim_path));
  CHECK(exists(other_path));
}

TEST(object_names_are_checked) {
  CHECK(tracker::valid_name("/mp-1a-0123456789abcdef"));
  CHECK(tracker::valid_name("mp-named.A_b:c@d+e=f~g-h.9"));
  CHECK(tracker::valid_name("/" + std::string(tracker::kMaxNameBytes, 'x')));
  CHECK(tracker::valid_name("..."));
  for (const std::string& bad :
       std::vector<std::string>{"", "/", ".", "..", "/.", "/..", "/a/b", "a b", "a\nb", std::string("a\0b", 3), "a\tb",
                                "caf\xc3\xa9", "a\\b", "a*b", "a%b", "//a"}) {
    CHECK_MSG(!tracker::valid_name(bad), "accepted '" + bad + "'");
  }
  CHECK(!tracker::valid_name(std::string(tracker::kMaxNameBytes + 1, 'x')));
  Child child = spawn([&] {
    CHECK_SYSERR(tracker::register_object(Kind::kSegment, "/a b"), EINVAL);
    CHECK_SYSERR(tracker::register_object(Kind::kSemaphore, "/../x"), EINVAL);
    CHECK_SYSERR(tracker::register_object(Kind::kSegment, "/" + std::string(tracker::kMaxNameBytes + 1, 'n')),
                 ENAMETOOLONG);
    tracker::unregister_object(Kind::kSegment, "/a\nb");  // never registered: ignored
    return 0;
  });
  EXPECT_EXIT(child, 0);
}

TEST(the_wire_protocol_and_an_adopted_tracker) {
  // adopt(): the client end a parent passed on. Point it at a socket pair of
  // ours and read the exact messages.
  Child child = spawn([&] {
    int p[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, p), 0);
    int wfd = fcntl(p[1], F_DUPFD, 10);  // any fd >= 3
    CHECK(wfd >= 10);
    close(p[1]);
    // Not a SOCK_SEQPACKET socket, not open, or a standard stream: refused, nothing adopted.
    int devnull = open("/dev/null", O_WRONLY);
    CHECK(devnull >= 3);
    int pp[2], dgram[2];
    CHECK_EQ(pipe(pp), 0);
    CHECK_EQ(socketpair(AF_UNIX, SOCK_DGRAM, 0, dgram), 0);
    CHECK(!tracker::adopt(devnull, getppid()));
    CHECK(!tracker::adopt(pp[1], getppid()));
    CHECK(!tracker::adopt(dgram[1], getppid()));
    CHECK(!tracker::adopt(1000, getppid()));
    CHECK(!tracker::adopt(2, getppid()));
    CHECK(!tracker::adopt(wfd, 0));
    for (int fd : {devnull, pp[0], pp[1], dgram[0], dgram[1]}) close(fd);
    CHECK(tracker::adopt(wfd, getppid()));
    CHECK(fcntl(wfd, F_GETFD) & FD_CLOEXEC);  // not leaked into exec()ed programs
    CHECK(!tracker::adopt(wfd, getppid()));   // already has a tracker
    tracker::Info info = tracker::ensure();
    CHECK_EQ(info.fd, wfd);
    CHECK_EQ(info.tag, getppid());
    tracker::register_object(Kind::kSegment, "/mp-x");
    tracker::register_object(Kind::kSemaphore, "mp-y");
    tracker::unregister_object(Kind::kSegment, "/mp-x");
    // A name that does not fit in one atomic write is refused.
    CHECK_SYSERR(tracker::register_object(Kind::kSegment, std::string(PIPE_BUF, 'n')), ENAMETOOLONG);
    for (const char* expected : {"R m 5 /mp-x\n", "R s 4 mp-y\n", "U m 5 /mp-x\n"}) {
      char buf[256] = {};
      ssize_t n = recv(p[0], buf, sizeof buf, MSG_DONTWAIT);  // one record per message
      CHECK_EQ(std::string(buf, n > 0 ? size_t(n) : 0), std::string(expected));
    }
    char buf[8];
    CHECK_EQ(recv(p[0], buf, sizeof buf, MSG_DONTWAIT), -1);  // nothing more
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
  if (tracker::ensure().tag != pid) return 3;
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
    report.send(info.tag);
    tracked_segment(a, 64);
    int inherited = fcntl(info.fd, F_DUPFD, 10);  // without FD_CLOEXEC
    CHECK(inherited >= 10);
    std::fflush(nullptr);
    pid_t grandchild = fork();
    if (grandchild == 0) {
      std::string fd = std::to_string(inherited), pid = std::to_string(info.tag);
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
  tracker::remove_object(Kind::kSegment, seg);              // missing: ignored
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
    report.send(tracker::ensure().tag);
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
