// Shared-memory segments: a name in /dev/shm, mapped MAP_SHARED.
//
// Trust. Any process of the same user can write into a segment, and (before
// we check) anyone can create a file under a name we are about to open. So:
//   * open refuses a file that is not a regular file owned by our effective
//     uid, or that group or others may write (EPERM, naming owner and mode),
//     and one smaller than the caller needs (ERR_MP_CORRUPT-worthy: EINVAL);
//   * a segment another process shrinks while we have it mapped would make
//     the next access SIGBUS. Every mapping made here is listed in a table
//     that a SIGBUS handler consults: a fault inside one of our mappings
//     replaces the faulting page with a private page of all ones (so the
//     faulting access, native or JavaScript, completes, and every lock and
//     counter of ours there reads as "held" or "corrupt"; each further page
//     past the file's end does the same when touched) and marks the mapping
//     truncated;
//     shm_truncated() then lets callers report the corruption instead of
//     crashing. A fault anywhere else goes to the
//     previous handler (or the default action), as if we were not there.
//   * a process may hold at most shm_mapping_limit() of our mappings (below
//     the kernel's vm.max_map_count, which V8 needs too): past it, create and
//     open fail with EMFILE instead of the process running out of mappings.
#pragma once
#include <sys/stat.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace mp {

struct Mapping {
  void* addr = nullptr;
  size_t size = 0;
  int slot = -1;  // entry in the table of our mappings (for shm_truncated)
};

// Creates a new segment (O_EXCL, mode 0600) of `size` bytes, zero-filled,
// and maps it. Throws SysError (EEXIST when the name is taken).
Mapping shm_create(const std::string& name, size_t size);

// Opens and maps an existing segment; its size is the object's size, at
// least `min_size` bytes (else SysError EINVAL). Throws SysError EPERM for a
// file that is not ours (see above).
Mapping shm_open_existing(const std::string& name, size_t min_size = 1);

// Unmaps. Safe to call once per mapping; a no-op for an empty mapping.
void shm_unmap(Mapping& m);

// Removes the name; existing mappings stay valid. Throws SysError.
void shm_remove(const std::string& name);

// Whether another process shrank the segment under this mapping (a SIGBUS
// was caught in it; from that fault on, its pages past the file's end are
// private pages of all ones).
bool shm_truncated(const Mapping& m);
// The flag shm_truncated() reads, for callers that check it on every call
// (nullptr for a mapping not in the table). Valid while the mapping is.
const std::atomic<uint32_t>* shm_truncated_flag(const Mapping& m);

// Throws SysError EPERM unless `st` is a regular file owned by our effective
// uid that group and others cannot write (`name` is for the message).
void check_ownership(const struct stat& st, const std::string& name);

// How many mappings of ours this process may hold at once, and holds now.
size_t shm_mapping_limit();
size_t shm_mapping_count();

}  // namespace mp
