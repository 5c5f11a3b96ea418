#pragma once

// Configuration of the pathway service: flags and environment, documented defaults.
// `pathway-server --help` prints the reference.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/shared/service_config.h"

namespace pathway {

struct Config {
  pathways::ServiceConfig service;
  std::string topic = "pathways.pathway.events.v1";
  std::string referral_topic = "pathways.referral.events.v1";
  std::string dead_letter_topic = "pathways.deadletter.v1";
  std::string consumer_group = "pathways-pathway";
  // Catalogue directories, later ones overriding earlier ones by id (a hospital's own files
  // after the shipped default).
  std::vector<std::string> catalogue_dirs = {"catalogue"};
  int timer_interval_seconds = 60;
  std::string start_date_rule = "assessed";                                 // or "received"
  std::string default_setting = "outpatient";                               // or "inpatient"
  std::vector<std::pair<std::string, std::string>> consumer_kafka_options;  // tests: timeouts
  bool rebuild_views = false;  // drop and rebuild the own views from the event store at start

  static absl::StatusOr<Config> FromArgs(int argc, const char* const* argv, std::string* help);
  static Config ForTest(const std::string& data_dir, const std::string& kafka_bootstrap,
                        const std::string& catalogue_dir);
};

}  // namespace pathway
