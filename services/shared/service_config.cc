#include "services/shared/service_config.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/runtime/log.h"

namespace pathways {

void ServiceConfig::Declare(es::runtime::Options& o, const std::string& service,
                            const std::string& default_listen) {
  const std::string upper = absl::AsciiStrToUpper(service);
  grpc_listen =
      o.String("grpc-listen", absl::StrCat("PATHWAYS_", upper, "_GRPC_LISTEN"), default_listen,
               "gRPC listen address (host:port; port 0 picks a free port)");
  data_dir =
      o.String("data-dir", absl::StrCat("PATHWAYS_", upper, "_DATA_DIR"),
               absl::StrCat("var/", service), "RocksDB directory: event store, outbox and views");
  metrics_listen =
      o.String("metrics-listen", absl::StrCat("PATHWAYS_", upper, "_METRICS_LISTEN"),
               metrics_listen, "Prometheus /metrics listen address (host:port; empty: not served)");
  kafka_bootstrap = o.String("kafka-bootstrap", "PATHWAYS_KAFKA_BOOTSTRAP", kafka_bootstrap,
                             "Kafka bootstrap servers");
  kafka_options_text_ = o.String(
      "kafka-options", "PATHWAYS_KAFKA_OPTIONS", "",
      "extra librdkafka settings, comma-separated key=value (e.g. TLS for a real cluster)");
  pseudonym_secret =
      o.String("pseudonym-secret", "PATHWAYS_PSEUDONYM_SECRET", "",
               "secret for pseudonymous patient keys (>= 16 bytes; the same in every service)");
  time_zone = o.String("time-zone", "PATHWAYS_TIME_ZONE", time_zone,
                       "time zone of the units' civil dates (IANA name)");
  calendar = o.String("calendar", "PATHWAYS_CALENDAR", calendar,
                      "holiday calendar for working days: NO or DK");
  saturday_is_working_day =
      o.Bool("saturday-is-working-day", "PATHWAYS_SATURDAY_IS_WORKING_DAY", saturday_is_working_day,
             "count Saturdays as working days (NO calendar only)");
  sync_wal = o.Bool("sync-wal", "PATHWAYS_SYNC_WAL", sync_wal,
                    "fsync the RocksDB WAL before answering a command");
  block_cache_mb = static_cast<int>(
      o.Int("block-cache-mb", "PATHWAYS_BLOCK_CACHE_MB", block_cache_mb, "RocksDB block cache"));
  write_buffer_mb = static_cast<int>(o.Int("write-buffer-mb", "PATHWAYS_WRITE_BUFFER_MB",
                                           write_buffer_mb, "RocksDB memtable size per family"));
  drain_timeout_seconds = static_cast<int>(
      o.Int("drain-timeout-seconds", "PATHWAYS_DRAIN_TIMEOUT_SECONDS", drain_timeout_seconds,
            "on SIGTERM: time for calls in flight and the outbox to finish"));
  log_level =
      o.String("log-level", "PATHWAYS_LOG_LEVEL", log_level, "debug, info, warning or error");
}

absl::Status ServiceConfig::Validate() const {
  kafka_options.clear();
  for (absl::string_view item : absl::StrSplit(kafka_options_text_, ',', absl::SkipWhitespace())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (kv.first.empty() || kv.second.empty()) {
      return absl::InvalidArgumentError("--kafka-options: each entry must be key=value");
    }
    kafka_options.push_back(std::move(kv));
  }
  if (pseudonym_secret.size() < 16) {
    return absl::InvalidArgumentError(
        "--pseudonym-secret: required, at least 16 bytes (or PATHWAYS_PSEUDONYM_SECRET)");
  }
  if (calendar != "NO" && calendar != "DK") {
    return absl::InvalidArgumentError("--calendar: must be NO or DK");
  }
  if (data_dir.empty()) return absl::InvalidArgumentError("--data-dir: must be set");
  es::runtime::LogLevel level;
  if (!es::runtime::ParseLogLevel(log_level, &level)) {
    return absl::InvalidArgumentError("--log-level: must be debug, info, warning or error");
  }
  if (drain_timeout_seconds < 0 || block_cache_mb < 1 || write_buffer_mb < 1) {
    return absl::InvalidArgumentError(
        "--drain-timeout-seconds, --block-cache-mb, --write-buffer-mb: must be positive");
  }
  absl::StatusOr<absl::TimeZone> zone = Zone();
  return zone.ok() ? absl::OkStatus() : zone.status();
}

absl::StatusOr<absl::TimeZone> ServiceConfig::Zone() const {
  absl::TimeZone zone;
  if (!absl::LoadTimeZone(time_zone, &zone)) {
    return absl::InvalidArgumentError(absl::StrCat("--time-zone: unknown zone ", time_zone));
  }
  return zone;
}

absl::StatusOr<clinical::Calendar> ServiceConfig::WorkingCalendar() const {
  return clinical::Calendar::Create(calendar == "DK"
                                        ? clinical::DanishCalendarSpec()
                                        : clinical::NorwegianCalendarSpec(saturday_is_working_day));
}

ServiceConfig ServiceConfig::ForTest(const std::string& data_dir,
                                     const std::string& kafka_bootstrap) {
  ServiceConfig c;
  c.grpc_listen = "127.0.0.1:0";
  c.data_dir = data_dir;
  c.kafka_bootstrap = kafka_bootstrap;
  c.pseudonym_secret = "test-secret-0123456789";
  c.drain_timeout_seconds = 5;
  return c;
}

absl::StatusOr<ServiceBasics> ServiceConfig::Basics() const {
  es::runtime::LogLevel level;
  if (es::runtime::ParseLogLevel(log_level, &level)) es::runtime::SetMinLogLevel(level);
  absl::StatusOr<absl::TimeZone> zone = Zone();
  if (!zone.ok()) return zone.status();
  absl::StatusOr<clinical::Calendar> working_calendar = WorkingCalendar();
  if (!working_calendar.ok()) return working_calendar.status();
  absl::StatusOr<es::Pseudonymizer> pseudonymizer = es::Pseudonymizer::Create(pseudonym_secret);
  if (!pseudonymizer.ok()) return pseudonymizer.status();
  return ServiceBasics{*zone, std::move(*working_calendar), std::move(*pseudonymizer)};
}

es::host::HostOptions ServiceConfig::HostOptions(const std::string& service) const {
  es::host::HostOptions options;
  options.name = service;
  options.storage = {.path = data_dir,
                     .sync_wal = sync_wal,
                     .block_cache_bytes = static_cast<size_t>(block_cache_mb) << 20,
                     .write_buffer_bytes = static_cast<size_t>(write_buffer_mb) << 20};
  options.relay.bootstrap_servers = kafka_bootstrap;
  options.relay.client_id = absl::StrCat("pathways-", service);
  options.relay.kafka_config = kafka_options;
  options.drain_timeout = absl::Seconds(drain_timeout_seconds);
  options.metrics_listen = metrics_listen;
  return options;
}

es::projection::ConsumerOptions ServiceConfig::ConsumerOptions(
    const std::string& group, std::vector<std::string> topics, const std::string& dead_letter_topic,
    const std::vector<std::pair<std::string, std::string>>& extra) const {
  es::projection::ConsumerOptions options;
  options.bootstrap_servers = kafka_bootstrap;
  options.group_id = group;
  options.topics = std::move(topics);
  options.dead_letter_topic = dead_letter_topic;
  // A consumer that died without leaving its group (SIGKILL, node loss) holds its partitions
  // until its session times out, and a restarted service reports SERVING only once it has them
  // back: librdkafka's 45 s default would keep a restarted pod unready that long. 10 s (Kafka's
  // own default before 3.0) with heartbeats every 2 s; --kafka-options overrides both.
  options.kafka_config = {{"session.timeout.ms", "10000"}, {"heartbeat.interval.ms", "2000"}};
  options.kafka_config.insert(options.kafka_config.end(), kafka_options.begin(),
                              kafka_options.end());
  options.kafka_config.insert(options.kafka_config.end(), extra.begin(), extra.end());
  return options;
}

}  // namespace pathways
