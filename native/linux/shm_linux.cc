// Segments are files in /dev/shm opened directly, which is all glibc's
// shm_open does; doing it ourselves spares the librt link that glibc < 2.34
// needs and keeps every path decision (prefix, O_NOFOLLOW) in this file.
// The table of our mappings and the SIGBUS handler that keeps a shrunk
// segment from killing the process are here too (see native/core/shm.h).
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "../core/shm.h"
#include "../core/sys_error.h"

namespace mp {

namespace {

std::string path_of(const std::string& name) {
  // Names are validated by the caller: "/mp-..." or "mp-..." without other slashes.
  return std::string("/dev/shm/") + (name[0] == '/' ? name.substr(1) : name);
}

std::string quoted(const std::string& name) { return "'" + name + "'"; }

// ---- The table of our mappings ---------------------------------------------
// Read by the SIGBUS handler without a lock (atomics only); written under
// g_table_mutex. An entry is free while its start is 0.
constexpr size_t kTableSize = 65536;

struct Entry {
  std::atomic<uintptr_t> start;
  std::atomic<size_t> len;
  std::atomic<uint32_t> truncated;
};

Entry g_table[kTableSize];
std::atomic<size_t> g_high{0};  // entries at or above this index were never used
std::mutex g_table_mutex;
size_t g_used = 0;
size_t g_next = 0;  // where the search for a free entry starts
struct sigaction g_previous;
const size_t g_page = size_t(sysconf(_SC_PAGESIZE));

size_t read_max_map_count() {
  FILE* f = std::fopen("/proc/sys/vm/max_map_count", "re");
  long v = 0;
  if (f) {
    if (std::fscanf(f, "%ld", &v) != 1) v = 0;
    std::fclose(f);
  }
  return v > 0 ? size_t(v) : 65530;  // the kernel's default
}

// V8, libuv and the libraries need mappings of their own: leave them room.
const size_t g_limit = [] {
  size_t max = read_max_map_count();
  size_t limit = max > 8192 + 1024 ? max - 8192 : 1024;
  return limit < kTableSize ? limit : kTableSize;
}();

void on_sigbus(int sig, siginfo_t* info, void* context) {
  // Only a fault at an address (BUS_ADRERR: beyond the end of the file) can
  // be ours; a SIGBUS sent with kill() carries no address.
  if (info->si_code == BUS_ADRERR) {
    auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
    size_t high = g_high.load(std::memory_order_acquire);
    for (size_t i = 0; i < high; i++) {
      uintptr_t start = g_table[i].start.load(std::memory_order_acquire);
      size_t len = g_table[i].len.load(std::memory_order_acquire);
      if (start == 0 || addr < start || addr >= start + len) continue;
      uintptr_t page = addr & ~(uintptr_t(g_page) - 1);
      // Only the faulting page: every page past the file's new end faults
      // in turn when touched and is replaced the same way, so all of them
      // read as ones. (Zeros would let this process believe a lock there
      // free -- alone, since that memory is no longer shared.) mmap is a
      // plain system call: safe here. The faulting access is retried on
      // return and now finds the private page.
      void* r = mmap(reinterpret_cast<void*>(page), g_page, PROT_READ | PROT_WRITE,
                     MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (r != MAP_FAILED) {
        // All ones: a lock word of 0xFFFFFFFF is held (so the next acquire
        // goes to the addon, which reports the truncation).
        std::memset(reinterpret_cast<void*>(page), 0xFF, g_page);
        g_table[i].truncated.store(1, std::memory_order_release);
        return;
      }
      break;
    }
  }
  // Not ours: behave as if we had never installed a handler.
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction) g_previous.sa_sigaction(sig, info, context);
    return;
  }
  if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(sig);
    return;
  }
  // Default action: a fault re-executes and kills with SIGBUS; a signal that
  // was sent is sent again, now to the default disposition.
  signal(SIGBUS, SIG_DFL);
  if (info->si_code <= 0) raise(SIGBUS);
}

void install_handler_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &g_previous);
  });
}

int register_mapping(void* addr, size_t len) {
  std::lock_guard<std::mutex> lock(g_table_mutex);
  for (size_t n = 0; n < kTableSize; n++) {
    size_t i = (g_next + n) % kTableSize;
    if (g_table[i].start.load(std::memory_order_relaxed) != 0) continue;
    g_table[i].len.store(len, std::memory_order_relaxed);
    g_table[i].truncated.store(0, std::memory_order_relaxed);
    g_table[i].start.store(reinterpret_cast<uintptr_t>(addr), std::memory_order_release);
    if (i + 1 > g_high.load(std::memory_order_relaxed)) g_high.store(i + 1, std::memory_order_release);
    g_next = i + 1;
    g_used++;
    return int(i);
  }
  return -1;  // unreachable while g_limit <= kTableSize
}

