#include "libs/runtime/rdkafka_log.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace es::runtime {
namespace {

// Sends everything written to file descriptor 2 (librdkafka's default printer and
// es::runtime::Log both write there) to a temporary file until destroyed.
class StderrCapture {
 public:
  StderrCapture() {
    std::fflush(stderr);
    saved_ = ::dup(STDERR_FILENO);
    file_ = std::tmpfile();
    if (file_ != nullptr) ::dup2(::fileno(file_), STDERR_FILENO);
  }
  ~StderrCapture() {
    std::fflush(stderr);
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    if (file_ != nullptr) std::fclose(file_);
  }
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;

  bool ok() const { return saved_ >= 0 && file_ != nullptr; }

  std::string Text() const {
    std::fflush(stderr);
    std::string text;
    char buffer[4096];
    for (off_t at = 0;;) {
      const ssize_t n = ::pread(::fileno(file_), buffer, sizeof(buffer), at);
      if (n <= 0) break;
      text.append(buffer, static_cast<size_t>(n));
      at += n;
    }
    return text;
  }

 private:
  int saved_ = -1;
  std::FILE* file_ = nullptr;
};

// A loopback port nothing listens on (bound, then closed: connecting is refused).
int ClosedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    if (fd >= 0) ::close(fd);
    return 1;  // privileged, so nothing listens there in a test either
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

rd_kafka_conf_t* ConfFor(const std::string& client_id) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  const std::string bootstrap = absl::StrCat("127.0.0.1:", ClosedPort());
  EXPECT_EQ(rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), errstr, sizeof(errstr)),
            RD_KAFKA_CONF_OK);
  EXPECT_EQ(rd_kafka_conf_set(conf, "client.id", client_id.c_str(), errstr, sizeof(errstr)),
            RD_KAFKA_CONF_OK);
  return conf;
}

// Creates a producer from `conf`, waits until its failed connection attempt has been logged
// (or 10 s), destroys it and returns what reached stderr meanwhile.
std::string LogsOfFailedConnect(rd_kafka_conf_t* conf) {
  StderrCapture capture;
  EXPECT_TRUE(capture.ok());
  char errstr[512];
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  EXPECT_NE(producer, nullptr) << errstr;
  if (producer == nullptr) {
    rd_kafka_conf_destroy(conf);
    return capture.Text();
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!absl::StrContains(capture.Text(), "Connect to") && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  rd_kafka_destroy(producer);
  return capture.Text();
}

// Every line must be a JSON object; returns them.
std::vector<nlohmann::json> ParseLines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    nlohmann::json parsed =
        nlohmann::json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(parsed.is_object()) << "not a JSON line: " << line;
    if (parsed.is_object()) lines.push_back(std::move(parsed));
  }
  return lines;
}

// The line librdkafka logs (facility FAIL, syslog level 3) when a connection is refused.
void ExpectConnectFailureLogged(const std::vector<nlohmann::json>& lines,
                                const std::string& component, const std::string& client_id) {
  bool found = false;
  for (const nlohmann::json& line : lines) {
    if (line.value("fac", "") != "FAIL" ||
        !absl::StrContains(line.value("msg", ""), "Connect to")) {
      continue;
    }
    found = true;
    EXPECT_EQ(line.value("level", ""), "error") << line.dump();
    EXPECT_EQ(line.value("component", ""), component) << line.dump();
    EXPECT_TRUE(absl::StartsWith(line.value("client", ""), client_id + "#producer-"))
        << line.dump();
    EXPECT_TRUE(absl::StrContains(line.value("msg", ""), "failed")) << line.dump();
    EXPECT_TRUE(line.contains("ts")) << line.dump();
  }
  EXPECT_TRUE(found) << "no connection failure logged";
}

TEST(RdKafkaLog, GivenConfWithoutIt_WhenConnectFails_ThenLibrdkafkaPrintsItsOwnFormat) {
  // The baseline the other tests depend on: this failure is logged, in librdkafka's format.
  const std::string text = LogsOfFailedConnect(ConfFor("plain-log-test"));
  EXPECT_TRUE(absl::StrContains(text, "|FAIL|plain-log-test#producer-")) << text;
}

TEST(RdKafkaLog, GivenJsonLogging_WhenConnectFails_ThenTheLineIsJsonWithComponentAndFacility) {
  rd_kafka_conf_t* conf = ConfFor("json-log-test");
  UseJsonLogging(conf, "test.kafka");

  const std::string text = LogsOfFailedConnect(conf);

  EXPECT_FALSE(absl::StrContains(text, "|FAIL|")) << text;
  ExpectConnectFailureLogged(ParseLines(text), "test.kafka", "json-log-test");
}

TEST(RdKafkaLog, GivenCopiedConf_WhenConnectFails_ThenTheCopyLogsJsonToo) {
  // The relay builds every producer from rd_kafka_conf_dup() of one template.
  rd_kafka_conf_t* original = ConfFor("json-dup-test");
  UseJsonLogging(original, "test.template");
  rd_kafka_conf_t* copy = rd_kafka_conf_dup(original);
  rd_kafka_conf_t* copy_of_copy = rd_kafka_conf_dup(copy);
  rd_kafka_conf_destroy(original);
  rd_kafka_conf_destroy(copy);

  const std::string text = LogsOfFailedConnect(copy_of_copy);

  EXPECT_FALSE(absl::StrContains(text, "|FAIL|")) << text;
  ExpectConnectFailureLogged(ParseLines(text), "test.template", "json-dup-test");
}

TEST(RdKafkaLog, GivenTwoClientsWithOtherComponents_WhenBothLog_ThenEachLineNamesItsOwn) {
  // Components are kept per client handle: two live clients must not mix them up.
  rd_kafka_conf_t* first_conf = ConfFor("first-client");
  UseJsonLogging(first_conf, "test.first");
  rd_kafka_conf_t* second_conf = ConfFor("second-client");
  UseJsonLogging(second_conf, "test.second");
  StderrCapture capture;
  ASSERT_TRUE(capture.ok());
  char errstr[512];
  rd_kafka_t* first = rd_kafka_new(RD_KAFKA_PRODUCER, first_conf, errstr, sizeof(errstr));
  ASSERT_NE(first, nullptr) << errstr;
  rd_kafka_t* second = rd_kafka_new(RD_KAFKA_PRODUCER, second_conf, errstr, sizeof(errstr));
  ASSERT_NE(second, nullptr) << errstr;
  auto both_logged = [&] {
    const std::string text = capture.Text();
    return absl::StrContains(text, "first-client#producer-") &&
           absl::StrContains(text, "second-client#producer-");
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!both_logged() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  rd_kafka_destroy(first);
  rd_kafka_destroy(second);

  const std::vector<nlohmann::json> lines = ParseLines(capture.Text());
  ASSERT_TRUE(both_logged());
  for (const nlohmann::json& line : lines) {
    const std::string client = line.value("client", "");
    if (absl::StartsWith(client, "first-client#")) {
      EXPECT_EQ(line.value("component", ""), "test.first") << line.dump();
    } else if (absl::StartsWith(client, "second-client#")) {
      EXPECT_EQ(line.value("component", ""), "test.second") << line.dump();
    }
  }
}

}  // namespace
}  // namespace es::runtime
