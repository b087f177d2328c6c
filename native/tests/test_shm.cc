// Shared-memory segments (native/core/shm.h) and SysError.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "core/shm.h"
#include "core/sys_error.h"
#include "mptest.h"
#include "mptest_process.h"

using namespace mptest;

namespace {

// Unlinks a name when the test ends, if it still exists.
struct Unlinker {
  std::string path;
  ~Unlinker() { unlink(path.c_str()); }
};

}  // namespace

TEST(create_is_zero_filled_and_exclusive) {
  std::string name = unique_name();
  Unlinker u{shm_path(name)};
  mp::Mapping m = mp::shm_create(name, 10000);
  CHECK(m.addr != nullptr);
  CHECK_EQ(m.size, size_t(10000));
  const unsigned char* p = static_cast<const unsigned char*>(m.addr);
  for (size_t i = 0; i < m.size; i++) CHECK_EQ(int(p[i]), 0);
  CHECK(exists(shm_path(name)));
  struct stat st;
  CHECK_EQ(stat(shm_path(name).c_str(), &st), 0);
  CHECK_EQ(int(st.st_mode & 0777), 0600);
  CHECK_EQ(st.st_size, off_t(10000));

  // The name is taken: a second create fails with EEXIST, as a SysError.
  bool thrown = false;
  try {
    mp::shm_create(name, 4096);
  } catch (const mp::SysError& e) {
    thrown = true;
    CHECK_EQ(e.err(), EEXIST);
    CHECK_EQ(std::string(e.syscall()), std::string("shm_open"));
    CHECK_MSG(std::strstr(e.what(), "EEXIST") != nullptr, e.what());
    CHECK_MSG(std::strstr(e.what(), name.c_str()) != nullptr, e.what());
  }
  CHECK(thrown);
  // ... and left the existing segment alone.
  CHECK_EQ(stat(shm_path(name).c_str(), &st), 0);
  CHECK_EQ(st.st_size, off_t(10000));
  mp::shm_unmap(m);
  mp::shm_remove(name);
}

TEST(names_with_and_without_a_leading_slash_are_the_same_object) {
  std::string name = unique_name();  // "/mp-ctest-..."
  Unlinker u{shm_path(name)};
  mp::Mapping m = mp::shm_create(name, 64);
  CHECK_SYSERR(mp::shm_create(name.substr(1), 64), EEXIST);
  mp::Mapping o = mp::shm_open_existing(name.substr(1));
  static_cast<char*>(m.addr)[5] = 'x';
  CHECK_EQ(static_cast<char*>(o.addr)[5], 'x');
  mp::shm_unmap(o);
  mp::shm_unmap(m);
  mp::shm_remove(name.substr(1));
  CHECK(!exists(shm_path(name)));
}

TEST(open_sees_the_same_bytes_and_size) {
  std::string name = unique_name();
  Unlinker u{shm_path(name)};
  mp::Mapping a = mp::shm_create(name, 12345);
  unsigned char* pa = static_cast<unsigned char*>(a.addr);
  for (size_t i = 0; i < a.size; i++) pa[i] = static_cast<unsigned char>(i * 7 + 1);
  mp::Mapping b = mp::shm_open_existing(name);
  CHECK_EQ(b.size, size_t(12345));  // the object's size, not rounded to pages
  CHECK(b.addr != a.addr);
  CHECK_EQ(std::memcmp(a.addr, b.addr, a.size), 0);
  // Writes through either mapping are seen through the other.
  static_cast<unsigned char*>(b.addr)[100] = 0xAB;
  CHECK_EQ(int(pa[100]), 0xAB);
  mp::shm_unmap(b);
  CHECK(b.addr == nullptr);
  CHECK_EQ(b.size, size_t(0));
  mp::shm_unmap(b);  // an empty mapping: no-op
  mp::shm_unmap(a);
  mp::shm_remove(name);
}

TEST(another_process_sees_the_same_bytes) {
  std::string name = unique_name();
  Unlinker u{shm_path(name)};
  mp::Mapping m = mp::shm_create(name, 4096);
  std::memcpy(m.addr, "from parent", 12);
  Child child = spawn([&] {
    mp::Mapping c = mp::shm_open_existing(name);
    CHECK_EQ(c.size, size_t(4096));
    CHECK_EQ(std::memcmp(c.addr, "from parent", 12), 0);
    std::memcpy(static_cast<char*>(c.addr) + 100, "from child", 11);
    mp::shm_unmap(c);
    return 0;
  });
  EXPECT_EXIT(child, 0);
  CHECK_EQ(std::memcmp(static_cast<char*>(m.addr) + 100, "from child", 11), 0);
  mp::shm_unmap(m);
  mp::shm_remove(name);
}

