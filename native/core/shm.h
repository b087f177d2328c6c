// Shared-memory segments: a name in /dev/shm, mapped MAP_SHARED.
#pragma once
#include <cstddef>
#include <string>

namespace mp {

struct Mapping {
  void* addr = nullptr;
  size_t size = 0;
};

// Creates a new segment (O_EXCL, mode 0600) of `size` bytes, zero-filled,
// and maps it. Throws SysError (EEXIST when the name is taken).
Mapping shm_create(const std::string& name, size_t size);

// Opens and maps an existing segment; its size is the object's size.
Mapping shm_open_existing(const std::string& name);

// Unmaps. Safe to call once per mapping; a no-op for an empty mapping.
void shm_unmap(Mapping& m);

// Removes the name; existing mappings stay valid. Throws SysError.
void shm_remove(const std::string& name);

}  // namespace mp
