#include "services/pathway/views/pathway_view_rows.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/eventing/proto_time.h"

namespace pathway::views {
namespace {

v1::DeadlineEntry EntryOf(const v1::Pathway& p, const v1::Deadline& d) {
  v1::DeadlineEntry e;
  e.set_pathway_id(p.pathway_id());
  e.set_deadline_id(d.deadline_id());
  e.set_rule_id(d.rule_id());
  e.set_kind(d.kind());
  e.set_unit(p.unit());
  e.set_coordinator_id(p.coordinator_id());
  e.set_pathway_type(p.pathway_type());
  e.set_patient_key(p.patient_key());
  *e.mutable_due_date() = d.due_date();
  e.set_status(d.status());
  e.set_breach_recorded(d.breach_recorded());
  e.set_attributed_to_patient(d.attributed_to_patient());
  e.set_from_point(d.from_point());
  e.set_to_point(d.to_point());
  if (d.has_closed_on()) *e.mutable_closed_on() = d.closed_on();
  return e;
}

std::string ProtoDateKey(const eventing::v1::Date& d) {
  return absl::StrFormat("%04d%02d%02d", d.year(), d.month(), d.day());
}

}  // namespace

std::string DateKey(absl::CivilDay day) {
  return absl::StrFormat("%04d%02d%02d", static_cast<int>(day.year()), day.month(), day.day());
}
std::string UnitDeadlinePrefix(const std::string& unit) { return absl::StrCat("wu/", unit, "/"); }
std::string CoordinatorDeadlinePrefix(const std::string& coordinator) {
  return absl::StrCat("wc/", coordinator, "/");
}
std::string TimerPrefix() { return "td/"; }
std::string UnitBreachPrefix(const std::string& unit) { return absl::StrCat("bu/", unit, "/"); }
std::string PatientPrefix(const std::string& patient_key) {
  return absl::StrCat("pp/", patient_key, "/");
}
std::string ActiveKey(const std::string& unit, const std::string& type,
                      const std::string& patient_key) {
  return absl::StrCat("ap/", unit, "/", type, "/", patient_key);
}

std::map<std::string, std::string> RowsOf(const v1::Pathway& p) {
  std::map<std::string, std::string> rows;
  if (p.status() == v1::PATHWAY_STATUS_UNSPECIFIED) return rows;
  for (const v1::Deadline& d : p.deadlines()) {
    if (d.deadline_id().empty()) continue;
    const std::string due = ProtoDateKey(d.due_date());
    if (d.status() == v1::OPEN) {
      const std::string value = EntryOf(p, d).SerializeAsString();
      rows[absl::StrCat(UnitDeadlinePrefix(p.unit()), due, "/", d.deadline_id())] = value;
      if (!p.coordinator_id().empty()) {
        rows[absl::StrCat(CoordinatorDeadlinePrefix(p.coordinator_id()), due, "/",
                          d.deadline_id())] = value;
      }
      if (!d.breach_recorded()) {
        rows[absl::StrCat(TimerPrefix(), due, "/", d.deadline_id())] = value;
      }
    }
    if (d.breach_recorded()) {
      const absl::CivilDay breached_on = d.has_breached_on() ? es::FromProtoDate(d.breached_on())
                                                             : es::FromProtoDate(d.due_date()) + 1;
      rows[absl::StrCat(UnitBreachPrefix(p.unit()), DateKey(breached_on), "/", d.deadline_id())] =
          EntryOf(p, d).SerializeAsString();
    }
  }
  if (!p.patient_key().empty()) {
    rows[absl::StrCat(PatientPrefix(p.patient_key()), p.pathway_id())] = p.pathway_id();
    if (p.status() == v1::ACTIVE) {
      rows[ActiveKey(p.unit(), p.pathway_type(), p.patient_key())] = p.pathway_id();
    }
  }
  return rows;
}

std::vector<es::storage::ViewWrite> RowsForChange(const v1::Pathway& before,
                                                  const v1::Pathway& after) {
  return es::storage::RowChanges(RowsOf(before), RowsOf(after));
}

}  // namespace pathway::views
