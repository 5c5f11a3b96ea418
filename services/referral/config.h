#pragma once

// Configuration of the referral service: flags and environment, documented defaults.
// `referral-server --help` prints the reference.

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace referral {

struct Config {
  std::string grpc_listen = "127.0.0.1:50061";
  std::string data_dir = "var/referral";
  std::string kafka_bootstrap = "127.0.0.1:9092";
  std::string topic = "pathways.referral.events.v1";
  // Extra librdkafka settings, e.g. TLS/SASL for a real cluster:
  // "security.protocol=ssl,ssl.ca.location=/etc/kafka/ca.crt".
  std::vector<std::pair<std::string, std::string>> kafka_options;
  std::string pseudonym_secret;              // required; the same in every service
  std::string time_zone = "Europe/Oslo";
  std::string calendar = "NO";               // NO or DK
  bool saturday_is_working_day = false;      // unconfirmed in the 10-day rule: a setting
  int assessment_working_days = 10;
  bool sync_wal = true;
  int block_cache_mb = 128;
  int write_buffer_mb = 32;
  int drain_timeout_seconds = 10;
  std::string log_level = "info";

  // kInvalidArgument naming the option; `help` is set when --help was given.
  static absl::StatusOr<Config> FromArgs(int argc, const char* const* argv, std::string* help);
};

}  // namespace referral
