#include "bench/common/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

extern char** environ;

namespace bench {

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::vector<std::string>& args, const std::string& scratch_dir,
    absl::Duration ready_timeout) {
  static int started = 0;
  const std::string ready_file = absl::StrCat(scratch_dir, "/ready-", getpid(), "-", ++started);
  std::vector<std::string> all = {"/proc/self/exe"};
  all.insert(all.end(), args.begin(), args.end());
  all.push_back(absl::StrCat("--ready-file=", ready_file));
  std::vector<char*> argv;
  for (std::string& arg : all) argv.push_back(arg.data());
  argv.push_back(nullptr);

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  pid_t pid = 0;
  const int spawn_error =
      posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[0]);
  if (spawn_error != 0) {
    close(pipe_fds[1]);
    return absl::InternalError(absl::StrCat("posix_spawn: ", std::strerror(spawn_error)));
  }
  std::unique_ptr<ChildProcess> child(new ChildProcess(pid, pipe_fds[1]));

  const std::string what = all.size() > 1 ? all[1] : "child";
  const absl::Time deadline = absl::Now() + ready_timeout;
  while (true) {
    {
      std::ifstream in(ready_file);
      if (in) {
        std::stringstream content;
        content << in.rdbuf();
        child->ready_ = std::string(absl::StripAsciiWhitespace(content.str()));
        std::error_code ignored;
        std::filesystem::remove(ready_file, ignored);
        return child;
      }
    }
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      child->reaped_ = true;
      return absl::InternalError(absl::StrCat("server ", what, " exited before it was ready"));
    }
    if (absl::Now() > deadline) {
      kill(pid, SIGKILL);  // a server stuck in start-up would otherwise block Stop() forever
      return absl::DeadlineExceededError(
          absl::StrCat("server ", what, " not ready after ", absl::FormatDuration(ready_timeout)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

ChildProcess::~ChildProcess() { (void)Stop(); }

absl::Status ChildProcess::Stop() {
  if (stdin_fd_ >= 0) {
    close(stdin_fd_);
    stdin_fd_ = -1;
  }
  if (reaped_) return absl::OkStatus();
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) return absl::InternalError(absl::StrCat("waitpid: ", std::strerror(errno)));
  }
  reaped_ = true;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("server process ", pid_, " ended with status ", status));
}

absl::Status WriteReadyFile(const std::string& path, const std::string& content) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary);
    out << content << "\n";
    if (!out.flush()) return absl::InternalError(absl::StrCat("cannot write ", temporary));
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot rename to ", path, ": ", error.message()));
  }
  return absl::OkStatus();
}

void WaitForStdinClosed() {
  char buffer[64];
  while (true) {
    const ssize_t n = read(STDIN_FILENO, buffer, sizeof(buffer));
    if (n == 0) return;
    if (n < 0 && errno != EINTR) return;
  }
}

}  // namespace bench
