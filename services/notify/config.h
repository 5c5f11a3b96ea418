#pragma once

// Configuration of the notify service: flags and environment, documented defaults.
// `notify-server --help` prints the reference.

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "services/shared/service_config.h"

namespace notify {

struct Config {
  pathways::ServiceConfig service;
  std::string topic = "pathways.notify.events.v1";
  std::string pathway_topic = "pathways.pathway.events.v1";
  std::string referral_topic = "pathways.referral.events.v1";
  std::string dead_letter_topic = "pathways.deadletter.v1";
  std::string consumer_group = "pathways-notify";
  std::vector<std::string> catalogue_dirs = {"catalogue"};
  // Rules.
  int reminder_working_days = 3;
  int assessment_reminder_working_days = 3;
  int appointment_reminder_hours = 24;
  int reminder_hour = 8;
  std::string staff_language = "nb";
  std::string staff_channel = "file";  // file or webhook
  // Channels.
  std::string file_channel_path = "var/notify/outbox.jsonl";
  std::string webhook_url;  // empty: no webhook channel
  int webhook_timeout_ms = 5000;
  std::string webhook_authorization;  // e.g. "Bearer ..."; from a secret
  // Delivery.
  int max_attempts = 5;
  int first_backoff_seconds = 30;
  int max_backoff_seconds = 3600;
  int dispatch_interval_ms = 1000;
  std::vector<std::pair<std::string, std::string>> consumer_kafka_options;  // tests

  static absl::StatusOr<Config> FromArgs(int argc, const char* const* argv, std::string* help);
  static Config ForTest(const std::string& data_dir, const std::string& kafka_bootstrap,
                        const std::string& catalogue_dir);
};

}  // namespace notify
