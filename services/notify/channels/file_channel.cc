#include "services/notify/channels/file_channel.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "services/notify/channels/notification_json.h"

namespace notify::channels {
namespace {

absl::Status IoError(const std::string& what, const std::string& path, int error) {
  return absl::UnavailableError(
      absl::StrCat("file channel: ", what, " ", path, ": ", std::strerror(error)));
}

}  // namespace

absl::Status FileChannel::Send(const v1::Notification& n) {
  const std::filesystem::path path(options_.path);
  if (path.has_parent_path()) {
    std::error_code error;  // the non-throwing overload
    std::filesystem::create_directories(path.parent_path(), error);
    if (error) {
      return absl::UnavailableError(absl::StrCat("file channel: create directories for ",
                                                 options_.path, ": ", error.message()));
    }
  }
  // Opened per send rather than held open: notifications are few, and a file that was rotated
  // or deleted by an operator is simply recreated instead of written into a dead inode.
  const int fd = ::open(options_.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return IoError("open", options_.path, errno);

  const std::string line = NotificationJson(n) + "\n";
  // Remember where the line starts so that a failed write can be cut off again: a torn line
  // followed by the retry's full line would break every reader of the file.
  const off_t start = ::lseek(fd, 0, SEEK_END);
  absl::Status status;
  size_t written = 0;
  while (written < line.size()) {
    const ssize_t n_written = ::write(fd, line.data() + written, line.size() - written);
    if (n_written < 0) {
      if (errno == EINTR) continue;
      status = IoError("write", options_.path, errno);
      break;
    }
    written += static_cast<size_t>(n_written);
  }
  if (status.ok() && options_.fsync && ::fsync(fd) != 0) {
    status = IoError("fsync", options_.path, errno);
  }
  if (!status.ok() && written > 0 && start >= 0) {
    // Best effort: if even this fails the disk is in trouble and the retry reports it.
    if (::ftruncate(fd, start) != 0) {
      status = IoError("write (and truncate after it)", options_.path, errno);
    }
  }
  if (::close(fd) != 0 && status.ok()) status = IoError("close", options_.path, errno);
  return status;
}

}  // namespace notify::channels
