// WaitCell (native/core/wait_cell.h): sync wait/wake across processes --
// kNotEqual on entry, timeouts (never early, with and without spinning, a
// spin budget cut to the timeout), the spin policy, wake counts, no futex
// syscall when nobody sleeps (a seccomp trap), a wake without a value change
// and signals during a wait. Many hand-offs: test_wait_cell_stress.cc.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <atomic>
#include <climits>
#include <cstddef>
#include <vector>

#include "core/wait_cell.h"
#include "mptest.h"
#include "mptest_process.h"
#include "mptest_shm.h"

using namespace mptest;
using mp::SpinPolicy;
using mp::WaitCell;
using mp::WaitResult;

TEST(not_equal_on_entry) {
  Segment seg(64);
  WaitCell* c = seg.cell(0);
  c->value.store(5);
  CHECK_EQ(mp::wait_while_equal(c, 4, -1), WaitResult::kNotEqual);
  CHECK_EQ(mp::wait_while_equal(c, 4, 0), WaitResult::kNotEqual);
  CHECK_EQ(mp::wait_while_equal(c, 4, 1000 * kMs), WaitResult::kNotEqual);
  CHECK_EQ(c->sleepers.load(), 0u);
}

TEST(timeout_zero_is_a_poll) {
  Segment seg(64);
  WaitCell* c = seg.cell(0);
  CHECK_EQ(mp::wait_while_equal(c, 0, 0), WaitResult::kTimedOut);
  CHECK_EQ(c->sleepers.load(), 0u);
}

TEST(timeout_without_spinning) {
  SpinPolicyScope scope({0, false});
  Segment seg(64);
  WaitCell* c = seg.cell(0);
  for (int64_t timeout : {1 * kMs, 30 * kMs}) {
    int64_t start = now_ns();
    CHECK_EQ(mp::wait_while_equal(c, 0, timeout), WaitResult::kTimedOut);
    int64_t took = now_ns() - start;
    CHECK_GE(took, timeout);  // absolute CLOCK_MONOTONIC deadline: never early
    CHECK_LT(took, 5000 * kMs);
    CHECK_EQ(c->sleepers.load(), 0u);
  }
}

TEST(timeout_with_default_adaptive_spin) {
  Segment seg(64);
  WaitCell* c = seg.cell(0);
  for (int i = 0; i < 20; i++) {
    int64_t start = now_ns();
    CHECK_EQ(mp::wait_while_equal(c, 0, 2 * kMs), WaitResult::kTimedOut);
    CHECK_GE(now_ns() - start, 2 * kMs);
  }
  CHECK_EQ(c->sleepers.load(), 0u);
}

TEST(spin_budget_is_cut_to_the_timeout) {
  // A 3 s budget must not stretch a 1 ms timeout (the bound is generous on
  // purpose: it only has to tell 1 ms from 3 s).
  SpinPolicyScope scope({3000 * kMs, false});
  Segment seg(64);
  WaitCell* c = seg.cell(0);
  int64_t start = now_ns();
  CHECK_EQ(mp::wait_while_equal(c, 0, 1 * kMs), WaitResult::kTimedOut);
  int64_t took = now_ns() - start;
  CHECK_GE(took, 1 * kMs);
  CHECK_LT(took, 1500 * kMs);
  CHECK_EQ(c->sleepers.load(), 0u);
}

TEST(spin_policy_roundtrip) {
  SpinPolicyScope scope({12345, false});
  SpinPolicy p = mp::get_spin_policy();
  CHECK_EQ(p.max_spin_ns, 12345);
  CHECK_EQ(p.adaptive, false);
  mp::set_spin_policy({-5, true});
  CHECK_EQ(mp::get_spin_policy().max_spin_ns, 0);
  CHECK_EQ(mp::current_spin_budget_ns(), 0);
  mp::set_spin_policy({0, false});
  CHECK_EQ(mp::current_spin_budget_ns(), 0);
}

TEST(wake_without_sleepers_returns_zero) {
  Segment seg(64);
  WaitCell* c = seg.cell(0);
  CHECK_EQ(mp::wake(c, 1), 0);
  CHECK_EQ(mp::wake(c, INT_MAX), 0);
  CHECK_EQ(mp::store_and_wake(c, 42, INT_MAX), 0);
  CHECK_EQ(c->value.load(), 42u);
  CHECK_EQ(c->sleepers.load(), 0u);
}

namespace {

std::atomic<int> g_futex_calls{0};

void on_sigsys(int, siginfo_t*, void*) { g_futex_calls.fetch_add(1); }

// In a child: every futex(2) now raises SIGSYS (counted, the call itself
// fails with ENOSYS) instead of running.
bool trap_futex_syscalls() {
  struct sigaction sa {};
  sa.sa_sigaction = on_sigsys;
  sa.sa_flags = SA_SIGINFO;
  if (sigaction(SIGSYS, &sa, nullptr) != 0) return false;
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_futex, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0;
}

}  // namespace