TEST(mappings_are_not_inherited_by_fork) {
  // MADV_DONTFORK: a fork()ed process (the tracker) must not pin segments.
  std::string name = unique_name();
  Unlinker u{shm_path(name)};
  mp::Mapping m = mp::shm_create(name, 8192);
  void* addr = m.addr;
  size_t size = m.size;
  Child child = spawn([&] {
    // msync on an unmapped range fails with ENOMEM.
    return msync(addr, size, MS_ASYNC) != 0 && errno == ENOMEM ? 0 : 1;
  });
  EXPECT_EXIT(child, 0);
  mp::shm_unmap(m);
  mp::shm_remove(name);
}

TEST(remove_then_open_fails_enoent) {
  std::string name = unique_name();
  Unlinker u{shm_path(name)};
  mp::Mapping m = mp::shm_create(name, 4096);
  static_cast<char*>(m.addr)[0] = 'k';
  mp::shm_remove(name);
  CHECK(!exists(shm_path(name)));
  CHECK_SYSERR(mp::shm_open_existing(name), ENOENT);
  CHECK_SYSERR(mp::shm_remove(name), ENOENT);
  // The mapping outlives the name.
  CHECK_EQ(static_cast<char*>(m.addr)[0], 'k');
  static_cast<char*>(m.addr)[4095] = 'z';
  CHECK_EQ(static_cast<char*>(m.addr)[4095], 'z');
  // The name is free again.
  mp::Mapping again = mp::shm_create(name, 100);
  CHECK_EQ(static_cast<char*>(again.addr)[0], 0);
  mp::shm_unmap(again);
  mp::shm_unmap(m);
  mp::shm_remove(name);
}

TEST(open_of_a_missing_name_fails_enoent) {
  std::string name = unique_name();
  bool thrown = false;
  try {
    mp::shm_open_existing(name);
  } catch (const mp::SysError& e) {
    thrown = true;
    CHECK_EQ(e.err(), ENOENT);
    CHECK_EQ(std::string(mp::errno_name(e.err())), std::string("ENOENT"));
    CHECK_MSG(std::strstr(e.what(), "ENOENT") != nullptr, e.what());
  }
  CHECK(thrown);
}

