#include "services/pathway/config.h"

#include "absl/strings/str_split.h"
#include "libs/runtime/options.h"

namespace pathway {

absl::StatusOr<Config> Config::FromArgs(int argc, const char* const* argv, std::string* help) {
  es::runtime::Options o("pathway-server",
                         "Pathway state, measurement points, the deadline engine and worklists.",
                         argc, argv);
  Config c;
  c.service.Declare(o, "pathway", "127.0.0.1:50062");
  c.topic = o.String("topic", "PATHWAYS_PATHWAY_TOPIC", c.topic, "Kafka topic for pathway events");
  c.referral_topic = o.String("referral-topic", "PATHWAYS_REFERRAL_TOPIC", c.referral_topic,
                              "Kafka topic the referral policy consumes");
  c.dead_letter_topic = o.String("dead-letter-topic", "PATHWAYS_DEAD_LETTER_TOPIC",
                                 c.dead_letter_topic, "where undecodable records go");
  c.consumer_group = o.String("consumer-group", "PATHWAYS_PATHWAY_CONSUMER_GROUP", c.consumer_group,
                              "Kafka consumer group of the referral policy");
  const std::string dirs =
      o.String("catalogue-dirs", "PATHWAYS_CATALOGUE_DIRS", "catalogue",
               "comma-separated catalogue directories; later ones override earlier ones by id");
  c.timer_interval_seconds = static_cast<int>(
      o.Int("timer-interval-seconds", "PATHWAYS_TIMER_INTERVAL_SECONDS", c.timer_interval_seconds,
            "how often the deadline timer looks for passed deadlines"));
  c.start_date_rule = o.String("start-date-rule", "PATHWAYS_START_DATE_RULE", c.start_date_rule,
                               "pathway start date from the referral: assessed or received");
  c.default_setting =
      o.String("default-setting", "PATHWAYS_DEFAULT_SETTING", c.default_setting,
               "setting of pathways started by the policy: outpatient or inpatient");
  c.rebuild_views = o.Bool("rebuild-views", "PATHWAYS_REBUILD_VIEWS", c.rebuild_views,
                           "drop the worklist/breach/patient views and rebuild them from the event "
                           "store before serving (after a catalogue fix or a damaged view)");
  if (o.help_requested()) {
    *help = o.Help();
    return c;
  }
  if (absl::Status s = o.Finish(); !s.ok()) return s;
  if (absl::Status s = c.service.Validate(); !s.ok()) return s;
  c.catalogue_dirs = absl::StrSplit(dirs, ',', absl::SkipWhitespace());
  if (c.catalogue_dirs.empty()) return absl::InvalidArgumentError("--catalogue-dirs: must be set");
  if (c.timer_interval_seconds < 1) {
    return absl::InvalidArgumentError("--timer-interval-seconds: must be at least 1");
  }
  if (c.start_date_rule != "assessed" && c.start_date_rule != "received") {
    return absl::InvalidArgumentError("--start-date-rule: must be assessed or received");
  }
  if (c.default_setting != "outpatient" && c.default_setting != "inpatient") {
    return absl::InvalidArgumentError("--default-setting: must be outpatient or inpatient");
  }
  return c;
}

Config Config::ForTest(const std::string& data_dir, const std::string& kafka_bootstrap,
                       const std::string& catalogue_dir) {
  Config c;
  c.service = pathways::ServiceConfig::ForTest(data_dir, kafka_bootstrap);
  c.catalogue_dirs = {catalogue_dir};
  c.timer_interval_seconds = 3600;  // tests drive the timer themselves
  // The mock broker's first group join needs a session timeout above ~3 s (facts found here).
  c.consumer_kafka_options = {{"session.timeout.ms", "3500"},
                              {"heartbeat.interval.ms", "500"},
                              {"fetch.wait.max.ms", "10"}};
  return c;
}

}  // namespace pathway
