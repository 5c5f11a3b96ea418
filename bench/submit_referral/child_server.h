#pragma once

// Runs one of serve.h's servers in a child process: this executable again (/proc/self/exe) with
// --serve=MODE --port-file=PATH. The child's stdin is a pipe the parent holds open; closing it
// (Stop(), or the parent dying) tells the child to drain and exit. The child's stdout goes to
// stderr so that only figure lines reach the benchmark's stdout.

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace bench {

class ChildServer {
 public:
  // `mode` is "bare" or "referral". `scratch_dir` holds the port file. Waits up to
  // `ready_timeout` for the port; kDeadlineExceeded or kInternal (child exited) otherwise.
  static absl::StatusOr<std::unique_ptr<ChildServer>> Start(const std::string& mode,
                                                            const std::string& scratch_dir,
                                                            absl::Duration ready_timeout);
  ~ChildServer();  // Stop(), ignoring its result
  ChildServer(const ChildServer&) = delete;
  ChildServer& operator=(const ChildServer&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }

  // Closes the child's stdin and waits for it; kInternal unless it exited with status 0.
  absl::Status Stop();

 private:
  ChildServer(pid_t pid, int stdin_fd) : pid_(pid), stdin_fd_(stdin_fd) {}

  pid_t pid_;
  int stdin_fd_;  // write end of the child's stdin; -1 once closed
  int port_ = 0;
  bool reaped_ = false;
};

// User plus system CPU time of process `pid` so far, in seconds (from /proc/PID/stat); 0 when
// it cannot be read. Pass getpid() for this process.
double ProcessCpuSeconds(pid_t pid);

// CPU time all processes on the machine have used so far (every core, from /proc/stat, idle and
// I/O wait excluded), in seconds: with the two processes' own times it shows how much of the
// machine something else took during a measurement.
double MachineBusySeconds();

}  // namespace bench
