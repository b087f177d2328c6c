// The resource tracker (native/core/tracker.h): what it removes and what it
// leaves alone. Registered objects go after a normal exit and after SIGKILL,
// unregistered ones stay; it waits for the last process of the family;
// remove_object(); a process started with stdin closed.
//
// As in every test_tracker* binary, a test forks a child that starts its own
// tracker, and the parent polls /dev/shm for what it did (tracker_support.h).
#include <signal.h>
#include <unistd.h>

#include "core/semaphore.h"
#include "core/shm.h"
#include "core/tracker.h"
#include "mptest.h"
#include "mptest_process.h"
#include "tracker_support.h"

using namespace mptest;
using namespace tracker_test;
namespace tracker = mp::tracker;
using tracker::Kind;

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

MPTEST_MAIN()
