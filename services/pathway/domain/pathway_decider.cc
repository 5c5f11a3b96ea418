#include "services/pathway/domain/pathway_decider.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/eventing/proto_time.h"
#include "libs/eventing/validation.h"

namespace pathway::domain {
namespace {

using catalogue::v1::PointKind;
using Event = v1::PathwayEvent;

absl::Status Invalid(std::string_view field, std::string_view problem) {
  return es::InvalidField(field, problem);
}

absl::Status Rule(std::string_view rule) {
  return absl::FailedPreconditionError(std::string(rule));
}

std::vector<Event> One(Event event) {
  std::vector<Event> events;
  events.push_back(std::move(event));
  return events;
}

absl::Status RequireActive(const v1::Pathway& s, const std::string& pathway_id) {
  if (!IsValidId(pathway_id)) return Invalid("pathway_id", "must be 1-64 of [A-Za-z0-9._:-]");
  if (s.status() == v1::PATHWAY_STATUS_UNSPECIFIED) {
    return absl::NotFoundError(absl::StrCat("pathway ", pathway_id, " does not exist"));
  }
  if (s.status() != v1::ACTIVE) {
    return Rule(absl::StrCat("pathway is ", v1::PathwayStatus_Name(s.status()),
                             ": nothing more can be recorded"));
  }
  return absl::OkStatus();
}

absl::Status CheckDate(std::string_view field, absl::CivilDay date, const v1::Pathway& s,
                       absl::CivilDay today) {
  if (s.has_start_date() && date < es::FromProtoDate(s.start_date())) {
    return Invalid(field, "is before the pathway started");
  }
  if (date > today) return Invalid(field, "is in the future");
  return absl::OkStatus();
}

// Register code: type code + event code + outcome, joined (D01L, D11CU, D06UF). Outcome codes
// in the catalogue may already include the event letter ("CU"); then it is not repeated.
std::string RegisterCode(const catalogue::v1::PathwayType& type,
                         const catalogue::v1::MeasurementPoint& point, const std::string& outcome) {
  const std::string& event = point.event_code().value();
  if (!outcome.empty() && !event.empty() && outcome.rfind(event, 0) == 0) {
    return absl::StrCat(type.type_code().value(), outcome);
  }
  return absl::StrCat(type.type_code().value(), event, outcome);
}

std::string PayloadName(const Event& e) {
  const auto* field = Event::descriptor()->FindFieldByNumber(e.payload_case());
  return field == nullptr ? "" : field->message_type()->name();
}

int Occurrences(const std::vector<EffectivePoint>& points, const std::string& point_id) {
  int n = 0;
  for (const EffectivePoint& p : points) n += p.point_id == point_id ? 1 : 0;
  return n;
}

// Order rule: one of the required points must be recorded, dated on or before `date`.
absl::Status CheckOrder(const catalogue::v1::MeasurementPoint& point,
                        const std::vector<EffectivePoint>& points, absl::CivilDay date) {
  if (point.requires_any_of_size() == 0) return absl::OkStatus();
  for (const std::string& required : point.requires_any_of()) {
    for (const EffectivePoint& p : points) {
      if (p.point_id == required && p.date <= date) return absl::OkStatus();
    }
  }
  return absl::FailedPreconditionError(
      absl::StrCat("order rule: ", point.id(), " requires one of [",
                   absl::StrJoin(point.requires_any_of(), ", "),
                   "] to be recorded first, on or before its date"));
}

}  // namespace

bool IsValidId(const std::string& id) { return es::IsValidId(id); }

std::vector<EffectivePoint> PathwayDecider::EffectivePoints(const State& state) {
  std::vector<EffectivePoint> points;
  for (const v1::TimelineEntry& entry : state.timeline()) {
    if (entry.superseded() || entry.point_id().empty()) continue;
    if (entry.what() != "PointRecorded" && entry.what() != "PointCorrected" &&
        entry.what() != "PathwayStarted" && entry.what() != "PathwayEnded") {
      continue;
    }
    // A corrected point keeps its place among same-day points: the version it was first
    // recorded with, not the correction's.
    const int64_t order = entry.order_version() != 0 ? entry.order_version() : entry.version();
    points.push_back(EffectivePoint{entry.point_id(), entry.kind(), es::FromProtoDate(entry.date()),
                                    entry.outcome(), order});
  }
  return points;
}

void PathwayDecider::Rederive(State& state) const {
  const catalogue::v1::RuleVersion* rules =
      catalogue_.FindVersion(state.pathway_type(), state.rule_version());
  if (rules == nullptr) return;  // catalogue no longer has the version: keep what we had
  DeadlineInputs in;
  in.pathway_id = state.pathway_id();
  in.rules = rules;
  in.calendar = catalogue_.FindCalendar(rules->calendar());
  in.setting = state.setting();
  in.conditions = &state.conditions();
  in.points = EffectivePoints(state);
  if (state.has_start_date()) in.start_date = es::FromProtoDate(state.start_date());
  for (const v1::Deadline& d : state.deadlines()) {
    if (d.kind() == v1::LEGAL) in.legal_deadline = es::FromProtoDate(d.due_date());
    if (d.breach_recorded()) {
      in.breaches_recorded[d.deadline_id()] = d.has_breached_on()
                                                  ? es::FromProtoDate(d.breached_on())
                                                  : es::FromProtoDate(d.due_date()) + 1;
    }
  }
  if (state.has_end_date()) in.closed_on = es::FromProtoDate(state.end_date());
  std::vector<v1::Deadline> derived = ComputeDeadlines(in);
  state.clear_deadlines();
  for (v1::Deadline& d : derived) *state.add_deadlines() = std::move(d);
}

PathwayDecider::State PathwayDecider::Evolve(State state, const Event& event) const {
  v1::TimelineEntry entry;
  entry.set_event_id(event.metadata().event_id());
  entry.set_version(event.metadata().stream_version());
  entry.set_what(PayloadName(event));
  switch (event.payload_case()) {
    case Event::kStarted: {
      const v1::PathwayStarted& e = event.started();
      state.set_pathway_id(e.pathway_id());
      state.set_status(v1::ACTIVE);
      state.set_pathway_type(e.pathway_type());
      state.set_rule_version(e.rule_version());
      state.set_unit(e.unit());
      *state.mutable_patient() = e.patient();
      state.set_patient_key(event.metadata().patient_key());
      state.set_setting(e.setting());
      *state.mutable_conditions() = e.conditions();
      *state.mutable_start_date() = e.start_date();
      state.set_referral_id(e.referral_id());
      state.set_coordinator_id(e.coordinator_id());
      state.set_register_type_code(e.register_code());
      entry.set_point_id("start");
      entry.set_kind(catalogue::v1::START);
      *entry.mutable_date() = e.start_date();
      entry.set_register_code(e.register_code());
      if (const auto* rules = catalogue_.FindVersion(e.pathway_type(), e.rule_version())) {
        for (const auto& p : rules->points()) {
          if (p.kind() == catalogue::v1::START) entry.set_point_id(p.id());
        }
      }
      if (e.has_legal_deadline()) {
        // Seed the legal deadline; Rederive computes its status.
        v1::Deadline* legal = state.add_deadlines();
        legal->set_kind(v1::LEGAL);
        *legal->mutable_due_date() = e.legal_deadline();
      }
      break;
    }
    case Event::kPointRecorded: {
      const v1::PointRecorded& e = event.point_recorded();
      entry.set_point_id(e.point_id());
      entry.set_kind(e.kind());
      entry.set_outcome(e.outcome());
      *entry.mutable_date() = e.date();
      entry.set_register_code(e.register_code());
      break;
    }
    case Event::kPointCorrected: {
      const v1::PointCorrected& e = event.point_corrected();
      catalogue::v1::PointKind kind = catalogue::v1::POINT_KIND_UNSPECIFIED;
      int64_t order_version = 0;
      for (v1::TimelineEntry& old : *state.mutable_timeline()) {
        if (old.event_id() == e.corrects_event_id()) {
          old.set_superseded(true);
          kind = old.kind();
          order_version = old.order_version() != 0 ? old.order_version() : old.version();
        }
      }
      entry.set_order_version(order_version);
      entry.set_point_id(e.point_id());
      entry.set_kind(kind);
      entry.set_outcome(e.outcome());
      *entry.mutable_date() = e.date();
      entry.set_register_code(e.register_code());
      entry.set_corrects_event_id(e.corrects_event_id());
      entry.set_detail(e.reason());
      break;
    }
    case Event::kAppointmentScheduled: {
      v1::Appointment* a = state.add_appointments();
      a->set_appointment_id(event.appointment_scheduled().appointment_id());
      *a->mutable_at() = event.appointment_scheduled().at();
      a->set_kind(event.appointment_scheduled().kind());
      a->set_status("scheduled");
      entry.set_detail(a->appointment_id());
      break;
    }
    case Event::kAppointmentAttended:
    case Event::kAppointmentMissed: {
      const bool attended = event.payload_case() == Event::kAppointmentAttended;
      const std::string& id = attended ? event.appointment_attended().appointment_id()
                                       : event.appointment_missed().appointment_id();
      for (v1::Appointment& a : *state.mutable_appointments()) {
        if (a.appointment_id() == id) a.set_status(attended ? "attended" : "missed");
      }
      if (!attended) state.set_missed_appointments(state.missed_appointments() + 1);
      entry.set_detail(id);
      break;
    }
    case Event::kMeetingScheduled:
      entry.set_detail(event.meeting_scheduled().meeting_id());
      break;
    case Event::kMeetingHeld:
      entry.set_detail(event.meeting_held().meeting_id());
      *entry.mutable_date() = event.meeting_held().date();
      break;
    case Event::kCoordinatorAssigned:
      state.set_coordinator_id(event.coordinator_assigned().coordinator_id());
      entry.set_detail(state.coordinator_id());
      break;
    case Event::kLegalDeadlineChanged: {
      const v1::LegalDeadlineChanged& e = event.legal_deadline_changed();
      // Move the legal deadline's seed in place (a breach already recorded on it stays on
      // record), add it, or drop it; Rederive computes its status against the new date.
      auto* deadlines = state.mutable_deadlines();
      auto legal = std::find_if(deadlines->begin(), deadlines->end(),
                                [](const v1::Deadline& d) { return d.kind() == v1::LEGAL; });
      if (!e.has_legal_deadline()) {
        if (legal != deadlines->end()) deadlines->erase(legal);
        entry.set_detail(absl::StrCat("no legal deadline: ", e.reason()));
      } else {
        v1::Deadline* seed = legal != deadlines->end() ? &*legal : state.add_deadlines();
        seed->set_kind(v1::LEGAL);
        *seed->mutable_due_date() = e.legal_deadline();
        entry.set_detail(absl::StrCat("legal deadline ",
                                      absl::FormatCivilTime(es::FromProtoDate(e.legal_deadline())),
                                      ": ", e.reason()));
      }
      break;
    }
    case Event::kTransferred:
      state.set_status(v1::TRANSFERRED);
      state.set_transferred_to(event.transferred().to_unit());
      *state.mutable_end_date() = event.transferred().date();
      *entry.mutable_date() = event.transferred().date();
      entry.set_detail(event.transferred().to_unit());
      break;
    case Event::kEnded: {
      state.set_status(v1::ENDED);
      state.set_end_reason(event.ended().reason());
      *state.mutable_end_date() = event.ended().date();
      *entry.mutable_date() = event.ended().date();
      entry.set_outcome(event.ended().reason());
      entry.set_register_code(event.ended().register_code());
      entry.set_kind(catalogue::v1::END);
      if (const auto* rules = catalogue_.FindVersion(state.pathway_type(), state.rule_version())) {
        for (const auto& p : rules->points()) {
          if (p.kind() == catalogue::v1::END) entry.set_point_id(p.id());
        }
      }
      break;
    }
    case Event::kDeadlineBreached:
      for (v1::Deadline& d : *state.mutable_deadlines()) {
        if (d.deadline_id() == event.deadline_breached().deadline_id()) {
          d.set_breach_recorded(true);
          *d.mutable_breached_on() = event.deadline_breached().breached_on();
        }
      }
      entry.set_detail(event.deadline_breached().deadline_id());
      *entry.mutable_date() = event.deadline_breached().breached_on();
      break;
    case Event::PAYLOAD_NOT_SET:
      return state;
  }
  *state.add_timeline() = std::move(entry);
  state.set_version(event.metadata().stream_version());
  Rederive(state);
  return state;
}

absl::StatusOr<std::vector<Event>> PathwayDecider::Decide(const Command& command,
                                                          const State& s) const {
  return std::visit(
      [&](const auto& c) -> absl::StatusOr<std::vector<Event>> {
        using T = std::decay_t<decltype(c)>;
        Event event;
        if constexpr (std::is_same_v<T, StartPathway>) {
          if (!IsValidId(c.pathway_id))
            return Invalid("pathway_id", "must be 1-64 of [A-Za-z0-9._:-]");
          if (s.status() != v1::PATHWAY_STATUS_UNSPECIFIED) {
            return absl::AlreadyExistsError(
                absl::StrCat("pathway ", c.pathway_id, " already exists"));
          }
          const catalogue::v1::PathwayType* type = catalogue_.FindType(c.pathway_type);
          if (type == nullptr) return Invalid("pathway_type", "is not in the catalogue");
          if (!IsValidId(c.unit)) return Invalid("unit", "must be 1-64 of [A-Za-z0-9._:-]");
          if (c.patient_key.empty() || c.patient.value().empty())
            return Invalid("patient", "is required");
          if (c.setting != catalogue::v1::OUTPATIENT && c.setting != catalogue::v1::INPATIENT) {
            return Invalid("setting", "must be OUTPATIENT or INPATIENT");
          }
          if (c.start_date > c.today) return Invalid("start_date", "is in the future");
          if (c.legal_deadline.has_value() && *c.legal_deadline < c.start_date) {
            return Invalid("legal_deadline", "is before the start date");
          }
          if (!c.coordinator_id.empty() && !IsValidId(c.coordinator_id)) {
            return Invalid("coordinator_id", "must be 1-64 of [A-Za-z0-9._:-]");
          }
          absl::StatusOr<const catalogue::v1::RuleVersion*> version =
              catalogue_.VersionInForce(c.pathway_type, c.start_date);
          if (!version.ok()) return Invalid("start_date", std::string(version.status().message()));
          v1::PathwayStarted& e = *event.mutable_started();
          e.set_pathway_id(c.pathway_id);
          e.set_pathway_type(c.pathway_type);
          e.set_rule_version((*version)->id());
          e.set_unit(c.unit);
          *e.mutable_patient() = c.patient;
          e.set_setting(c.setting);
          for (const auto& [k, v] : c.conditions) (*e.mutable_conditions())[k] = v;
          *e.mutable_start_date() = es::ToProtoDate(c.start_date);
          e.set_referral_id(c.referral_id);
          if (c.legal_deadline.has_value()) {
            *e.mutable_legal_deadline() = es::ToProtoDate(*c.legal_deadline);
          }
          e.set_coordinator_id(c.coordinator_id);
          e.set_register_code(type->type_code().value());
          return One(std::move(event));
        } else if constexpr (std::is_same_v<T, RecordPoint>) {
          if (absl::Status st = RequireActive(s, c.pathway_id); !st.ok()) return st;
          const catalogue::v1::RuleVersion* rules =
              catalogue_.FindVersion(s.pathway_type(), s.rule_version());
          const catalogue::v1::PathwayType* type = catalogue_.FindType(s.pathway_type());
          if (rules == nullptr || type == nullptr) {
            return Rule(absl::StrCat("catalogue has no rule version ", s.rule_version(), " of ",
                                     s.pathway_type()));
          }
          const catalogue::v1::MeasurementPoint* point =
              clinical::PathwayCatalogue::FindPoint(*rules, c.point_id);
          if (point == nullptr) {
            return Invalid("point_id", absl::StrCat("is not a point of ", s.pathway_type()));
          }
          if (point->kind() == catalogue::v1::START)
            return Rule("the start point is recorded by StartPathway");
          if (point->kind() == catalogue::v1::END)
            return Rule("the end point is recorded by EndPathway");
          if (absl::Status st = CheckDate("date", c.date, s, c.today); !st.ok()) return st;
          if (point->outcomes_size() > 0) {
            bool known = false;
            for (const auto& o : point->outcomes()) known = known || o.code() == c.outcome;
            if (!known) {
              std::vector<std::string> codes;
              for (const auto& o : point->outcomes()) codes.push_back(o.code());
              return Invalid("outcome",
                             absl::StrCat("must be one of ", absl::StrJoin(codes, ", ")));
            }
          } else if (!c.outcome.empty()) {
            return Invalid("outcome", absl::StrCat(c.point_id, " has no outcome"));
          }
          const std::vector<EffectivePoint> points = EffectivePoints(s);
          if (absl::Status st = CheckOrder(*point, points, c.date); !st.ok()) return st;
          const int occurrence = Occurrences(points, c.point_id) + 1;
          if (point->max_occurrences() > 0 && occurrence > point->max_occurrences()) {
            return Rule(absl::StrCat("occurrence rule: ", c.point_id, " may be recorded at most ",
                                     point->max_occurrences(), " times per pathway"));
          }
          v1::PointRecorded& e = *event.mutable_point_recorded();
          e.set_point_id(c.point_id);
          e.set_kind(point->kind());
          e.set_outcome(c.outcome);
          *e.mutable_date() = es::ToProtoDate(c.date);
          e.set_register_code(RegisterCode(*type, *point, c.outcome));
          e.set_occurrence(occurrence);
          return One(std::move(event));
        } else if constexpr (std::is_same_v<T, CorrectPoint>) {
          if (absl::Status st = RequireActive(s, c.pathway_id); !st.ok()) return st;
          if (c.reason.empty()) return Invalid("reason", "is required for a correction");
          const v1::TimelineEntry* target = nullptr;
          for (const v1::TimelineEntry& entry : s.timeline()) {
            if (entry.event_id() == c.corrects_event_id) target = &entry;
          }
          if (target == nullptr || target->point_id().empty() ||
              (target->what() != "PointRecorded" && target->what() != "PointCorrected")) {
            return Invalid("corrects_event_id", "is not a recorded point of this pathway");
          }
          if (target->superseded()) {
            return Rule(
                "correction rule: correct the latest correction of a point, not a superseded one");
          }
          if (absl::Status st = CheckDate("date", c.date, s, c.today); !st.ok()) return st;
          const auto* rules = catalogue_.FindVersion(s.pathway_type(), s.rule_version());
          const auto* type = catalogue_.FindType(s.pathway_type());
          const auto* point =
              rules ? clinical::PathwayCatalogue::FindPoint(*rules, target->point_id()) : nullptr;
          std::string outcome = c.outcome.empty() ? target->outcome() : c.outcome;
          if (point != nullptr && point->outcomes_size() > 0) {
            bool known = false;
            for (const auto& o : point->outcomes()) known = known || o.code() == outcome;
            if (!known) return Invalid("outcome", "is not an outcome of this point");
          } else if (!outcome.empty()) {
            return Invalid("outcome", absl::StrCat(target->point_id(), " has no outcome"));
          }
          if (point != nullptr && rules != nullptr) {
            // The corrected point must still follow what it requires, and every point that
            // requires it must still follow it (or another of its alternatives).
            std::vector<EffectivePoint> corrected = EffectivePoints(s);
            const int64_t target_order =
                target->order_version() != 0 ? target->order_version() : target->version();
            for (EffectivePoint& p : corrected) {
              if (p.point_id == target->point_id() && p.version == target_order) p.date = c.date;
            }
            if (absl::Status st = CheckOrder(*point, corrected, c.date); !st.ok()) return st;
            for (const EffectivePoint& p : corrected) {
              const auto* other = clinical::PathwayCatalogue::FindPoint(*rules, p.point_id);
              if (other == nullptr) continue;
              if (absl::Status st = CheckOrder(*other, corrected, p.date); !st.ok()) return st;
            }
          }
          v1::PointCorrected& e = *event.mutable_point_corrected();
          e.set_corrects_event_id(c.corrects_event_id);
          e.set_point_id(target->point_id());
          *e.mutable_date() = es::ToProtoDate(c.date);
          e.set_outcome(outcome);
          e.set_reason(c.reason);
          if (point != nullptr && type != nullptr)
            e.set_register_code(RegisterCode(*type, *point, outcome));
          return One(std::move(event));
        } else if constexpr (std::is_same_v<T, ScheduleAppointment>) {
          if (absl::Status st = RequireActive(s, c.pathway_id); !st.ok()) return st;
          if (!IsValidId(c.appointment_id))
            return Invalid("appointment_id", "must be 1-64 of [A-Za-z0-9._:-]");
          if (c.at == absl::InfinitePast()) return Invalid("at", "is required");
          for (const auto& a : s.appointments()) {
            if (a.appointment_id() == c.appointment_id) {
              return absl::AlreadyExistsError(
                  absl::StrCat("appointment ", c.appointment_id, " already scheduled"));
            }
          }
          v1::AppointmentScheduled& e = *event.mutable_appointment_scheduled();
          e.set_appointment_id(c.appointment_id);
          *e.mutable_at() = es::ToProtoTimestamp(c.at);
          e.set_kind(c.kind);
          return One(std::move(event));
        } else if constexpr (std::is_same_v<T, RecordAttendance>) {
          if (absl::Status st = RequireActive(s, c.pathway_id); !st.ok()) return st;
          const v1::Appointment* found = nullptr;
          for (const auto& a : s.appointments()) {
            if (a.appointment_id() == c.appointment_id) found = &a;
          }
          if (found == nullptr)
            return absl::NotFoundError(
                absl::StrCat("appointment ", c.appointment_id, " is not scheduled"));
          if (found->status() != "scheduled") {
            return Rule(absl::StrCat("attendance rule: appointment ", c.appointment_id,
                                     " is already recorded as ", found->status()));
          }
          if (c.attended) {
            event.mutable_appointment_attended()->set_appointment_id(c.appointment_id);
          } else {
            event.mutable_appointment_missed()->set_appointment_id(c.appointment_id);
            event.mutable_appointment_missed()->set_missed_count(s.missed_appointments() + 1);
          }
          return One(std::move(event));
        } else if constexpr (std::is_same_v<T, ScheduleMeeting>) {
          if (absl::Status st = RequireActive(s, c.pathway_id); !st.ok()) return st;
          if (!IsValidId(c.meeting_id))
            return Invalid("meeting_id", "must be 1-64 of [A-Za-z0-9._:-]");
          if (c.at == absl::InfinitePast()) return Invalid("at", "is required");
          for (const auto& entry : s.timeline()) {
            if (entry.what() == "CollaborationMeetingScheduled" && entry.detail() == c.meeting_id) {
              return absl::AlreadyExistsError(
                  absl::StrCat("meeting ", c.meeting_id, " already scheduled"));
            }
          }
          v1::CollaborationMeetingScheduled& e = *event.mutable_meeting_scheduled();
          e.set_meeting_id(c.meeting_id);
          *e.mutable_at() = es::ToProtoTimestamp(c.at);
          *e.mutable_municipal_contact() = c.municipal_contact;
          return One(std::move(event));
        } else if constexpr (std::is_same_v<T, RecordMeetingHeld>) {
          if (absl::Status st = RequireActive(s, c.pathway_id); !st.ok()) return st;
          bool scheduled = false, held = false;
          for (const auto& entry : s.timeline()) {
            if (entry.detail() != c.meeting_id) continue;
            scheduled = scheduled || entry.what() == "CollaborationMeetingScheduled";
            held = held || entry.what() == "CollaborationMeetingHeld";
          }
          if (!scheduled)
            return absl::NotFoundError(absl::StrCat("meeting ", c.meeting_id, " is not scheduled"));
          if (held)
            return Rule(absl::StrCat("meeting ", c.meeting_id, " is already recorded as held"));
          if (absl::Status st = CheckDate("date", c.date, s, c.today); !st.ok()) return st;
          event.mutable_meeting_held()->set_meeting_id(c.meeting_id);
          *event.mutable_meeting_held()->mutable_date() = es::ToProtoDate(c.date);
          return One(std::move(event));
        } else if constexpr (std::is_same_v<T, AssignCoordinator>) {
          if (absl::Status st = RequireActive(s, c.pathway_id); !st.ok()) return st;
          if (!IsValidId(c.coordinator_id))
            return Invalid("coordinator_id", "must be 1-64 of [A-Za-z0-9._:-]");
          if (s.coordinator_id() == c.coordinator_id)
            return Rule("this coordinator is already assigned");
          event.mutable_coordinator_assigned()->set_coordinator_id(c.coordinator_id);
          return One(std::move(event));
        } else if constexpr (std::is_same_v<T, ChangeLegalDeadline>) {
          if (absl::Status st = RequireActive(s, c.pathway_id); !st.ok()) return st;
          std::optional<absl::CivilDay> current;
          bool breached = false;
          for (const v1::Deadline& d : s.deadlines()) {
            if (d.kind() != v1::LEGAL) continue;
            current = es::FromProtoDate(d.due_date());
            breached = d.breach_recorded();
          }
          if (c.legal_deadline == current) return Rule("the legal deadline is already this");
          // A recorded breach is a reported fact: moving or dropping the deadline under it would
          // rewrite the breach list (and re-arm the timer on a deadline already breached).
          // The coordinator decides what follows; the correction is not applied.
          if (breached) {
            return Rule("the legal deadline was already breached; it is not changed after that");
          }
          if (c.legal_deadline.has_value() &&
              *c.legal_deadline < es::FromProtoDate(s.start_date())) {
            return Invalid("legal_deadline", "is before the start date");
          }
          v1::LegalDeadlineChanged& changed = *event.mutable_legal_deadline_changed();
          if (c.legal_deadline.has_value()) {
            *changed.mutable_legal_deadline() = es::ToProtoDate(*c.legal_deadline);
          }
          changed.set_reason(c.reason);
          return One(std::move(event));
        } else if constexpr (std::is_same_v<T, TransferPathway>) {
          if (absl::Status st = RequireActive(s, c.pathway_id); !st.ok()) return st;
          if (!IsValidId(c.to_unit)) return Invalid("to_unit", "must be 1-64 of [A-Za-z0-9._:-]");
          if (c.to_unit == s.unit()) return Invalid("to_unit", "is the pathway's own unit");
          if (absl::Status st = CheckDate("date", c.date, s, c.today); !st.ok()) return st;
          event.mutable_transferred()->set_to_unit(c.to_unit);
          *event.mutable_transferred()->mutable_date() = es::ToProtoDate(c.date);
          return One(std::move(event));
        } else if constexpr (std::is_same_v<T, EndPathway>) {
          if (absl::Status st = RequireActive(s, c.pathway_id); !st.ok()) return st;
          if (absl::Status st = CheckDate("date", c.date, s, c.today); !st.ok()) return st;
          const auto* rules = catalogue_.FindVersion(s.pathway_type(), s.rule_version());
          const auto* type = catalogue_.FindType(s.pathway_type());
          const catalogue::v1::MeasurementPoint* end = nullptr;
          if (rules != nullptr) {
            for (const auto& p : rules->points()) {
              if (p.kind() == catalogue::v1::END) end = &p;
            }
          }
          if (c.reason.empty()) return Invalid("reason", "is required");
          if (end != nullptr && end->outcomes_size() > 0) {
            bool known = false;
            for (const auto& o : end->outcomes()) known = known || o.code() == c.reason;
            if (!known) {
              std::vector<std::string> codes;
              for (const auto& o : end->outcomes()) codes.push_back(o.code());
              return Invalid("reason", absl::StrCat("must be one of ", absl::StrJoin(codes, ", ")));
            }
          }
          event.mutable_ended()->set_reason(c.reason);
          *event.mutable_ended()->mutable_date() = es::ToProtoDate(c.date);
          if (end != nullptr && type != nullptr) {
            event.mutable_ended()->set_register_code(RegisterCode(*type, *end, c.reason));
          }
          return One(std::move(event));
        } else if constexpr (std::is_same_v<T, RecordBreach>) {
          if (!IsValidId(c.pathway_id))
            return Invalid("pathway_id", "must be 1-64 of [A-Za-z0-9._:-]");
          if (s.status() == v1::PATHWAY_STATUS_UNSPECIFIED) {
            return absl::NotFoundError(absl::StrCat("pathway ", c.pathway_id, " does not exist"));
          }
          const v1::Deadline* deadline = nullptr;
          for (const auto& d : s.deadlines()) {
            if (d.deadline_id() == c.deadline_id) deadline = &d;
          }
          if (deadline == nullptr)
            return absl::NotFoundError(absl::StrCat("deadline ", c.deadline_id, " does not exist"));
          if (deadline->status() != v1::OPEN)
            return Rule("breach rule: the deadline is no longer open");
          if (deadline->breach_recorded())
            return Rule("breach rule: the breach is already recorded");
          const absl::CivilDay due = es::FromProtoDate(deadline->due_date());
          if (c.today <= due) return Rule("breach rule: the deadline is not yet past its due date");
          v1::DeadlineBreached& e = *event.mutable_deadline_breached();
          e.set_deadline_id(deadline->deadline_id());
          e.set_rule_id(deadline->rule_id());
          *e.mutable_due_date() = deadline->due_date();
          *e.mutable_breached_on() = es::ToProtoDate(due + 1);
          e.set_attributed_to_patient(deadline->attributed_to_patient());
          return One(std::move(event));
        }
      },
      command);
}

}  // namespace pathway::domain
