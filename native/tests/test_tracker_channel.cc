// The resource tracker's channel (native/core/tracker.h): forged and
// malformed records unlink nothing; object names are checked; the exact
// messages on the wire; adopt(), the client end a parent passed on, also in
// an exec()ed child (this binary run again with --adopt-child).
//
// As in every test_tracker* binary, a test forks a child that starts its own
// tracker, and the parent polls /dev/shm for what it did (tracker_support.h).
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>

#include "core/sys_error.h"
#include "core/tracker.h"
#include "mptest.h"
#include "mptest_process.h"
#include "tracker_support.h"

using namespace mptest;
using namespace tracker_test;
namespace tracker = mp::tracker;
using tracker::Kind;

namespace {

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

// The exec()ed side of the next test: `test_tracker_channel --adopt-child <fd>
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
      execl("/proc/self/exe", "test_tracker_channel", "--adopt-child", fd.c_str(), pid.c_str(), b.c_str(), nullptr);
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

int main(int argc, char** argv) {
  if (argc == 5 && std::strcmp(argv[1], "--adopt-child") == 0) return adopt_child_main(argv);
  return mptest::run_all(argc, argv);
}
