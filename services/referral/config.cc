#include "services/referral/config.h"

#include "libs/runtime/options.h"

namespace referral {

absl::StatusOr<Config> Config::FromArgs(int argc, const char* const* argv, std::string* help) {
  es::runtime::Options o("referral-server",
                         "Referral intake and assessment for standardised patient pathways.", argc,
                         argv);
  Config c;
  c.service.Declare(o, "referral", "127.0.0.1:50061");
  c.topic =
      o.String("topic", "PATHWAYS_REFERRAL_TOPIC", c.topic, "Kafka topic for referral events");
  c.assessment_working_days = static_cast<int>(
      o.Int("assessment-working-days", "PATHWAYS_ASSESSMENT_WORKING_DAYS",
            c.assessment_working_days, "working days to assess a referral (pbrl. 2-2: 10)"));
  if (o.help_requested()) {
    *help = o.Help();
    return c;
  }
  if (absl::Status s = o.Finish(); !s.ok()) return s;
  if (absl::Status s = c.service.Validate(); !s.ok()) return s;
  if (c.assessment_working_days < 1 || c.assessment_working_days > 60) {
    return absl::InvalidArgumentError("--assessment-working-days: must be 1..60");
  }
  return c;
}

Config Config::ForTest(const std::string& data_dir, const std::string& kafka_bootstrap) {
  Config c;
  c.service = pathways::ServiceConfig::ForTest(data_dir, kafka_bootstrap);
  return c;
}

}  // namespace referral
