#include "sys_error.h"

#include <cstring>

namespace mp {

const char* errno_name(int err) {
  // A table of our own rather than strerrorname_np (glibc >= 2.32), so the
  // prebuilt binary loads on older distributions too.
  switch (err) {
// A table, one row of cases a line:
// clang-format off
#define MP_ERRNO(e) case e: return #e;
    MP_ERRNO(EPERM) MP_ERRNO(ENOENT) MP_ERRNO(ESRCH) MP_ERRNO(EINTR) MP_ERRNO(EIO)
    MP_ERRNO(ENXIO) MP_ERRNO(E2BIG) MP_ERRNO(EBADF) MP_ERRNO(ECHILD) MP_ERRNO(EAGAIN)
    MP_ERRNO(ENOMEM) MP_ERRNO(EACCES) MP_ERRNO(EFAULT) MP_ERRNO(EBUSY) MP_ERRNO(EEXIST)
    MP_ERRNO(ENODEV) MP_ERRNO(ENOTDIR) MP_ERRNO(EISDIR) MP_ERRNO(EINVAL) MP_ERRNO(ENFILE)
    MP_ERRNO(EMFILE) MP_ERRNO(EFBIG) MP_ERRNO(ENOSPC) MP_ERRNO(ESPIPE) MP_ERRNO(EROFS)
    MP_ERRNO(EPIPE) MP_ERRNO(ERANGE) MP_ERRNO(ENAMETOOLONG) MP_ERRNO(ENOSYS)
    MP_ERRNO(ELOOP) MP_ERRNO(EOVERFLOW) MP_ERRNO(ETIMEDOUT) MP_ERRNO(EOWNERDEAD)
    MP_ERRNO(ENOTRECOVERABLE) MP_ERRNO(EDEADLK) MP_ERRNO(ENOTSUP) MP_ERRNO(EBADMSG)
#undef MP_ERRNO
    default: return "UNKNOWN";
    // clang-format on
  }
}

static std::string describe(int err, const char* syscall, const std::string& detail) {
  std::string msg = syscall;
  if (!detail.empty()) msg += " " + detail;
  msg += " failed: ";
  msg += std::strerror(err);
  msg += " (";
  msg += errno_name(err);
  msg += ")";
  return msg;
}

SysError::SysError(int err, const char* syscall, const std::string& detail)
    : std::runtime_error(describe(err, syscall, detail)), err_(err), syscall_(syscall) {}

void throw_errno(const char* syscall, const std::string& detail) { throw SysError(errno, syscall, detail); }

}  // namespace mp
