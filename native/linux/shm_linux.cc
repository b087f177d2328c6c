// Segments are files in /dev/shm opened directly, which is all glibc's
// shm_open does; doing it ourselves spares the librt link that glibc < 2.34
// needs and keeps every path decision (prefix, O_NOFOLLOW) in this file.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/shm.h"
#include "../core/sys_error.h"

namespace mp {

namespace {

std::string path_of(const std::string& name) {
  // Names are validated by the caller: "/mp-..." or "mp-..." without other slashes.
  return std::string("/dev/shm/") + (name[0] == '/' ? name.substr(1) : name);
}

Mapping map_fd(int fd, size_t size, const std::string& name) {
  void* addr = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) {
    int err = errno;
    close(fd);
    throw SysError(err, "mmap", "'" + name + "'");
  }
  close(fd);
  // A fork()ed process (our resource tracker, or any fork the program makes)
  // must not inherit the mapping: it would pin the memory after unlink.
  madvise(addr, size, MADV_DONTFORK);
  return Mapping{addr, size};
}

}  // namespace

Mapping shm_create(const std::string& name, size_t size) {
  std::string path = path_of(name);
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) throw_errno("shm_open", "'" + name + "'");
  // posix_fallocate reserves the pages now, so running out of /dev/shm space
  // is an ENOSPC here rather than a SIGBUS at the first write.
  int err = posix_fallocate(fd, 0, off_t(size));
  if (err == EOPNOTSUPP || err == EINVAL) err = ftruncate(fd, off_t(size)) == 0 ? 0 : errno;
  if (err != 0) {
    close(fd);
    unlink(path.c_str());
    throw SysError(err, "ftruncate", "'" + name + "' to " + std::to_string(size) + " bytes");
  }
  try {
    return map_fd(fd, size, name);
  } catch (...) {
    unlink(path.c_str());  // nothing may outlive a failed create
    throw;
  }
}

Mapping shm_open_existing(const std::string& name) {
  int fd = open(path_of(name).c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) throw_errno("shm_open", "'" + name + "'");
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    throw SysError(err, "fstat", "'" + name + "'");
  }
  if (st.st_size == 0) {
    close(fd);
    // A zero-length object cannot be mapped; most likely another process
    // is between its create and its resize.
    throw SysError(EINVAL, "shm_open", "'" + name + "' (segment has size 0)");
  }
  return map_fd(fd, size_t(st.st_size), name);
}

void shm_unmap(Mapping& m) {
  if (m.addr) munmap(m.addr, m.size);
  m.addr = nullptr;
  m.size = 0;
}

void shm_remove(const std::string& name) {
  if (unlink(path_of(name).c_str()) != 0) throw_errno("shm_unlink", "'" + name + "'");
}

}  // namespace mp
