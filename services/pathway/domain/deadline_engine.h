#pragma once

// The deadline engine: derives every deadline of a pathway from its catalogue rules and its
// effective timeline (points with corrections applied). Pure and total: the same timeline always
// gives the same deadlines, so a correction simply re-derives them, and views rebuilt from the
// event store are identical.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "catalogue/v1/catalogue.pb.h"
#include "clinical/calendar.h"
#include "pathway/v1/state.pb.h"

namespace pathway::domain {

// A measurement point as it stands after corrections.
struct EffectivePoint {
  std::string point_id;
  catalogue::v1::PointKind kind = catalogue::v1::POINT_KIND_UNSPECIFIED;
  absl::CivilDay date;
  std::string outcome;
  int64_t version = 0;  // order of recording breaks ties between points on one date
};

struct DeadlineInputs {
  std::string pathway_id;
  const catalogue::v1::RuleVersion* rules = nullptr;  // required
  const clinical::Calendar* calendar = nullptr;       // required for working-day rules
  catalogue::v1::Setting setting = catalogue::v1::SETTING_UNSPECIFIED;
  const google::protobuf::Map<std::string, std::string>* conditions = nullptr;
  std::vector<EffectivePoint> points;  // any order
  std::optional<absl::CivilDay> start_date;
  std::optional<absl::CivilDay> legal_deadline;
  std::optional<absl::CivilDay> closed_on;                  // pathway ended or transferred
  std::map<std::string, absl::CivilDay> breaches_recorded;  // deadline id -> breached on
};

std::vector<v1::Deadline> ComputeDeadlines(const DeadlineInputs& inputs);

// True when the rule applies to a pathway with this setting and these conditions.
bool RuleApplies(const catalogue::v1::DeadlineRule& rule, catalogue::v1::Setting setting,
                 const google::protobuf::Map<std::string, std::string>* conditions);

absl::CivilDay DueDate(const catalogue::v1::DeadlineRule& rule, absl::CivilDay opened_on,
                       const clinical::Calendar* calendar);

}  // namespace pathway::domain