TEST(open_of_an_empty_object_fails_einval) {
  // Another process between its create and its resize.
  std::string name = unique_name();
  Unlinker u{shm_path(name)};
  int fd = open(shm_path(name).c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  CHECK(fd >= 0);
  close(fd);
  CHECK_SYSERR(mp::shm_open_existing(name), EINVAL);
}

TEST(open_does_not_follow_symlinks) {
  std::string name = unique_name();
  std::string target = unique_name();
  Unlinker u1{shm_path(name)};
  Unlinker u2{shm_path(target)};
  mp::Mapping t = mp::shm_create(target, 64);
  CHECK_EQ(symlink(shm_path(target).c_str(), shm_path(name).c_str()), 0);
  CHECK_SYSERR(mp::shm_open_existing(name), ELOOP);
  CHECK_SYSERR(mp::shm_create(name, 64), EEXIST);
  mp::shm_unmap(t);
}

TEST(errno_names) {
  CHECK_EQ(std::string(mp::errno_name(EEXIST)), std::string("EEXIST"));
  CHECK_EQ(std::string(mp::errno_name(ETIMEDOUT)), std::string("ETIMEDOUT"));
  CHECK_EQ(std::string(mp::errno_name(12345)), std::string("UNKNOWN"));
  mp::SysError e(ENOSPC, "ftruncate", "'x'");
  CHECK_EQ(e.err(), ENOSPC);
  CHECK_MSG(std::string(e.what()).rfind("ftruncate 'x' failed: ", 0) == 0, e.what());
  CHECK_MSG(std::strstr(e.what(), "(ENOSPC)") != nullptr, e.what());
}

// Regression: when the mapping step of shm_create failed, the object it had
// just created stayed in /dev/shm. Size 0 is the
// simplest way to make mmap fail (EINVAL); the glue rejects size 0, but an
// mmap failure for another reason (ENOMEM, RLIMIT_AS, vm.max_map_count)
// leaves the file the same way, and the glue then unregisters it from the
// tracker, so nothing ever removes it.
TEST(failed_create_leaves_nothing_behind) {
  std::string name = unique_name();
  Unlinker u{shm_path(name)};
  CHECK_SYSERR(mp::shm_create(name, 0), EINVAL);
  CHECK_MSG(!exists(shm_path(name)), "shm_create threw but left " + shm_path(name));
}

// ---- Trust: files that are not ours, and segments shrunk under us ------------

TEST(open_refuses_a_file_others_may_write_and_one_too_small) {
  std::string name = unique_name();
  Unlinker u{shm_path(name)};
  mp::Mapping m = mp::shm_create(name, 64);
  mp::shm_unmap(m);
  CHECK_SYSERR(mp::shm_open_existing(name, 65), EBADMSG);  // smaller than the caller needs
  mp::Mapping ok = mp::shm_open_existing(name, 64);
  mp::shm_unmap(ok);
  CHECK_EQ(chmod(shm_path(name).c_str(), 0666), 0);
  CHECK_SYSERR(mp::shm_open_existing(name), EPERM);
  if (geteuid() == 0) {  // another user's file (needs root to make)
    CHECK_EQ(chmod(shm_path(name).c_str(), 0600), 0);
    CHECK_EQ(chown(shm_path(name).c_str(), 65534, 65534), 0);
    CHECK_SYSERR(mp::shm_open_existing(name), EPERM);
  }
  mp::shm_remove(name);
}

TEST(a_segment_truncated_under_its_mapping_reads_as_ones_instead_of_raising_sigbus) {
  std::string name = unique_name();
  Unlinker u{shm_path(name)};
  const size_t size = 3 * 4096;
  mp::Mapping m = mp::shm_create(name, size);
  auto* p = static_cast<volatile uint32_t*>(m.addr);
  p[0] = 7;
  p[4096 / 4] = 8;
  CHECK(!mp::shm_truncated(m));
  CHECK_EQ(truncate(shm_path(name).c_str(), 100), 0);  // page 0 stays (zeros past 100), pages 1-2 go
  CHECK_EQ(p[0], 7u);
  uint32_t seen = p[4096 / 4];  // would be SIGBUS
  CHECK_EQ(seen, 0xFFFFFFFFu);
  CHECK(mp::shm_truncated(m));
  CHECK_EQ(p[2 * 4096 / 4], 0xFFFFFFFFu);  // the next page past the end too, when touched
  p[2 * 4096 / 4] = 5;                     // private memory now: writable, no fault
  CHECK_EQ(p[2 * 4096 / 4], 5u);
  CHECK_EQ(p[4096 / 4 + 1], 0xFFFFFFFFu);
  mp::shm_unmap(m);
  mp::shm_remove(name);
}

TEST(a_sigbus_that_is_not_ours_still_kills) {
  Child c = spawn([] {
    std::string name = unique_name();
    int fd = open(shm_path(name).c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || ftruncate(fd, 4096) != 0) return 2;
    void* addr = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);  // not through shm.h
    unlink(shm_path(name).c_str());
    std::string mine = unique_name() + "x";
    mp::Mapping ours = mp::shm_create(mine, 64);  // installs the handler
    mp::shm_remove(mine);                         // (the child dies with SIGBUS: nothing may be left)
    (void)ours;
    if (ftruncate(fd, 0) != 0) return 3;
    return int(*static_cast<volatile char*>(addr));  // SIGBUS: the default action
  });
  int st = c.join();
#ifdef __SANITIZE_ADDRESS__
  // Our handler passes it on to ASan's, which reports it and exits 1.
  CHECK_MSG(!(WIFEXITED(st) && WEXITSTATUS(st) == 0), describe_status(st));
#else
  CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS, describe_status(st));
#endif
}

TEST(the_mapping_limit_is_below_the_kernels) {
  CHECK(mp::shm_mapping_limit() >= 1024);
  CHECK(mp::shm_mapping_limit() <= 65536);
  size_t before = mp::shm_mapping_count();
  std::string name = unique_name();
  Unlinker u{shm_path(name)};
  mp::Mapping m = mp::shm_create(name, 64);
  CHECK_EQ(mp::shm_mapping_count(), before + 1);
  mp::shm_unmap(m);
  CHECK_EQ(mp::shm_mapping_count(), before);
  mp::shm_remove(name);
}

MPTEST_MAIN()
