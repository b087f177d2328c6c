// POSIX named semaphores (native/core/semaphore.h).
#include <utility>

#include "core/semaphore.h"
#include "core/sys_error.h"
#include "mptest.h"
#include "mptest_process.h"

using namespace mptest;
using mp::NamedSemaphore;

namespace {

struct SemUnlinker {
  std::string name;
  ~SemUnlinker() { sem_unlink(name.c_str()); }
};

}  // namespace

TEST(create_value_try_wait_post) {
  std::string name = unique_name();
  SemUnlinker u{name};
  NamedSemaphore s = NamedSemaphore::create(name, 2);
  CHECK(exists(sem_path(name)));
  CHECK_EQ(s.name(), name);
  CHECK(!s.closed());
  CHECK_EQ(s.value(), 2);
  CHECK(s.try_wait());
  CHECK(s.try_wait());
  CHECK_EQ(s.value(), 0);
  CHECK(!s.try_wait());
  CHECK_EQ(s.value(), 0);
  s.post();
  CHECK_EQ(s.value(), 1);
  CHECK(s.wait(-1));  // available: does not block
  s.post();
  CHECK(s.wait(1000 * kMs));  // available: true at once
  CHECK_EQ(s.value(), 0);
  s.close();
  CHECK(s.closed());
  s.close();  // twice: fine
  NamedSemaphore::remove(name);
  CHECK(!exists(sem_path(name)));
}

TEST(wait_times_out) {
  std::string name = unique_name();
  SemUnlinker u{name};
  NamedSemaphore s = NamedSemaphore::create(name, 0);
  CHECK(!s.wait(0));
  int64_t start = now_ns();
  CHECK(!s.wait(50 * kMs));
  int64_t took = now_ns() - start;
  // sem_timedwait's deadline is on CLOCK_REALTIME: allow a little for the
  // clocks' difference, but a timeout must not return early by much.
  CHECK_GE(took, 45 * kMs);
  CHECK_LT(took, 5000 * kMs);
  CHECK_EQ(s.value(), 0);
  NamedSemaphore::remove(name);
}

TEST(create_is_exclusive_open_shares_the_count) {
  std::string name = unique_name();
  SemUnlinker u{name};
  NamedSemaphore a = NamedSemaphore::create(name, 1);
  CHECK_SYSERR(NamedSemaphore::create(name, 5), EEXIST);
  NamedSemaphore b = NamedSemaphore::open(name);
  CHECK_EQ(b.value(), 1);
  CHECK(b.try_wait());
  CHECK_EQ(a.value(), 0);
  a.post();
  a.post();
  CHECK_EQ(b.value(), 2);
  NamedSemaphore::remove(name);
  // Open handles stay usable after the name is gone.
  CHECK(b.try_wait());
  CHECK_EQ(a.value(), 1);
  CHECK_SYSERR(NamedSemaphore::open(name), ENOENT);
  CHECK_SYSERR(NamedSemaphore::remove(name), ENOENT);
}

TEST(open_of_a_missing_name_fails_enoent) {
  std::string name = unique_name();
  bool thrown = false;
  try {
    NamedSemaphore::open(name);
  } catch (const mp::SysError& e) {
    thrown = true;
    CHECK_EQ(e.err(), ENOENT);
    CHECK_EQ(std::string(e.syscall()), std::string("sem_open"));
  }
  CHECK(thrown);
}

TEST(move_leaves_the_source_closed) {
  std::string name = unique_name();
  SemUnlinker u{name};
  NamedSemaphore a = NamedSemaphore::create(name, 3);
  NamedSemaphore b(std::move(a));
  CHECK(a.closed());
  CHECK(!b.closed());
  CHECK_EQ(b.name(), name);
  CHECK_EQ(b.value(), 3);
  NamedSemaphore::remove(name);
}

TEST(post_from_another_process_releases_a_waiter) {
  std::string name = unique_name();
  SemUnlinker u{name};
  NamedSemaphore s = NamedSemaphore::create(name, 0);
  Gate ready;
  Child child = spawn([&] {
    NamedSemaphore c = NamedSemaphore::open(name);
    ready.open();
    // Blocks until the parent posts (20 s is only an upper bound).
    if (!c.wait(20000 * kMs)) return 1;
    // Then hand one back.
    c.post();
    return 0;
  });
  CHECK(ready.wait());
  s.post();
  EXPECT_EXIT(child, 0);
  CHECK_EQ(s.value(), 1);
  CHECK(s.try_wait());
  NamedSemaphore::remove(name);
}

TEST(counts_across_processes) {
  std::string name = unique_name();
  SemUnlinker u{name};
  NamedSemaphore s = NamedSemaphore::create(name, 0);
  constexpr int kChildren = 3, kPosts = 1000;
  std::vector<Child> children;
  for (int i = 0; i < kChildren; i++) {
    children.push_back(spawn([&] {
      NamedSemaphore c = NamedSemaphore::open(name);
      for (int j = 0; j < kPosts; j++) c.post();
      return 0;
    }));
  }
  for (int i = 0; i < kChildren * kPosts; i++) CHECK(s.wait(20000 * kMs));
  for (Child& c : children) EXPECT_EXIT(c, 0);
  CHECK_EQ(s.value(), 0);
  CHECK(!s.try_wait());
  NamedSemaphore::remove(name);
}

MPTEST_MAIN()
