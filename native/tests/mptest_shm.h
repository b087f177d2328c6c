// Shared memory for the tests (the harness is mptest.h): a Segment made for
// one test, its mapping in another process (Attached), the wait cells in
// them, and the process-wide spin policy of waits (SpinPolicyScope).
#pragma once

#include <unistd.h>

#include <cstddef>
#include <string>

#include "core/shm.h"
#include "core/wait_cell.h"
#include "mptest.h"

namespace mptest {

// A segment made for one test: unmapped and unlinked when the test ends,
// whether it passed or not.
class Segment {
 public:
  explicit Segment(size_t size) : name_(unique_name()), m_(mp::shm_create(name_, size)) {}
  ~Segment() {
    mp::shm_unmap(m_);
    unlink(shm_path(name_).c_str());
  }
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  const std::string& name() const { return name_; }
  void* addr() const { return m_.addr; }
  size_t size() const { return m_.size; }
  mp::WaitCell* cell(size_t i) const { return cell_at(m_, i); }

  // The WaitCell at index i (offset 8*i) of a mapping.
  static mp::WaitCell* cell_at(const mp::Mapping& m, size_t i) {
    if ((i + 1) * sizeof(mp::WaitCell) > m.size) fail(__FILE__, __LINE__, "cell index out of range");
    return reinterpret_cast<mp::WaitCell*>(static_cast<char*>(m.addr) + i * sizeof(mp::WaitCell));
  }

 private:
  std::string name_;
  mp::Mapping m_;
};

// A mapping of an existing segment, for the other process's side (mappings
// are MADV_DONTFORK: a fork()ed child must map the segment again).
class Attached {
 public:
  explicit Attached(const std::string& name) : m_(mp::shm_open_existing(name)) {}
  ~Attached() { mp::shm_unmap(m_); }
  Attached(const Attached&) = delete;
  Attached& operator=(const Attached&) = delete;
  mp::WaitCell* cell(size_t i) const { return Segment::cell_at(m_, i); }
  const mp::Mapping& mapping() const { return m_; }

 private:
  mp::Mapping m_;
};

// Restores the process-wide spin policy when a test ends.
class SpinPolicyScope {
 public:
  explicit SpinPolicyScope(mp::SpinPolicy p) : saved_(mp::get_spin_policy()) { mp::set_spin_policy(p); }
  ~SpinPolicyScope() { mp::set_spin_policy(saved_); }

 private:
  mp::SpinPolicy saved_;
};

}  // namespace mptest
