// The resource tracker (tracker.h): the records of its channel, and the
// client side -- starting the pair, adopting an inherited channel,
// registering and unregistering names. The tracker processes themselves are
// in tracker_pair.cc.
#include "tracker.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <set>
#include <utility>

#include "sys_error.h"
#include "tracker_internal.h"

namespace mp::tracker {

using namespace internal;

// ---- Records --------------------------------------------------------------

namespace internal {

std::string encode(char op, char kind, const std::string& name) {
  std::string r;
  r.reserve(name.size() + 10);
  r += op;
  r += ' ';
  r += kind;
  r += ' ';
  r += std::to_string(name.size());
  r += ' ';
  r += name;
  r += '\n';
  return r;
}

Parsed parse(const char* p, size_t n, bool allow_done, Record& rec, size_t& used) {
  size_t i = 0;
  auto need = [&](size_t k) { return i + k <= n; };
  if (!need(4)) return Parsed::kIncomplete;
  rec.op = p[0];
  rec.kind = p[2];
  if (p[1] != ' ' || p[3] != ' ') return Parsed::kBad;
  i = 4;
  size_t len = 0, digits = 0;
  for (;; i++) {
    if (!need(1)) return Parsed::kIncomplete;
    char c = p[i];
    if (c == ' ') break;
    if (c < '0' || c > '9' || digits == 3 || (digits == 1 && len == 0)) return Parsed::kBad;
    len = len * 10 + size_t(c - '0');
    digits++;
  }
  if (digits == 0 || len > kMaxNameBytes + 1) return Parsed::kBad;
  i++;  // the space
  if (!need(len + 1)) return Parsed::kIncomplete;
  if (p[i + len] != '\n') return Parsed::kBad;
  rec.name.assign(p + i, len);
  used = i + len + 1;
  if (rec.op == 'D') return allow_done && rec.kind == '-' && len == 0 ? Parsed::kOk : Parsed::kBad;
  if (rec.op != 'R' && rec.op != 'U') return Parsed::kBad;
  if (rec.kind != char(Kind::kSegment) && rec.kind != char(Kind::kSemaphore)) return Parsed::kBad;
  return valid_name(rec.name) ? Parsed::kOk : Parsed::kBad;
}

void apply_record(State& live, const Record& rec) {
  Key key{rec.kind, rec.name};
  if (rec.op == 'R')
    live.insert(std::move(key));
  else if (rec.op == 'U')
    live.erase(key);
}

}  // namespace internal

// ---- The client side -----------------------------------------------------

namespace {

std::mutex g_mutex;
Info g_info{0, -1};
// What this process registered, to re-register if both trackers die and a
// new pair has to be started.
State g_registered;

Info start_tracker(pid_t tag) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    throw_errno("socketpair", "for the resource tracker");
  }
  int report[2];  // the tracker tells us its pid once it is ready
  if (pipe2(report, O_CLOEXEC) != 0) {
    int err = errno;
    close(sv[0]);
    close(sv[1]);
    throw SysError(err, "pipe2", "for the resource tracker");
  }
  pid_t mid = fork();
  if (mid < 0) {
    int err = errno;
    for (int fd : {sv[0], sv[1], report[0], report[1]}) close(fd);
    throw SysError(err, "fork", "of the resource tracker");
  }
  if (mid == 0) {
    // Fork twice, so that init rather than our program reaps the tracker.
    if (fork() == 0) tracker_main(sv[0], report[1], tag);
    _exit(0);
  }
  close(sv[0]);
  close(report[1]);
  pid_t tracker = 0;
  ssize_t got;
  do got = read(report[0], &tracker, sizeof tracker);
  while (got < 0 && errno == EINTR);
  close(report[0]);
  while (waitpid(mid, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (got != sizeof tracker || tracker <= 0) {
    close(sv[1]);
    throw SysError(EAGAIN, "fork", "of the resource tracker");
  }
  return Info{tag > 0 ? tag : tracker, sv[1]};
}

// One record, one message. False when no tracker holds the other end.
bool send_record(int fd, const std::string& record) {
  for (;;) {
    ssize_t n = send(fd, record.data(), record.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    return n == ssize_t(record.size());
  }
}

Info ensure_locked() {
  if (g_info.fd < 0) g_info = start_tracker(g_info.tag);
  return g_info;
}

void send_locked(const std::string& record) {
  ensure_locked();
  if (send_record(g_info.fd, record)) return;
  // Both trackers are gone (someone killed them): start a new pair under the
  // same tag and tell it everything we still own.
  close(g_info.fd);
  g_info.fd = -1;
  g_info = start_tracker(g_info.tag);
  for (const auto& [kind, name] : g_registered) send_record(g_info.fd, encode('R', kind, name));
  if (!send_record(g_info.fd, record)) throw_errno("send", "to the resource tracker");
}

bool name_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != '\0' && std::strchr("._:@+=~-", c) != nullptr);
}

std::string printable(const std::string& name) {
  std::string out;
  for (unsigned char c : name) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += char(c);
    } else {
      static const char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

bool valid_name(const std::string& name) {
  size_t start = !name.empty() && name[0] == '/' ? 1 : 0;
  size_t n = name.size() - start;
  if (n == 0 || n > kMaxNameBytes) return false;
  if (name.compare(start, n, ".") == 0 || name.compare(start, n, "..") == 0) return false;
  for (size_t i = start; i < name.size(); i++) {
    if (!name_byte(static_cast<unsigned char>(name[i]))) return false;
  }
  return true;
}

std::string process_name(pid_t tag, bool backup) {
  std::string digits;
  for (unsigned long v = static_cast<unsigned long>(tag); v > 0 || digits.empty(); v /= 36) {
    digits.insert(digits.begin(), "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36]);
  }
  return "mp-trk-" + digits + (backup ? "-b" : "");
}

Info ensure() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return ensure_locked();
}

bool adopt(int fd, pid_t tag) {
  struct stat st;
  int type = 0;
  socklen_t len = sizeof type;
  if (fd < 3 || tag <= 0 || fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode) ||
      getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_SEQPACKET) {
    return false;
  }
  // Keep it from leaking into processes the user spawns; multiproc passes it
  // on explicitly to its own children.
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_info.fd >= 0) return false;
  g_info = Info{tag, fd};
  return true;
}

void register_object(Kind kind, const std::string& name) {
  size_t bare = name.size() - (!name.empty() && name[0] == '/' ? 1 : 0);
  if (bare > kMaxNameBytes) {
    throw SysError(ENAMETOOLONG, "register",
                   "of a name of " + std::to_string(bare) + " bytes (at most " + std::to_string(kMaxNameBytes) + ")");
  }
  if (!valid_name(name)) {
    throw SysError(EINVAL, "register",
                   "'" + printable(name) + "' (names are 1 to 251 of A-Z a-z 0-9 . _ : @ + = ~ -, not . or ..)");
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  send_locked(encode('R', char(kind), name));
  g_registered.emplace(char(kind), name);
}

void unregister_object(Kind kind, const std::string& name) {
  if (!valid_name(name)) return;  // never registered
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_registered.erase({char(kind), name}) == 0 && g_info.fd < 0) return;
  send_locked(encode('U', char(kind), name));
}

void remove_object(Kind kind, const std::string& name) {
  if (!valid_name(name)) return;  // no '/', no "..": only files directly in /dev/shm
  std::string base = name[0] == '/' ? name.substr(1) : name;
  std::string path = kind == Kind::kSemaphore ? "/dev/shm/sem." + base : "/dev/shm/" + base;
  unlink(path.c_str());
}

}  // namespace mp::tracker
