// The resource tracker (native/core/tracker.h) as an active/backup pair of
// processes: their names and parentage; killing the active (the backup takes
// over), the backup (a replacement starts) or both (a new pair with the same
// tag), with nothing registered lost; the program's atfork handlers do not
// split the pair.
//
// As in every test_tracker* binary, a test forks a child that starts its own
// tracker, and the parent polls /dev/shm for what it did (tracker_support.h).
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>

#include "core/tracker.h"
#include "mptest.h"
#include "mptest_process.h"
#include "tracker_support.h"

using namespace mptest;
using namespace tracker_test;
namespace tracker = mp::tracker;
using tracker::Kind;

namespace {

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

void kill_and_wait(pid_t pid) {
  CHECK_EQ(kill(pid, SIGKILL), 0);
  CHECK_MSG(eventually([&] { return process_gone(pid); }, kCleanupBound),
            "tracker " + std::to_string(pid) + " survived SIGKILL");
}

}  // namespace

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

MPTEST_MAIN()
