#include "services/shared/service_config.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/time/civil_time.h"
#include "gtest/gtest.h"

namespace pathways {
namespace {

// librdkafka applies settings in order, so the last value of a key is the one in force.
std::string InForce(const std::vector<std::pair<std::string, std::string>>& settings,
                    const std::string& key) {
  std::string value;
  for (const auto& [k, v] : settings) {
    if (k == key) value = v;
  }
  return value;
}

TEST(ServiceConfigConsumerOptions, GivenNoKafkaOptions_ThenTenSecondSessionsSoRestartsRejoinSoon) {
  ServiceConfig config;
  es::projection::ConsumerOptions options = config.ConsumerOptions("g", {"t"}, "dlq", {});
  EXPECT_EQ(InForce(options.kafka_config, "session.timeout.ms"), "10000");
  EXPECT_EQ(InForce(options.kafka_config, "heartbeat.interval.ms"), "2000");
}

TEST(ServiceConfigConsumerOptions, GivenOperatorKafkaOptions_ThenTheyWinOverTheDefaults) {
  ServiceConfig config;
  config.kafka_options = {{"session.timeout.ms", "30000"}, {"security.protocol", "ssl"}};
  es::projection::ConsumerOptions options =
      config.ConsumerOptions("g", {"t"}, "dlq", {{"fetch.wait.max.ms", "10"}});
  EXPECT_EQ(InForce(options.kafka_config, "session.timeout.ms"), "30000");
  EXPECT_EQ(InForce(options.kafka_config, "security.protocol"), "ssl");
  EXPECT_EQ(InForce(options.kafka_config, "fetch.wait.max.ms"), "10");
  EXPECT_EQ(options.group_id, "g");
  EXPECT_EQ(options.dead_letter_topic, "dlq");
}

ServiceConfig ValidBasicsConfig() {
  ServiceConfig config;
  config.pseudonym_secret = "a-secret-of-at-least-16-bytes";
  return config;
}

TEST(ServiceConfigBasics, GivenValidSettings_ThenZoneCalendarAndPseudonymizerFollowThem) {
  ServiceConfig config = ValidBasicsConfig();
  config.time_zone = "Europe/Copenhagen";
  config.calendar = "DK";
  absl::StatusOr<ServiceBasics> basics = config.Basics();
  ASSERT_TRUE(basics.ok()) << basics.status();
  EXPECT_EQ(basics->zone.name(), "Europe/Copenhagen");
  // 17 May, a Wednesday in 2028, is a holiday in Norway only: the Danish calendar is in force.
  EXPECT_TRUE(basics->calendar.IsWorkingDay(absl::CivilDay(2028, 5, 17)));
  EXPECT_FALSE(basics->calendar.IsWorkingDay(absl::CivilDay(2028, 12, 26)));
  // The same secret gives the same key in every service.
  absl::StatusOr<es::Pseudonymizer> same = es::Pseudonymizer::Create(config.pseudonym_secret);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(basics->pseudonymizer.Key("no-fnr", "x"), same->Key("no-fnr", "x"));
}

TEST(ServiceConfigBasics, GivenUnknownTimeZone_ThenInvalidArgumentNamingTheOption) {
  ServiceConfig config = ValidBasicsConfig();
  config.time_zone = "Europe/Atlantis";
  absl::StatusOr<ServiceBasics> basics = config.Basics();
  EXPECT_EQ(basics.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(basics.status().message().find("--time-zone"), std::string::npos) << basics.status();
}

TEST(ServiceConfigBasics, GivenShortPseudonymSecret_ThenInvalidArgumentNamingTheSecret) {
  ServiceConfig config = ValidBasicsConfig();
  config.pseudonym_secret = "short";
  absl::StatusOr<ServiceBasics> basics = config.Basics();
  EXPECT_EQ(basics.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(basics.status().message().find("pseudonym secret"), std::string::npos)
      << basics.status();
}

TEST(ServiceConfigForTest, GivenDirAndBroker_ThenAFreePortTheirValuesAndUsableBasics) {
  ServiceConfig config = ServiceConfig::ForTest("/tmp/some-dir", "127.0.0.1:12345");
  EXPECT_EQ(config.grpc_listen, "127.0.0.1:0");
  EXPECT_EQ(config.data_dir, "/tmp/some-dir");
  EXPECT_EQ(config.kafka_bootstrap, "127.0.0.1:12345");
  EXPECT_TRUE(config.Validate().ok()) << config.Validate();
  EXPECT_TRUE(config.Basics().ok()) << config.Basics().status();
}

}  // namespace
}  // namespace pathways
