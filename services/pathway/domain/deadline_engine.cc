#include "services/pathway/domain/deadline_engine.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "libs/eventing/proto_time.h"

namespace pathway::domain {
namespace {

bool Before(const EffectivePoint& a, const EffectivePoint& b) {
  if (a.date != b.date) return a.date < b.date;
  return a.version < b.version;
}

// The first point named `to_point` that comes after `from` in (date, recording) order.
const EffectivePoint* FirstAfter(const std::vector<EffectivePoint>& sorted,
                                 const EffectivePoint& from, const std::string& to_point) {
  for (const EffectivePoint& p : sorted) {
    if (p.point_id == to_point && Before(from, p)) return &p;
  }
  return nullptr;
}

bool PatientPostponedWithin(const std::vector<EffectivePoint>& sorted, absl::CivilDay from,
                            std::optional<absl::CivilDay> until) {
  for (const EffectivePoint& p : sorted) {
    if (p.kind != catalogue::v1::PATIENT_POSTPONED) continue;
    if (p.date >= from && (!until.has_value() || p.date <= *until)) return true;
  }
  return false;
}

void Close(v1::Deadline& d, std::optional<absl::CivilDay> met_on,
           std::optional<absl::CivilDay> pathway_closed_on) {
  const absl::CivilDay due = es::FromProtoDate(d.due_date());
  if (met_on.has_value() && (!pathway_closed_on.has_value() || *met_on <= *pathway_closed_on)) {
    d.set_status(*met_on <= due ? v1::MET_ON_TIME : v1::MET_LATE);
    *d.mutable_closed_on() = es::ToProtoDate(*met_on);
  } else if (pathway_closed_on.has_value()) {
    d.set_status(v1::CANCELLED);
    *d.mutable_closed_on() = es::ToProtoDate(*pathway_closed_on);
  } else {
    d.set_status(v1::OPEN);
  }
}

// A recorded breach is a fact: it keeps the day it was recorded even if a correction later
// moves the deadline.
void MarkBreach(v1::Deadline& d, const std::map<std::string, absl::CivilDay>& breaches) {
  auto it = breaches.find(d.deadline_id());
  if (it == breaches.end()) return;
  d.set_breach_recorded(true);
  *d.mutable_breached_on() = es::ToProtoDate(it->second);
}

}  // namespace

bool RuleApplies(const catalogue::v1::DeadlineRule& rule, catalogue::v1::Setting setting,
                 const google::protobuf::Map<std::string, std::string>* conditions) {
  if (rule.setting() != catalogue::v1::SETTING_UNSPECIFIED && rule.setting() != setting) {
    return false;
  }
  if (rule.condition().empty()) return true;
  const size_t eq = rule.condition().find('=');
  if (eq == std::string::npos || conditions == nullptr) return false;
  auto it = conditions->find(rule.condition().substr(0, eq));
  return it != conditions->end() && it->second == rule.condition().substr(eq + 1);
}

absl::CivilDay DueDate(const catalogue::v1::DeadlineRule& rule, absl::CivilDay opened_on,
                       const clinical::Calendar* calendar) {
  if (rule.day_kind() == catalogue::v1::WORKING_DAYS && calendar != nullptr) {
    return calendar->AddWorkingDays(opened_on, rule.days());
  }
  return opened_on + rule.days();
}

std::vector<v1::Deadline> ComputeDeadlines(const DeadlineInputs& in) {
  std::vector<v1::Deadline> deadlines;
  if (in.rules == nullptr) return deadlines;
  std::vector<EffectivePoint> sorted = in.points;
  std::stable_sort(sorted.begin(), sorted.end(), Before);

  for (const catalogue::v1::DeadlineRule& rule : in.rules->deadlines()) {
    if (!RuleApplies(rule, in.setting, in.conditions)) continue;
    int n = 0;
    for (const EffectivePoint& from : sorted) {
      if (from.point_id != rule.from_point()) continue;
      ++n;
      const bool only_first = rule.occurrence() != catalogue::v1::EACH;
      if (only_first && n > 1) break;
      // A deadline opened after the pathway closed never existed.
      if (in.closed_on.has_value() && from.date > *in.closed_on) break;
      v1::Deadline d;
      d.set_deadline_id(absl::StrCat(in.pathway_id, "/", rule.id(), "/", n));
      d.set_rule_id(rule.id());
      d.set_kind(v1::PATHWAY_RULE);
      d.set_from_point(rule.from_point());
      d.set_to_point(rule.to_point());
      *d.mutable_opened_on() = es::ToProtoDate(from.date);
      *d.mutable_due_date() = es::ToProtoDate(DueDate(rule, from.date, in.calendar));
      d.set_rule_unconfirmed(rule.unconfirmed());
      const EffectivePoint* to = FirstAfter(sorted, from, rule.to_point());
      Close(d, to ? std::optional<absl::CivilDay>(to->date) : std::nullopt, in.closed_on);
      MarkBreach(d, in.breaches_recorded);
      std::optional<absl::CivilDay> until;
      if (d.has_closed_on()) until = es::FromProtoDate(d.closed_on());
      d.set_attributed_to_patient(PatientPostponedWithin(sorted, from.date, until));
      deadlines.push_back(std::move(d));
    }
  }

  if (in.legal_deadline.has_value() && in.start_date.has_value()) {
    v1::Deadline d;
    d.set_deadline_id(absl::StrCat(in.pathway_id, "/legal"));
    d.set_rule_id("legal");
    d.set_kind(v1::LEGAL);
    d.set_from_point("start");
    d.set_to_point(in.rules->legal_deadline_met_by());
    *d.mutable_opened_on() = es::ToProtoDate(*in.start_date);
    *d.mutable_due_date() = es::ToProtoDate(*in.legal_deadline);
    std::optional<absl::CivilDay> met_on;
    for (const EffectivePoint& p : sorted) {
      if (!in.rules->legal_deadline_met_by().empty() &&
          p.point_id == in.rules->legal_deadline_met_by()) {
        met_on = p.date;
        break;
      }
    }
    Close(d, met_on, in.closed_on);
    MarkBreach(d, in.breaches_recorded);
    std::optional<absl::CivilDay> until;
    if (d.has_closed_on()) until = es::FromProtoDate(d.closed_on());
    d.set_attributed_to_patient(PatientPostponedWithin(sorted, *in.start_date, until));
    deadlines.push_back(std::move(d));
  }
  return deadlines;
}

}  // namespace pathway::domain