void reserve_slot(const std::string& name) {
  install_handler_once();
  std::lock_guard<std::mutex> lock(g_table_mutex);
  if (g_used >= g_limit) {
    throw SysError(EMFILE, "mmap",
                   quoted(name) + ": this process already maps " + std::to_string(g_used) +
                       " multiproc segments, the most it may (the kernel allows " +
                       std::to_string(read_max_map_count()) +
                       " mappings per process, vm.max_map_count, and V8 needs the rest); "
                       "close or drop some shared objects first");
  }
}

Mapping map_fd(int fd, size_t size, const std::string& name) {
  try {
    reserve_slot(name);
  } catch (...) {
    close(fd);
    throw;
  }
  void* addr = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) {
    int err = errno;
    close(fd);
    throw SysError(err, "mmap", quoted(name));
  }
  close(fd);
  // A fork()ed process (our resource tracker, or any fork the program makes)
  // must not inherit the mapping: it would pin the memory after unlink.
  madvise(addr, size, MADV_DONTFORK);
  return Mapping{addr, size, register_mapping(addr, size)};
}

}  // namespace

void check_ownership(const struct stat& st, const std::string& name) {
  // The messages read "open '<name>' (<why>) failed: Operation not permitted (EPERM)".
  if (!S_ISREG(st.st_mode)) throw SysError(EPERM, "open", quoted(name) + " (not a regular file: refused)");
  if (st.st_uid != geteuid()) {
    throw SysError(EPERM, "open",
                   quoted(name) + " (owned by uid " + std::to_string(st.st_uid) + ", not by this process's uid " +
                       std::to_string(geteuid()) + ": an object another user made is refused)");
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", unsigned(st.st_mode & 07777));
    throw SysError(EPERM, "open",
                   quoted(name) + " (mode " + std::string(mode) + ": group or others may write it, so it is refused)");
  }
}

Mapping shm_create(const std::string& name, size_t size) {
  std::string path = path_of(name);
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) throw_errno("shm_open", quoted(name));
  // posix_fallocate reserves the pages now, so running out of /dev/shm space
  // is an ENOSPC here rather than a SIGBUS at the first write.
  int err = posix_fallocate(fd, 0, off_t(size));
  if (err == EOPNOTSUPP || err == EINVAL) err = ftruncate(fd, off_t(size)) == 0 ? 0 : errno;
  if (err != 0) {
    close(fd);
    unlink(path.c_str());
    throw SysError(err, "ftruncate", quoted(name) + " to " + std::to_string(size) + " bytes");
  }
  try {
    return map_fd(fd, size, name);
  } catch (...) {
    unlink(path.c_str());  // nothing may outlive a failed create
    throw;
  }
}

Mapping shm_open_existing(const std::string& name, size_t min_size) {
  int fd = open(path_of(name).c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) throw_errno("shm_open", quoted(name));
  struct stat st;
  try {
    if (fstat(fd, &st) != 0) throw_errno("fstat", quoted(name));
    check_ownership(st, name);
    if (st.st_size == 0) {
      // A zero-length object cannot be mapped; most likely another process
      // is between its create and its resize.
      throw SysError(EINVAL, "shm_open", quoted(name) + " (segment has size 0)");
    }
    if (size_t(st.st_size) < min_size) {
      throw SysError(EBADMSG, "shm_open",
                     quoted(name) + " (" + std::to_string(st.st_size) + " bytes, fewer than the " +
                         std::to_string(min_size) + " it must have: truncated, or not made by multiproc)");
    }
  } catch (...) {
    close(fd);
    throw;
  }
  return map_fd(fd, size_t(st.st_size), name);
}

void shm_unmap(Mapping& m) {
  if (m.addr) {
    if (m.slot >= 0) {
      std::lock_guard<std::mutex> lock(g_table_mutex);
      g_table[m.slot].start.store(0, std::memory_order_release);
      g_used--;
    }
    munmap(m.addr, m.size);
  }
  m = Mapping{};
}

bool shm_truncated(const Mapping& m) {
  return m.slot >= 0 && g_table[m.slot].truncated.load(std::memory_order_acquire) != 0;
}

const std::atomic<uint32_t>* shm_truncated_flag(const Mapping& m) {
  return m.slot >= 0 ? &g_table[m.slot].truncated : nullptr;
}

size_t shm_mapping_limit() { return g_limit; }

size_t shm_mapping_count() {
  std::lock_guard<std::mutex> lock(g_table_mutex);
  return g_used;
}

void shm_remove(const std::string& name) {
  if (unlink(path_of(name).c_str()) != 0) throw_errno("shm_unlink", quoted(name));
}

}  // namespace mp
