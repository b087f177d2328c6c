// wait_child_exit (native/core/child_status.h): wait for a child's exit
// without reaping it (libuv reaps).
#include <csignal>

#include "core/child_status.h"
#include "core/sys_error.h"
#include "mptest.h"
#include "mptest_process.h"

using namespace mptest;

TEST(a_running_child_is_not_exited) {
  Gate release;
  Child child = spawn([&] { return release.wait() ? 0 : 1; });
  mp::ChildStatus s = mp::wait_child_exit(child.pid(), 0);
  CHECK(!s.exited);
  int64_t start = now_ns();
  s = mp::wait_child_exit(child.pid(), 50 * kMs);
  CHECK(!s.exited);
  CHECK_GE(now_ns() - start, 50 * kMs);
  release.open();
  EXPECT_EXIT(child, 0);
}

TEST(exit_code_without_reaping) {
  Child child = spawn([] { return 7; });
  mp::ChildStatus s = mp::wait_child_exit(child.pid(), 20000 * kMs);
  CHECK(s.exited);
  CHECK_EQ(s.code, 7);
  CHECK_EQ(s.signal, 0);
  // Still a zombie: asking again gives the same answer, and the reaper (here
  // waitpid, in Node libuv) still gets the status.
  s = mp::wait_child_exit(child.pid(), 0);
  CHECK(s.exited);
  CHECK_EQ(s.code, 7);
  CHECK_EQ(proc_state(child.pid()), 'Z');
  pid_t pid = child.pid();
  EXPECT_EXIT(child, 7);
  // Reaped: no longer ours to ask about.
  CHECK_SYSERR(mp::wait_child_exit(pid, 0), ECHILD);
}

TEST(a_blocking_wait_returns_when_the_child_exits) {
  Child child = spawn([] {
    sleep_ns(50 * kMs);
    return 3;
  });
  int64_t start = now_ns();
  mp::ChildStatus s = mp::wait_child_exit(child.pid(), -1);
  CHECK(s.exited);
  CHECK_EQ(s.code, 3);
  CHECK_LT(now_ns() - start, 20000 * kMs);
  EXPECT_EXIT(child, 3);
}

TEST(killed_by_a_signal) {
  Gate release;
  Child child = spawn([&] { return release.wait() ? 0 : 1; });
  CHECK_EQ(kill(child.pid(), SIGTERM), 0);
  mp::ChildStatus s = mp::wait_child_exit(child.pid(), 20000 * kMs);
  CHECK(s.exited);
  CHECK_EQ(s.signal, SIGTERM);
  CHECK_EQ(s.code, 0);
  int st = child.join();
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
}

TEST(killed_with_sigkill_while_waiting) {
  Gate release;
  Child child = spawn([&] { return release.wait() ? 0 : 1; });
  pid_t pid = child.pid();
  Child killer = spawn([pid] {
    sleep_ns(20 * kMs);
    return kill(pid, SIGKILL) == 0 ? 0 : 1;
  });
  mp::ChildStatus s = mp::wait_child_exit(pid, 20000 * kMs);
  CHECK(s.exited);
  CHECK_EQ(s.signal, SIGKILL);
  EXPECT_EXIT(killer, 0);
  int st = child.join();
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

TEST(not_our_child_is_echild) {
  CHECK_SYSERR(mp::wait_child_exit(getppid(), 0), ECHILD);
  CHECK_SYSERR(mp::wait_child_exit(getpid(), 0), ECHILD);
}

MPTEST_MAIN()
