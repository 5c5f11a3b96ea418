#include "services/shared/service_config.h"

#include <string>
#include <utility>
#include <vector>

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

}  // namespace
}  // namespace pathways
