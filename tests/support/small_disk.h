#pragma once

// A small tmpfs mounted on a fresh temp directory, for tests of a full disk: Fill() takes every
// free byte with a filler file, Free() deletes it. Unmounted and removed on destruction.
// Mounting needs root (CAP_SYS_ADMIN), which is how the project's tests run.

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace es::testing {

class SmallDisk {
 public:
  explicit SmallDisk(size_t megabytes) {
    std::string options = "size=" + std::to_string(megabytes) + "m";
    if (mount("tmpfs", dir_.path().c_str(), "tmpfs", 0, options.c_str()) == 0) {
      mounted_ = true;
    } else {
      error_ = std::strerror(errno);
    }
  }
  ~SmallDisk() {
    if (mounted_) umount2(dir_.path().c_str(), MNT_DETACH);
  }
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  std::string Sub(const std::string& name) const { return dir_.Sub(name); }

  // Writes a filler file until the disk is full. Returns the bytes taken.
  size_t Fill() {
    int fd = open(Sub("filler").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0) return 0;
    std::vector<char> block(64 * 1024, 'f');
    size_t taken = 0;
    size_t size = block.size();
    while (size > 0) {
      ssize_t n = write(fd, block.data(), size);
      if (n > 0) {
        taken += static_cast<size_t>(n);
      } else {
        size /= 2;  // the last blocks: fill the remainder exactly
      }
    }
    close(fd);
    return taken;
  }
  void Free() { unlink(Sub("filler").c_str()); }

 private:
  TempDir dir_;
  bool mounted_ = false;
  std::string error_;
};

}  // namespace es::testing
