#pragma once

// Delivers notifications as JSON lines (NotificationJson) appended to one file: the local run's
// stand-in for a messaging gateway, and a trail an operator can read with `tail -f` or `jq`.
// Each line is written with one append and fsync'd before Send returns, so a line the
// dispatcher recorded as sent survives a power cut. Not thread-safe (dispatcher thread only).

#include <string>

#include "absl/status/status.h"
#include "services/notify/channels/notification_channel.h"

namespace notify::channels {

struct FileChannelOptions {
  std::string path;   // parent directories are created on the first send
  bool fsync = true;  // off only where durability does not matter (tests)
};

class FileChannel final : public NotificationChannel {
 public:
  explicit FileChannel(FileChannelOptions options) : options_(std::move(options)) {}

  // kUnavailable when the directory or file cannot be created or written (the dispatcher
  // retries: a full disk or a missing mount may come back). A failed send leaves no partial
  // line behind.
  absl::Status Send(const v1::Notification& n) override;

  const std::string& path() const { return options_.path; }

 private:
  const FileChannelOptions options_;
};

}  // namespace notify::channels
