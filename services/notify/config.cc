#include "services/notify/config.h"

#include "absl/strings/str_split.h"
#include "libs/runtime/options.h"

namespace notify {

absl::StatusOr<Config> Config::FromArgs(int argc, const char* const* argv, std::string* help) {
  es::runtime::Options o("notify-server",
                         "Reminders and alerts for coordinators, municipalities, patients and "
                         "relatives: scheduled, delivered with retries, listed and streamed.",
                         argc, argv);
  Config c;
  c.service.Declare(o, "notify", "127.0.0.1:50063");
  c.topic = o.String("topic", "PATHWAYS_NOTIFY_TOPIC", c.topic, "Kafka topic for notify events");
  c.pathway_topic = o.String("pathway-topic", "PATHWAYS_PATHWAY_TOPIC", c.pathway_topic,
                             "pathway events to react to");
  c.referral_topic = o.String("referral-topic", "PATHWAYS_REFERRAL_TOPIC", c.referral_topic,
                              "referral events to react to");
  c.dead_letter_topic = o.String("dead-letter-topic", "PATHWAYS_DEAD_LETTER_TOPIC",
                                 c.dead_letter_topic, "where undecodable records go");
  c.consumer_group = o.String("consumer-group", "PATHWAYS_NOTIFY_CONSUMER_GROUP", c.consumer_group,
                              "Kafka consumer group");
  const std::string dirs =
      o.String("catalogue-dirs", "PATHWAYS_CATALOGUE_DIRS", "catalogue",
               "comma-separated catalogue directories (deadlines are derived as the pathway "
               "service derives them)");
  c.reminder_working_days = static_cast<int>(
      o.Int("reminder-working-days", "PATHWAYS_REMINDER_WORKING_DAYS", c.reminder_working_days,
            "remind the coordinator this many working days before a pathway deadline"));
  c.assessment_reminder_working_days = static_cast<int>(o.Int(
      "assessment-reminder-working-days", "PATHWAYS_ASSESSMENT_REMINDER_WORKING_DAYS",
      c.assessment_reminder_working_days, "working days before a referral's assessment deadline"));
  c.appointment_reminder_hours = static_cast<int>(
      o.Int("appointment-reminder-hours", "PATHWAYS_APPOINTMENT_REMINDER_HOURS",
            c.appointment_reminder_hours, "hours before an appointment to remind the patient"));
  c.reminder_hour = static_cast<int>(o.Int("reminder-hour", "PATHWAYS_REMINDER_HOUR",
                                           c.reminder_hour, "local hour reminders go out"));
  c.staff_language = o.String("staff-language", "PATHWAYS_STAFF_LANGUAGE", c.staff_language,
                              "language of staff messages: nb, da or en");
  c.staff_channel = o.String("staff-channel", "PATHWAYS_STAFF_CHANNEL", c.staff_channel,
                             "channel for staff notifications: file or webhook");
  c.file_channel_path = o.String("file-channel-path", "PATHWAYS_FILE_CHANNEL_PATH",
                                 c.file_channel_path, "JSON-lines file of the file channel");
  c.webhook_url = o.String("webhook-url", "PATHWAYS_WEBHOOK_URL", c.webhook_url,
                           "messaging gateway URL for the webhook channel (empty: none)");
  c.webhook_timeout_ms = static_cast<int>(o.Int("webhook-timeout-ms", "PATHWAYS_WEBHOOK_TIMEOUT_MS",
                                                c.webhook_timeout_ms, "per request"));
  c.webhook_authorization =
      o.String("webhook-authorization", "PATHWAYS_WEBHOOK_AUTHORIZATION", "",
               "Authorization header value for the gateway (keep it in a secret)");
  c.max_attempts = static_cast<int>(
      o.Int("max-attempts", "PATHWAYS_MAX_ATTEMPTS", c.max_attempts, "delivery attempts"));
  c.first_backoff_seconds = static_cast<int>(
      o.Int("first-backoff-seconds", "PATHWAYS_FIRST_BACKOFF_SECONDS", c.first_backoff_seconds,
            "wait after the first failed attempt; doubles each time"));
  c.max_backoff_seconds =
      static_cast<int>(o.Int("max-backoff-seconds", "PATHWAYS_MAX_BACKOFF_SECONDS",
                             c.max_backoff_seconds, "longest wait"));
  c.dispatch_interval_ms =
      static_cast<int>(o.Int("dispatch-interval-ms", "PATHWAYS_DISPATCH_INTERVAL_MS",
                             c.dispatch_interval_ms, "how often due notifications are looked for"));
  if (o.help_requested()) {
    *help = o.Help();
    return c;
  }
  if (absl::Status s = o.Finish(); !s.ok()) return s;
  if (absl::Status s = c.service.Validate(); !s.ok()) return s;
  c.catalogue_dirs = absl::StrSplit(dirs, ',', absl::SkipWhitespace());
  if (c.staff_language != "nb" && c.staff_language != "da" && c.staff_language != "en") {
    return absl::InvalidArgumentError("--staff-language: must be nb, da or en");
  }
  if (c.staff_channel != "file" && c.staff_channel != "webhook") {
    return absl::InvalidArgumentError("--staff-channel: must be file or webhook");
  }
  if (c.staff_channel == "webhook" && c.webhook_url.empty()) {
    return absl::InvalidArgumentError("--webhook-url: required when --staff-channel=webhook");
  }
  if (c.max_attempts < 1 || c.first_backoff_seconds < 1 || c.max_backoff_seconds < 1 ||
      c.dispatch_interval_ms < 10 || c.reminder_hour < 0 || c.reminder_hour > 23 ||
      c.reminder_working_days < 0 || c.assessment_reminder_working_days < 0) {
    return absl::InvalidArgumentError(
        "--max-attempts, --first-backoff-seconds, --max-backoff-seconds, --dispatch-interval-ms, "
        "--reminder-hour, --reminder-working-days: out of range");
  }
  return c;
}

Config Config::ForTest(const std::string& data_dir, const std::string& kafka_bootstrap,
                       const std::string& catalogue_dir) {
  Config c;
  c.service = pathways::ServiceConfig::ForTest(data_dir, kafka_bootstrap);
  c.catalogue_dirs = {catalogue_dir};
  c.file_channel_path = data_dir + "/outbox.jsonl";
  c.dispatch_interval_ms = 3600 * 1000;  // tests drive the dispatcher themselves
  c.consumer_kafka_options = {{"session.timeout.ms", "3500"},
                              {"heartbeat.interval.ms", "500"},
                              {"fetch.wait.max.ms", "10"}};
  return c;
}

}  // namespace notify
