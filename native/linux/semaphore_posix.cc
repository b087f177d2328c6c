#include <fcntl.h>
#include <time.h>

#include "../core/futex.h"
#include "../core/semaphore.h"
#include "../core/shm.h"
#include "../core/sys_error.h"

namespace mp {

namespace {
std::string quoted(const std::string& name) { return "'" + name + "'"; }
}  // namespace

NamedSemaphore NamedSemaphore::create(const std::string& name, unsigned value) {
  sem_t* s = sem_open(name.c_str(), O_CREAT | O_EXCL, 0600, value);
  if (s == SEM_FAILED) throw_errno("sem_open", quoted(name));
  return NamedSemaphore(s, name);
}

NamedSemaphore NamedSemaphore::open(const std::string& name) {
  // glibc keeps a named semaphore in /dev/shm/sem.<name>. Check who made it
  // before using it (shm.h: another user could have planted it); the
  // directory's sticky bit keeps anyone else from swapping it afterwards.
  std::string path = "/dev/shm/sem." + (name[0] == '/' ? name.substr(1) : name);
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) throw_errno("sem_open", quoted(name));
  check_ownership(st, name);
  sem_t* s = sem_open(name.c_str(), 0);
  if (s == SEM_FAILED) throw_errno("sem_open", quoted(name));
  return NamedSemaphore(s, name);
}

void NamedSemaphore::remove(const std::string& name) {
  if (sem_unlink(name.c_str()) != 0) throw_errno("sem_unlink", quoted(name));
}

void NamedSemaphore::post() {
  if (sem_post(sem_) != 0) throw_errno("sem_post", quoted(name_));
}

bool NamedSemaphore::wait(int64_t timeout_ns) {
  if (timeout_ns < 0) {
    while (sem_wait(sem_) != 0) {
      if (errno != EINTR) throw_errno("sem_wait", quoted(name_));
    }
    return true;
  }
  // sem_timedwait takes a CLOCK_REALTIME deadline: a wall-clock jump can
  // lengthen or shorten it. sem_clockwait fixes that but needs glibc 2.30.
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  int64_t t = int64_t(now.tv_sec) * 1000000000 + now.tv_nsec + timeout_ns;
  timespec deadline{time_t(t / 1000000000), long(t % 1000000000)};
  for (;;) {
    if (sem_timedwait(sem_, &deadline) == 0) return true;
    if (errno == ETIMEDOUT) return false;
    if (errno != EINTR) throw_errno("sem_timedwait", quoted(name_));
  }
}

bool NamedSemaphore::try_wait() {
  for (;;) {
    if (sem_trywait(sem_) == 0) return true;
    if (errno == EAGAIN) return false;
    if (errno != EINTR) throw_errno("sem_trywait", quoted(name_));
  }
}

int NamedSemaphore::value() const {
  int v = 0;
  if (sem_getvalue(sem_, &v) != 0) throw_errno("sem_getvalue", quoted(name_));
  return v;
}

void NamedSemaphore::close() {
  if (sem_) sem_close(sem_);
  sem_ = nullptr;
}

}  // namespace mp
