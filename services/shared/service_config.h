#pragma once

// Settings every service has (listen address, data directory, Kafka, pseudonym secret, time
// zone and working-day calendar, RocksDB and drain limits, log level), declared once so each
// service's --help and environment variables read the same.

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clinical/calendar.h"
#include "libs/eventing/pseudonym.h"
#include "libs/host/service_host.h"
#include "libs/projection/projection_consumer.h"
#include "libs/runtime/options.h"

namespace pathways {

// What every server builds first from its settings, before it opens storage.
struct ServiceBasics {
  absl::TimeZone zone;
  clinical::Calendar calendar;
  es::Pseudonymizer pseudonymizer;
};

struct ServiceConfig {
  std::string grpc_listen;
  std::string data_dir;
  std::string kafka_bootstrap = "127.0.0.1:9092";
  mutable std::vector<std::pair<std::string, std::string>> kafka_options;  // set by Validate
  std::string pseudonym_secret;  // required; the same in every service
  std::string time_zone = "Europe/Oslo";
  std::string calendar = "NO";           // NO or DK
  bool saturday_is_working_day = false;  // unconfirmed in the 10-day rule: a setting
  bool sync_wal = true;
  int block_cache_mb = 128;
  int write_buffer_mb = 32;
  int drain_timeout_seconds = 10;
  std::string log_level = "info";
  std::string metrics_listen;  // empty: no /metrics endpoint

  // Declares the options on `o`: PATHWAYS_<SERVICE>_GRPC_LISTEN and _DATA_DIR are per service,
  // the rest shared (PATHWAYS_KAFKA_BOOTSTRAP, PATHWAYS_PSEUDONYM_SECRET, ...).
  void Declare(es::runtime::Options& o, const std::string& service,
               const std::string& default_listen);
  // After o.Finish(): checks values, naming the option.
  absl::Status Validate() const;
  // The settings of a service in a test: a free loopback port, `data_dir`, the test's own broker,
  // a fixed test secret and a short drain.
  static ServiceConfig ForTest(const std::string& data_dir, const std::string& kafka_bootstrap);

  absl::StatusOr<absl::TimeZone> Zone() const;
  absl::StatusOr<clinical::Calendar> WorkingCalendar() const;
  // Applies the log level, then loads the zone, the working-day calendar and the pseudonymizer;
  // kInvalidArgument naming the setting when one of them is unusable.
  absl::StatusOr<ServiceBasics> Basics() const;
  es::host::HostOptions HostOptions(const std::string& service) const;
  // A consumer group on `topics` with the shared Kafka settings plus `extra` (tests: timeouts).
  es::projection::ConsumerOptions ConsumerOptions(
      const std::string& group, std::vector<std::string> topics,
      const std::string& dead_letter_topic,
      const std::vector<std::pair<std::string, std::string>>& extra) const;

 private:
  std::string kafka_options_text_;
};

}  // namespace pathways