TEST(wake_without_sleepers_makes_no_syscall) {
  Segment seg(64);
  std::string name = seg.name();
  Child child = spawn([&] {
    Attached a(name);
    WaitCell* c = a.cell(0);
    if (!trap_futex_syscalls()) return kChildSkip;
    for (int i = 0; i < 1000; i++) {
      CHECK_EQ(mp::wake(c, INT_MAX), 0);
      CHECK_EQ(mp::store_and_wake(c, uint32_t(i), 1), 0);
    }
    CHECK_EQ(g_futex_calls.load(), 0);
    // Control: with a sleeper announced, wake() does reach the kernel (so
    // the trap works and the zero above means something).
    c->sleepers.store(1);
    mp::wake(c, 1);
    CHECK_EQ(g_futex_calls.load(), 1);
    c->sleepers.store(0);
    return 0;
  });
  int st = child.join();
  if (WIFEXITED(st) && WEXITSTATUS(st) == kChildSkip) skip("seccomp filters are not available here");
  CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, describe_status(st));
}

TEST(wake_releases_a_sleeper_in_another_process_without_a_value_change) {
  SpinPolicyScope scope({0, false});
  Segment seg(64);
  WaitCell* c = seg.cell(0);
  std::string name = seg.name();
  Child child = spawn([&] {
    Attached a(name);
    // Spurious for the caller (the value did not change), but still kOk.
    return mp::wait_while_equal(a.cell(0), 0, 20000 * kMs) == WaitResult::kOk ? 0 : 1;
  });
  CHECK(eventually([&] { return c->sleepers.load() == 1; }));
  // Announced is not yet asleep: wake until the kernel reports one woken.
  int woken = 0;
  CHECK(eventually([&] { return (woken = mp::wake(c, 1)) == 1; }));
  EXPECT_EXIT(child, 0);
  CHECK_EQ(c->value.load(), 0u);
  CHECK_EQ(c->sleepers.load(), 0u);
}

TEST(wake_count_is_respected_across_processes) {
  SpinPolicyScope scope({0, false});
  Segment seg(64);
  WaitCell* c = seg.cell(0);
  std::string name = seg.name();
  std::vector<Child> children;
  for (int i = 0; i < 3; i++) {
    children.push_back(spawn([&] {
      Attached a(name);
      return mp::wait_while_equal(a.cell(0), 0, 20000 * kMs) == WaitResult::kOk ? 0 : 1;
    }));
  }
  CHECK(eventually([&] { return c->sleepers.load() == 3; }));
  // All three announced; wait until all are asleep in the kernel so one
  // wake(1) meets three sleepers.
  CHECK(eventually([&] {
    for (Child& ch : children)
      if (proc_state(ch.pid()) != 'S') return false;
    return true;
  }));
  CHECK_EQ(mp::wake(c, 1), 1);
  // Exactly one child ends; the other two still sleep (nothing else can
  // wake them: the value is unchanged and their timeout is 20 s).
  int ended = 0;
  CHECK(eventually([&] {
    for (Child& ch : children) {
      int st;
      if (ch.pid() > 0 && ch.try_join(&st)) {
        CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, describe_status(st));
        ended++;
      }
    }
    return ended == 1;
  }));
  CHECK(eventually([&] { return c->sleepers.load() == 2; }));
  CHECK_EQ(ended, 1);
  int rest = 0;
  CHECK(eventually([&] { return (rest += mp::wake(c, INT_MAX)) >= 2; }));
  CHECK_EQ(rest, 2);
  for (Child& ch : children)
    if (ch.pid() > 0) EXPECT_EXIT(ch, 0);
  CHECK_EQ(c->sleepers.load(), 0u);
}

namespace {
void on_usr1(int) {}
}  // namespace

TEST(signals_do_not_stretch_or_cut_the_timeout) {
  SpinPolicyScope scope({0, false});
  Segment seg(64);
  WaitCell* c = seg.cell(0);
  std::string name = seg.name();
  Child child = spawn([&] {
    struct sigaction sa {};
    sa.sa_handler = on_usr1;  // no SA_RESTART: futex returns EINTR
    sigaction(SIGUSR1, &sa, nullptr);
    Attached a(name);
    WaitCell* cc = a.cell(0);
    cc->value.store(1);  // "ready": the handler is installed
    int64_t start = now_ns();
    WaitResult r = mp::wait_while_equal(cc, 1, 200 * kMs);
    int64_t took = now_ns() - start;
    CHECK_EQ(r, WaitResult::kTimedOut);
    CHECK_GE(took, 200 * kMs);
    // And an untimed wait survives signals until a real store.
    cc->value.store(2);
    r = mp::wait_while_equal(cc, 2, -1);
    CHECK_EQ(r, WaitResult::kOk);
    CHECK_EQ(cc->value.load(), 3u);
    return 0;
  });
  CHECK(eventually([&] { return c->value.load() == 1; }));
  // Interrupt the timed wait many times, until the child moves on.
  CHECK(eventually(
      [&] {
        if (c->value.load() != 1) return true;
        kill(child.pid(), SIGUSR1);
        return false;
      },
      20000 * kMs));
  CHECK(eventually([&] { return c->sleepers.load() == 1; }));
  for (int i = 0; i < 20; i++) {
    kill(child.pid(), SIGUSR1);
    sleep_ns(1 * kMs);
  }
  mp::store_and_wake(c, 3, INT_MAX);
  EXPECT_EXIT(child, 0);
  CHECK_EQ(c->sleepers.load(), 0u);
}

MPTEST_MAIN()
