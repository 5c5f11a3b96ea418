#pragma once

// Runs a server of a benchmark in a child process: this executable again (/proc/self/exe) with
// the given flags. The child writes what the parent needs (a port, a bootstrap address) to a
// ready file and then serves until its stdin, a pipe the parent holds open, reaches end of
// file: Stop() closes it, and so does the parent dying, so no server outlives a run. The
// child's stdout goes to the parent's stderr so that only figure lines reach stdout.

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace bench {

class ChildProcess {
 public:
  // Starts `/proc/self/exe args... --ready-file=<scratch_dir>/ready-N` and waits up to
  // `ready_timeout` for the ready file. kInternal if the child exits first, kDeadlineExceeded
  // (child killed) on time-out.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& args,
                                                             const std::string& scratch_dir,
                                                             absl::Duration ready_timeout);
  ~ChildProcess();  // Stop(), ignoring its result
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // The ready file's content, trimmed.
  const std::string& ready() const { return ready_; }

  // Closes the child's stdin and waits for it; kInternal unless it exited with status 0.
  absl::Status Stop();

 private:
  ChildProcess(pid_t pid, int stdin_fd) : pid_(pid), stdin_fd_(stdin_fd) {}
  pid_t pid_;
  int stdin_fd_;
  std::string ready_;
  bool reaped_ = false;
};

// In the child: writes `content` to `path` atomically (temporary file and rename).
absl::Status WriteReadyFile(const std::string& path, const std::string& content);
// In the child: returns when stdin reaches end of file (the parent closed it or died).
void WaitForStdinClosed();

}  // namespace bench
