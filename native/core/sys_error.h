// Errors raised by the native core. The core never touches Node-API; the glue
// turns a SysError into a JS Error with `code` (errno name), `errno`, `syscall`.
#pragma once
#include <cerrno>
#include <stdexcept>
#include <string>

namespace mp {

// Name of an errno value ("ENOENT"), or "UNKNOWN" when we have none.
const char* errno_name(int err);

class SysError : public std::runtime_error {
 public:
  SysError(int err, const char* syscall, const std::string& detail);
  int err() const { return err_; }
  const char* syscall() const { return syscall_; }

 private:
  int err_;
  const char* syscall_;
};

// Throws SysError(errno, syscall, detail): call right after a failed syscall.
[[noreturn]] void throw_errno(const char* syscall, const std::string& detail);

}  // namespace mp
