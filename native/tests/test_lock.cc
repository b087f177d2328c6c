// Owner identity of the robust locks (native/core/lock.h): a thread id and a
// stamp of its start time, so that a dead holder is told from a stranger
// that got its id later; takeover of a dead holder's lock.
#include <sys/wait.h>
#include <unistd.h>

#include "core/lock.h"
#include "mptest.h"
#include "mptest_process.h"
#include "mptest_shm.h"

using mp::LockResult;
using mp::LockState;
using namespace mptest;

namespace {
mp::Owner me() { return mp::Owner{mp::current_thread_id(), mp::thread_stamp(mp::current_thread_id())}; }
}  // namespace

TEST(a_thread_is_alive_only_as_the_incarnation_its_stamp_names) {
  uint32_t self = mp::current_thread_id();
  uint32_t stamp = mp::thread_stamp(self);
  CHECK(stamp != 0);
  CHECK(mp::thread_alive(self, stamp));
  CHECK(mp::thread_alive(self, 0));           // no stamp: only whether the id exists
  CHECK(!mp::thread_alive(self, stamp + 1));  // another incarnation of this id: dead
  CHECK(!mp::thread_alive(4000000, 0));       // no such thread
  CHECK_EQ(mp::thread_stamp(4000000), 0u);
}

TEST(a_lock_held_under_a_wrong_stamp_is_taken_over_one_with_no_stamp_is_not) {
  Segment seg(sizeof(LockState));
  auto* lock = static_cast<LockState*>(seg.addr());
  // pid 1 lives, but not as the incarnation this stamp names: its holder died and the id moved on.
  lock->cell.value.store(1);
  lock->stamp.store(mp::thread_stamp(1) + 7);
  CHECK(mp::lock_take_if_owner_dead(lock, 1, me()));
  CHECK_EQ(lock->cell.value.load(), me().tid);
  CHECK_EQ(lock->stamp.load(), me().stamp);
  // The right stamp, or none yet (a holder between its CAS and its stamp store): alive.
  lock->cell.value.store(1);
  lock->stamp.store(mp::thread_stamp(1));
  CHECK(!mp::lock_take_if_owner_dead(lock, 1, me()));
  lock->stamp.store(0);
  CHECK(!mp::lock_take_if_owner_dead(lock, 1, me()));
  // A zero-timeout acquire gets a dead holder's lock at once.
  lock->stamp.store(mp::thread_stamp(1) + 7);
  CHECK(mp::lock_acquire(lock, me(), 0) == LockResult::kOwnerDied);
  mp::lock_release(lock);
  CHECK_EQ(lock->cell.value.load(), 0u);
  CHECK_EQ(lock->stamp.load(), 0u);
}

TEST(a_wait_shorter_than_a_slice_checks_the_holder_at_its_deadline_unless_told_not_to) {
  Segment seg(sizeof(LockState));
  auto* lock = static_cast<LockState*>(seg.addr());
  lock->cell.value.store(1);
  lock->stamp.store(mp::thread_stamp(1) + 7);  // a dead incarnation of pid 1
  // The rings' async steps of microseconds leave the check to ring_recover.
  CHECK(mp::lock_acquire(lock, me(), 1 * kMs, mp::Liveness::kSlicesOnly) == LockResult::kTimedOut);
  CHECK_EQ(lock->cell.value.load(), 1u);
  // Any other timeout, however short, finds the dead holder's lock.
  CHECK(mp::lock_acquire(lock, me(), 1 * kMs) == LockResult::kOwnerDied);
  CHECK_EQ(lock->cell.value.load(), me().tid);
  mp::lock_release(lock);
}

TEST(a_holder_killed_in_another_process_is_taken_over) {
  Segment seg(sizeof(LockState));
  auto* lock = static_cast<LockState*>(seg.addr());
  Gate held;
  Child c = spawn([&] {
    Attached a(seg.name());
    auto* l = static_cast<LockState*>(a.mapping().addr);
    mp::Owner self{mp::current_thread_id(), mp::thread_stamp(mp::current_thread_id())};
    if (!mp::lock_try(l, self)) return 1;
    held.open();
    pause();
    return 0;
  });
  CHECK(held.wait());
  CHECK(mp::lock_acquire(lock, me(), 5 * kMs) == LockResult::kTimedOut);  // its holder lives
  kill(c.pid(), SIGKILL);
  c.join();
  CHECK(mp::lock_acquire(lock, me(), 10000 * kMs) == LockResult::kOwnerDied);
  mp::lock_release(lock);
}

MPTEST_MAIN()
