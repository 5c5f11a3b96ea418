#pragma once

// Configuration of the referral service: flags and environment, documented defaults.
// `referral-server --help` prints the reference.

#include <string>

#include "absl/status/statusor.h"
#include "services/shared/service_config.h"

namespace referral {

struct Config {
  pathways::ServiceConfig service;  // listen address, data dir, Kafka, secret, ...
  std::string topic = "pathways.referral.events.v1";
  int assessment_working_days = 10;  // pbrl. § 2-2: assess within 10 working days

  // kInvalidArgument naming the option; `help` is set when --help was given.
  static absl::StatusOr<Config> FromArgs(int argc, const char* const* argv, std::string* help);
  // Defaults with the given data directory and a free port, for tests.
  static Config ForTest(const std::string& data_dir, const std::string& kafka_bootstrap);
};

}  // namespace referral
