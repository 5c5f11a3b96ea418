#include "services/referral/config.h"

#include "absl/strings/str_split.h"
#include "libs/runtime/options.h"

namespace referral {

absl::StatusOr<Config> Config::FromArgs(int argc, const char* const* argv, std::string* help) {
  es::runtime::Options o("referral-server",
                         "Referral intake and assessment for standardised patient pathways.",
                         argc, argv);
  Config c;
  c.grpc_listen = o.String("grpc-listen", "PATHWAYS_REFERRAL_GRPC_LISTEN", c.grpc_listen,
                           "gRPC listen address (host:port; port 0 picks a free port)");
  c.data_dir = o.String("data-dir", "PATHWAYS_REFERRAL_DATA_DIR", c.data_dir,
                        "RocksDB directory: event store, outbox and views");
  c.kafka_bootstrap = o.String("kafka-bootstrap", "PATHWAYS_KAFKA_BOOTSTRAP", c.kafka_bootstrap,
                               "Kafka bootstrap servers");
  c.topic = o.String("topic", "PATHWAYS_REFERRAL_TOPIC", c.topic, "Kafka topic for referral events");
  const std::string kafka_options =
      o.String("kafka-options", "PATHWAYS_KAFKA_OPTIONS", "",
               "extra librdkafka settings, comma-separated key=value (e.g. TLS for a real cluster)");
  c.pseudonym_secret =
      o.String("pseudonym-secret", "PATHWAYS_PSEUDONYM_SECRET", "",
               "secret for pseudonymous patient keys (>= 16 bytes; the same in every service)");
  c.time_zone = o.String("time-zone", "PATHWAYS_TIME_ZONE", c.time_zone,
                         "time zone of the units' civil dates (IANA name)");
  c.calendar = o.String("calendar", "PATHWAYS_CALENDAR", c.calendar,
                        "holiday calendar for working days: NO or DK");
  c.saturday_is_working_day =
      o.Bool("saturday-is-working-day", "PATHWAYS_SATURDAY_IS_WORKING_DAY",
             c.saturday_is_working_day, "count Saturdays as working days (NO calendar only)");
  c.assessment_working_days = static_cast<int>(
      o.Int("assessment-working-days", "PATHWAYS_ASSESSMENT_WORKING_DAYS",
            c.assessment_working_days, "working days to assess a referral (pbrl. 2-2: 10)"));
  c.sync_wal = o.Bool("sync-wal", "PATHWAYS_SYNC_WAL", c.sync_wal,
                      "fsync the RocksDB WAL before answering a command");
  c.block_cache_mb = static_cast<int>(
      o.Int("block-cache-mb", "PATHWAYS_BLOCK_CACHE_MB", c.block_cache_mb, "RocksDB block cache"));
  c.write_buffer_mb = static_cast<int>(o.Int("write-buffer-mb", "PATHWAYS_WRITE_BUFFER_MB",
                                             c.write_buffer_mb, "RocksDB memtable size"));
  c.drain_timeout_seconds = static_cast<int>(
      o.Int("drain-timeout-seconds", "PATHWAYS_DRAIN_TIMEOUT_SECONDS", c.drain_timeout_seconds,
            "on SIGTERM: time for calls in flight and the outbox to finish"));
  c.log_level = o.String("log-level", "PATHWAYS_LOG_LEVEL", c.log_level,
                         "debug, info, warning or error");
  if (o.help_requested()) {
    *help = o.Help();
    return c;
  }
  if (absl::Status s = o.Finish(); !s.ok()) return s;
  for (absl::string_view item : absl::StrSplit(kafka_options, ',', absl::SkipWhitespace())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (kv.first.empty() || kv.second.empty()) {
      return absl::InvalidArgumentError("--kafka-options: each entry must be key=value");
    }
    c.kafka_options.push_back(std::move(kv));
  }
  if (c.pseudonym_secret.size() < 16) {
    return absl::InvalidArgumentError(
        "--pseudonym-secret: required, at least 16 bytes (or PATHWAYS_PSEUDONYM_SECRET)");
  }
  if (c.calendar != "NO" && c.calendar != "DK") {
    return absl::InvalidArgumentError("--calendar: must be NO or DK");
  }
  if (c.assessment_working_days < 1 || c.assessment_working_days > 60) {
    return absl::InvalidArgumentError("--assessment-working-days: must be 1..60");
  }
  if (c.data_dir.empty()) return absl::InvalidArgumentError("--data-dir: must be set");
  return c;
}

}  // namespace referral
