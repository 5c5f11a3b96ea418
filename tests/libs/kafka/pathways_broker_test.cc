// Runs the pathways-broker executable as a child process, as a developer or CI would.

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/libs/kafka/kafka_test_clients.h"

extern char** environ;

namespace es::kafka {
namespace {

using ::es::kafka::testing::Clock;
using ::es::kafka::testing::PartitionCounts;
using ::es::kafka::testing::TestProducer;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr int kExitAddressInUse = 2;

std::string BrokerBinary() {
  const char* dir = std::getenv("PATHWAYS_BIN_DIR");
  return absl::StrCat(dir != nullptr ? dir : ".", "/pathways-broker");
}

// Binds 127.0.0.1:0 and returns the socket and the port the kernel chose.
int ListenOnFreePort(int* port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(fd, 1) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    return -1;
  }
  *port = ntohs(address.sin_port);
  return fd;
}

// A port that was free a moment ago. Another process may take it before the broker binds it;
// callers retry when the broker reports the address in use.
int PickFreePort() {
  int port = 0;
  const int fd = ListenOnFreePort(&port);
  if (fd < 0) return 0;
  ::close(fd);
  return port;
}

// The broker as a child process with its stdout and stderr captured. Killed if still running
// when destroyed.
class BrokerProcess {
 public:
  static std::unique_ptr<BrokerProcess> Spawn(const std::vector<std::string>& args) {
    int out[2];
    int err[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return nullptr;
    if (::pipe2(err, O_CLOEXEC) != 0) {
      ::close(out[0]);
      ::close(out[1]);
      return nullptr;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
    std::vector<std::string> argv_storage = {BrokerBinary()};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& arg : argv_storage) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    ::close(err[1]);
    if (rc != 0) {
      ::close(out[0]);
      ::close(err[0]);
      return nullptr;
    }
    auto process = std::unique_ptr<BrokerProcess>(new BrokerProcess());
    process->pid_ = pid;
    process->out_fd_ = out[0];
    process->err_fd_ = err[0];
    return process;
  }

  ~BrokerProcess() {
    if (pid_ > 0 && !exit_code_.has_value()) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    ::close(out_fd_);
    ::close(err_fd_);
  }

  // Reads stdout until a line containing `needle` arrives, the process closes stdout, or
  // `timeout` passes. Returns that line.
  std::optional<std::string> WaitForLine(const std::string& needle, Clock::duration timeout) {
    const Clock::time_point deadline = Clock::now() + timeout;
    for (;;) {
      for (size_t newline; (newline = out_.find('\n', scanned_)) != std::string::npos;) {
        std::string line = out_.substr(scanned_, newline - scanned_);
        scanned_ = newline + 1;
        if (line.find(needle) != std::string::npos) return line;
      }
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      if (left.count() <= 0 || !ReadSome(static_cast<int>(left.count()))) return std::nullopt;
    }
  }

  // Waits for the process to exit; returns its exit code (128+N when killed by signal N), or
  // nullopt if it is still running after `timeout`.
  std::optional<int> WaitForExit(Clock::duration timeout) {
    const Clock::time_point deadline = Clock::now() + timeout;
    while (!exit_code_.has_value()) {
      int status = 0;
      const pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      if (Clock::now() >= deadline) return std::nullopt;
      ::usleep(10 * 1000);
    }
    return exit_code_;
  }

  void Signal(int signal_number) { ::kill(pid_, signal_number); }

  // Everything written to stderr so far (reads without blocking).
  std::string Stderr() {
    char buffer[4096];
    pollfd fd = {err_fd_, POLLIN, 0};
    while (::poll(&fd, 1, 0) > 0) {
      const ssize_t n = ::read(err_fd_, buffer, sizeof(buffer));
      if (n <= 0) break;
      err_.append(buffer, static_cast<size_t>(n));
    }
    return err_;
  }

 private:
  BrokerProcess() = default;

  bool ReadSome(int timeout_ms) {
    pollfd fd = {out_fd_, POLLIN, 0};
    if (::poll(&fd, 1, timeout_ms) <= 0) return false;
    char buffer[4096];
    const ssize_t n = ::read(out_fd_, buffer, sizeof(buffer));
    if (n <= 0) return false;  // EOF: the process is gone
    out_.append(buffer, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  size_t scanned_ = 0;
  std::string err_;
  std::optional<int> exit_code_;
};

// Starts the broker on a free port, retrying when another process takes the port first.
// Returns nullptr if it cannot start for another reason. `ready` receives the ready line.
std::unique_ptr<BrokerProcess> StartOnFreePort(const std::vector<std::string>& extra_args,
                                               std::string* bootstrap,
                                               std::optional<std::string>* ready = nullptr) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    const int port = PickFreePort();
    if (port == 0) continue;
    *bootstrap = absl::StrCat("127.0.0.1:", port);
    std::vector<std::string> args = {"--listen=" + *bootstrap};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::unique_ptr<BrokerProcess> broker = BrokerProcess::Spawn(args);
    if (broker == nullptr) return nullptr;
    std::optional<std::string> line = broker->WaitForLine("\"msg\":\"ready\"", seconds(10));
    if (line.has_value()) {
      if (ready != nullptr) *ready = std::move(line);
      return broker;
    }
    // Only a clash (exit code 2) is worth another port; anything else is a real failure.
    if (broker->WaitForExit(seconds(2)) != kExitAddressInUse) return nullptr;
  }
  return nullptr;
}

TEST(PathwaysBroker, GivenFreePort_WhenStarted_ThenReadyMetadataServedAndSigtermExitsCleanly) {
  std::string bootstrap;
  std::optional<std::string> ready;
  std::unique_ptr<BrokerProcess> broker = StartOnFreePort(
      {"--topics=pathways.referral.events.v1:6,pathways.deadletter.v1:1"}, &bootstrap, &ready);
  ASSERT_NE(broker, nullptr) << "cannot start " << BrokerBinary();
  EXPECT_THAT(*ready, HasSubstr(absl::StrCat("\"bootstrap\":\"", bootstrap, "\"")));
  EXPECT_THAT(*ready, HasSubstr("\"topics\":2"));
  EXPECT_THAT(*ready, HasSubstr("\"component\":\"broker\""));

  absl::StatusOr<std::unique_ptr<TestProducer>> client = TestProducer::Create(bootstrap);
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<std::map<std::string, int>> counts = PartitionCounts((*client)->handle(), 10000);
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_THAT(*counts, Contains(Pair("pathways.referral.events.v1", 6)));
  EXPECT_THAT(*counts, Contains(Pair("pathways.deadletter.v1", 1)));
  client->reset();  // the SIGINT test covers stopping with a client still connected

  const Clock::time_point signalled_at = Clock::now();
  broker->Signal(SIGTERM);
  const std::optional<int> code = broker->WaitForExit(seconds(5));

  ASSERT_TRUE(code.has_value()) << "still running 5 s after SIGTERM";
  EXPECT_EQ(*code, 0) << broker->Stderr();
  std::cerr << "[ info ] exit after SIGTERM took "
            << std::chrono::duration_cast<milliseconds>(Clock::now() - signalled_at).count()
            << " ms\n";
}

TEST(PathwaysBroker, GivenConnectedProducer_WhenBrokerProcessRestartsOnSamePort_ThenItDelivers) {
  std::string bootstrap;
  std::unique_ptr<BrokerProcess> broker = StartOnFreePort({"--topics=events:2"}, &bootstrap);
  ASSERT_NE(broker, nullptr) << "cannot start " << BrokerBinary();
  absl::StatusOr<std::unique_ptr<TestProducer>> producer =
      TestProducer::Create(bootstrap, {{"message.timeout.ms", "60000"}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  ASSERT_TRUE((*producer)->Produce("events", 1, "k", "first").ok());
  ASSERT_TRUE((*producer)->WaitForDeliveries(1, seconds(10)));
  ASSERT_EQ((*producer)->deliveries()[0].error, RD_KAFKA_RESP_ERR_NO_ERROR);

  broker->Signal(SIGTERM);
  ASSERT_EQ(broker->WaitForExit(seconds(5)), 0);
  ASSERT_TRUE((*producer)->Produce("events", 1, "k", "second").ok());
  broker = BrokerProcess::Spawn({"--listen=" + bootstrap, "--topics=events:2"});
  ASSERT_NE(broker, nullptr);
  ASSERT_TRUE(broker->WaitForLine("\"msg\":\"ready\"", seconds(10)).has_value())
      << broker->Stderr();

  // Same flags, same addresses: the producer reconnects without learning anything new.
  ASSERT_TRUE((*producer)->WaitForDeliveries(2, seconds(20)));
  EXPECT_EQ((*producer)->deliveries()[1].error, RD_KAFKA_RESP_ERR_NO_ERROR)
      << rd_kafka_err2str((*producer)->deliveries()[1].error);
  EXPECT_EQ((*producer)->deliveries()[1].offset, 0);
  producer->reset();
  broker->Signal(SIGTERM);
  EXPECT_EQ(broker->WaitForExit(seconds(5)), 0);
}

TEST(PathwaysBroker, GivenConnectedClient_WhenSigint_ThenExitsCleanly) {
  std::unique_ptr<BrokerProcess> broker = BrokerProcess::Spawn({"--listen=127.0.0.1:0"});
  ASSERT_NE(broker, nullptr) << "cannot spawn " << BrokerBinary();
  std::optional<std::string> ready = broker->WaitForLine("\"msg\":\"ready\"", seconds(10));
  ASSERT_TRUE(ready.has_value()) << broker->Stderr();
  // Port 0: the ready line carries the port the kernel chose; the default topics are created.
  const std::string key = "\"bootstrap\":\"";
  const size_t start = ready->find(key) + key.size();
  const std::string bootstrap = ready->substr(start, ready->find('"', start) - start);
  EXPECT_THAT(*ready, HasSubstr("\"topics\":5"));
  absl::StatusOr<std::unique_ptr<TestProducer>> client = TestProducer::Create(bootstrap);
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<std::map<std::string, int>> counts = PartitionCounts((*client)->handle(), 10000);
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_THAT(*counts, Contains(Pair("pathways.deadletter.v1", 1)));

  broker->Signal(SIGINT);  // while the client is still connected
  const std::optional<int> code = broker->WaitForExit(seconds(5));

  ASSERT_TRUE(code.has_value()) << "still running 5 s after SIGINT";
  EXPECT_EQ(*code, 0) << broker->Stderr();
}

TEST(PathwaysBroker, GivenPortTaken_WhenStarted_ThenExitCode2WithClearError) {
  int port = 0;
  const int holder = ListenOnFreePort(&port);
  ASSERT_GE(holder, 0);

  std::unique_ptr<BrokerProcess> broker =
      BrokerProcess::Spawn({absl::StrCat("--listen=127.0.0.1:", port)});
  ASSERT_NE(broker, nullptr) << "cannot spawn " << BrokerBinary();
  const std::optional<int> code = broker->WaitForExit(seconds(5));
  ::close(holder);

  ASSERT_TRUE(code.has_value()) << "still running although its port is taken";
  EXPECT_EQ(*code, kExitAddressInUse);
  EXPECT_THAT(broker->Stderr(), HasSubstr("already in use"));
}

TEST(PathwaysBroker, GivenMalformedTopics_WhenStarted_ThenExitCode1NamingTheEntry) {
  std::unique_ptr<BrokerProcess> broker =
      BrokerProcess::Spawn({"--listen=127.0.0.1:0", "--topics=good:1,bad:zero"});
  ASSERT_NE(broker, nullptr) << "cannot spawn " << BrokerBinary();

  const std::optional<int> code = broker->WaitForExit(seconds(5));

  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 1);
  EXPECT_THAT(broker->Stderr(), HasSubstr("bad:zero"));
}

}  // namespace
}  // namespace es::kafka
