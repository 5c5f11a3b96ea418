#include "bench/submit_referral/child_server.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

extern char** environ;

namespace bench {
namespace {

absl::Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChildServer>> ChildServer::Start(const std::string& mode,
                                                                const std::string& scratch_dir,
                                                                absl::Duration ready_timeout) {
  static int started = 0;
  const std::string port_file = absl::StrCat(scratch_dir, "/port-", mode, "-", ++started);
  std::vector<std::string> args = {"/proc/self/exe", absl::StrCat("--serve=", mode),
                                   absl::StrCat("--port-file=", port_file)};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  // Close-on-exec on both ends: the child gets only the read end, duplicated onto its stdin.
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return Errno("pipe2");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  pid_t pid = 0;
  // /proc/self/exe is resolved by the kernel in the parent at exec time: it is this binary.
  const int spawn_error =
      posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[0]);
  if (spawn_error != 0) {
    close(pipe_fds[1]);
    return absl::InternalError(absl::StrCat("posix_spawn: ", std::strerror(spawn_error)));
  }
  std::unique_ptr<ChildServer> child(new ChildServer(pid, pipe_fds[1]));

  const absl::Time deadline = absl::Now() + ready_timeout;
  while (true) {
    std::ifstream in(port_file);
    if (in >> child->port_) return child;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      child->reaped_ = true;
      return absl::InternalError(
          absl::StrCat("server --serve=", mode, " exited before it was ready"));
    }
    if (absl::Now() > deadline) {
      kill(pid, SIGKILL);  // a server stuck in start-up would otherwise block Stop() forever
      return absl::DeadlineExceededError(absl::StrCat("server --serve=", mode, " not ready after ",
                                                      absl::FormatDuration(ready_timeout)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

ChildServer::~ChildServer() { (void)Stop(); }

absl::Status ChildServer::Stop() {
  if (stdin_fd_ >= 0) {
    close(stdin_fd_);
    stdin_fd_ = -1;
  }
  if (reaped_) return absl::OkStatus();
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) return Errno("waitpid");
  }
  reaped_ = true;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("server process ", pid_, " ended with status ", status));
}

double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(in, line)) return 0;
  // The command name (field 2) may contain spaces; fields after its closing ')' are plain.
  const size_t paren = line.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(line.substr(paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;  // fields 14 and 15, counted from 1
  for (int index = 3; index <= 15 && fields >> field; ++index) {
    if (index == 14) utime = std::stoull(field);
    if (index == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double MachineBusySeconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                     steal = 0;
  if (!(in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal)) return 0;
  return static_cast<double>(user + nice + system + irq + softirq + steal) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace bench
