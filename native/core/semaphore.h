// POSIX named semaphores (sem_open & co), shared by name between processes.
#pragma once
#include <semaphore.h>

#include <cstdint>
#include <string>

namespace mp {

class NamedSemaphore {
 public:
  // Creates (O_EXCL, mode 0600) with an initial value, or opens an existing one.
  static NamedSemaphore create(const std::string& name, unsigned value);
  static NamedSemaphore open(const std::string& name);
  static void remove(const std::string& name);

  NamedSemaphore(NamedSemaphore&& o) noexcept : sem_(o.sem_), name_(std::move(o.name_)) { o.sem_ = nullptr; }
  NamedSemaphore(const NamedSemaphore&) = delete;
  ~NamedSemaphore() { close(); }

  void post();
  // Blocks up to timeout_ns (< 0: forever). Returns false on timeout.
  bool wait(int64_t timeout_ns);
  bool try_wait();
  int value() const;
  void close();
  bool closed() const { return sem_ == nullptr; }
  const std::string& name() const { return name_; }

 private:
  NamedSemaphore(sem_t* s, std::string name) : sem_(s), name_(std::move(name)) {}
  sem_t* sem_;
  std::string name_;
};

}  // namespace mp
