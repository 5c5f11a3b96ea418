#include "services/referral/domain/referral_decider.h"

#include "absl/strings/str_cat.h"
#include "clinical/identity.h"
#include "libs/eventing/proto_time.h"
#include "libs/eventing/validation.h"

namespace referral::domain {
namespace {

using Event = v1::ReferralEvent;

absl::Status Invalid(std::string_view field, std::string_view problem) {
  return es::InvalidField(field, problem);
}

absl::StatusOr<clinical::IdSystem> ToIdSystem(v1::PatientIdentifier::System system) {
  switch (system) {
    case v1::PatientIdentifier::NO_FODSELSNUMMER:
      return clinical::IdSystem::kNoFodselsnummer;
    case v1::PatientIdentifier::NO_D_NUMBER:
      return clinical::IdSystem::kNoDNumber;
    case v1::PatientIdentifier::DK_CPR:
      return clinical::IdSystem::kDkCpr;
    default:
      return Invalid("patient.system", "must be NO_FODSELSNUMMER, NO_D_NUMBER or DK_CPR");
  }
}

bool Given(absl::Time t) { return t != absl::InfinitePast(); }

std::vector<Event> One(Event event) {
  std::vector<Event> events;
  events.push_back(std::move(event));
  return events;
}

absl::Status RequireExisting(const v1::Referral& state, const std::string& referral_id) {
  if (!IsValidId(referral_id)) return Invalid("referral_id", "must be 1-64 of [A-Za-z0-9._:-]");
  if (state.status() == v1::REFERRAL_STATUS_UNSPECIFIED) {
    return absl::NotFoundError(absl::StrCat("referral ", referral_id, " does not exist"));
  }
  return absl::OkStatus();
}

absl::Status RejectInStatus(const v1::Referral& state, std::string_view rule) {
  return absl::FailedPreconditionError(absl::StrCat(std::string(rule), " (referral is ",
                                                    v1::ReferralStatus_Name(state.status()), ")"));
}

}  // namespace

bool IsValidId(const std::string& id) { return es::IsValidId(id); }

v1::ReferralStatus StatusAfter(const v1::Assessment& assessment) {
  switch (assessment.outcome_case()) {
    case v1::Assessment::kRightToCare:
      return v1::RIGHT_TO_CARE;
    case v1::Assessment::kNoRight:
      return v1::NO_RIGHT;
    case v1::Assessment::kForwarded:
      return v1::FORWARDED;
    case v1::Assessment::kReturned:
      return v1::RETURNED;
    case v1::Assessment::OUTCOME_NOT_SET:
      break;
  }
  return v1::REFERRAL_STATUS_UNSPECIFIED;
}

bool IsAssessed(v1::ReferralStatus status) {
  return status == v1::RIGHT_TO_CARE || status == v1::NO_RIGHT || status == v1::FORWARDED ||
         status == v1::RETURNED;
}

ReferralDecider::ReferralDecider(clinical::Calendar calendar, absl::TimeZone zone,
                                 ReferralPolicy policy)
    : calendar_(std::move(calendar)), zone_(zone), policy_(policy) {}

ReferralDecider::State ReferralDecider::Evolve(State state, const Event& event) const {
  switch (event.payload_case()) {
    case Event::kSubmitted: {
      const v1::ReferralSubmitted& e = event.submitted();
      state.set_referral_id(e.referral_id());
      state.set_status(v1::RECEIVED);
      *state.mutable_patient() = e.patient();
      state.set_patient_key(event.metadata().patient_key());
      *state.mutable_referrer() = e.referrer();
      state.set_receiving_unit(e.receiving_unit());
      *state.mutable_received_at() = e.received_at();
      *state.mutable_received_date() = e.received_date();
      state.set_reason(e.reason());
      state.set_suspected_condition(e.suspected_condition());
      state.set_priority(e.priority());
      if (e.has_municipal_contact()) *state.mutable_municipal_contact() = e.municipal_contact();
      *state.mutable_assessment_deadline() = e.assessment_deadline();
      break;
    }
    case Event::kAssessed:
      *state.mutable_assessment() = event.assessed().assessment();
      state.set_assessment_event_id(event.metadata().event_id());
      state.set_assessed_on_time(event.assessed().assessed_on_time());
      state.set_status(StatusAfter(event.assessed().assessment()));
      break;
    case Event::kAssessmentCorrected:
      *state.mutable_assessment() = event.assessment_corrected().assessment();
      state.set_assessment_event_id(event.metadata().event_id());
      state.set_status(StatusAfter(event.assessment_corrected().assessment()));
      state.set_correction_count(state.correction_count() + 1);
      break;
    case Event::kCoordinatorAssigned:
      state.set_coordinator_id(event.coordinator_assigned().coordinator_id());
      state.set_coordinator_name(event.coordinator_assigned().coordinator_name());
      break;
    case Event::kWithdrawn:
      state.set_status(v1::WITHDRAWN);
      state.set_withdrawal_reason(event.withdrawn().reason());
      break;
    case Event::PAYLOAD_NOT_SET:
      return state;
  }
  state.set_version(event.metadata().stream_version());
  return state;
}

absl::StatusOr<std::vector<Event>> ReferralDecider::Decide(const Command& command,
                                                           const State& state) const {
  return std::visit(
      [&](const auto& c) -> absl::StatusOr<std::vector<Event>> {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, SubmitReferral>) return DecideSubmit(c, state);
        if constexpr (std::is_same_v<T, AssessReferral>) return DecideAssess(c, state);
        if constexpr (std::is_same_v<T, CorrectAssessment>) return DecideCorrect(c, state);
        if constexpr (std::is_same_v<T, AssignCoordinator>) return DecideAssign(c, state);
        if constexpr (std::is_same_v<T, WithdrawReferral>) return DecideWithdraw(c, state);
      },
      command);
}

absl::StatusOr<std::vector<Event>> ReferralDecider::DecideSubmit(const SubmitReferral& c,
                                                                 const State& state) const {
  if (!IsValidId(c.referral_id)) return Invalid("referral_id", "must be 1-64 of [A-Za-z0-9._:-]");
  absl::StatusOr<clinical::IdSystem> system = ToIdSystem(c.patient.system());
  if (!system.ok()) return system.status();
  absl::StatusOr<clinical::NationalId> id =
      clinical::ValidateNationalId(*system, c.patient.value());
  if (!id.ok()) return Invalid("patient.value", std::string(id.status().message()));
  if (c.patient_key.empty()) return absl::InternalError("patient key: not set by the application");
  if (c.referrer.name().empty() && c.referrer.hpr_number().empty()) {
    return Invalid("referrer", "name or hpr_number is required");
  }
  if (!IsValidId(c.receiving_unit)) {
    return Invalid("receiving_unit", "must be 1-64 of [A-Za-z0-9._:-]");
  }
  if (!Given(c.received_at)) return Invalid("received_at", "is required");
  if (c.reason.empty()) return Invalid("reason", "is required");
  if (c.reason.size() > 10000) return Invalid("reason", "must be at most 10000 characters");
  if (c.priority != v1::PRIORITY_ORDINARY && c.priority != v1::PRIORITY_URGENT) {
    return Invalid("priority", "must be PRIORITY_ORDINARY or PRIORITY_URGENT");
  }
  if (c.municipal_contact.has_value() &&
      (c.municipal_contact->name().empty() || c.municipal_contact->municipality().empty())) {
    return Invalid("municipal_contact", "name and municipality are required when given");
  }
  if (state.status() != v1::REFERRAL_STATUS_UNSPECIFIED) {
    return absl::AlreadyExistsError(absl::StrCat("referral ", c.referral_id, " already exists"));
  }

  const absl::CivilDay received_day = clinical::CivilDayIn(c.received_at, zone_);
  Event event;
  v1::ReferralSubmitted& e = *event.mutable_submitted();
  e.set_referral_id(c.referral_id);
  e.mutable_patient()->set_system(c.patient.system());
  e.mutable_patient()->set_value(id->digits);
  *e.mutable_referrer() = c.referrer;
  e.set_receiving_unit(c.receiving_unit);
  *e.mutable_received_at() = es::ToProtoTimestamp(c.received_at);
  *e.mutable_received_date() = es::ToProtoDate(received_day);
  e.set_reason(c.reason);
  e.set_suspected_condition(c.suspected_condition);
  e.set_priority(c.priority);
  if (c.municipal_contact.has_value()) *e.mutable_municipal_contact() = *c.municipal_contact;
  *e.mutable_assessment_deadline() =
      es::ToProtoDate(calendar_.AddWorkingDays(received_day, policy_.assessment_working_days));
  e.set_calendar_id(calendar_.id());
  return One(std::move(event));
}

absl::Status ReferralDecider::ValidateAssessment(const v1::Assessment& a,
                                                 const State& state) const {
  if (!a.has_assessed_at()) return Invalid("assessment.assessed_at", "is required");
  if (es::FromProtoTimestamp(a.assessed_at()) < es::FromProtoTimestamp(state.received_at())) {
    return Invalid("assessment.assessed_at", "is before the referral was received");
  }
  switch (a.outcome_case()) {
    case v1::Assessment::kRightToCare: {
      const auto& right = a.right_to_care();
      if (!right.has_legal_deadline() || !es::IsValidProtoDate(right.legal_deadline())) {
        return Invalid("assessment.right_to_care.legal_deadline", "must be a valid date");
      }
      if (es::FromProtoDate(right.legal_deadline()) < es::FromProtoDate(state.received_date())) {
        return Invalid("assessment.right_to_care.legal_deadline",
                       "is before the referral was received");
      }
      if (!right.pathway_type().empty() && !IsValidId(right.pathway_type())) {
        return Invalid("assessment.right_to_care.pathway_type", "must be 1-64 of [A-Za-z0-9._:-]");
      }
      break;
    }
    case v1::Assessment::kNoRight:
      if (a.no_right().reason().empty())
        return Invalid("assessment.no_right.reason", "is required");
      break;
    case v1::Assessment::kForwarded:
      if (!IsValidId(a.forwarded().to_unit())) {
        return Invalid("assessment.forwarded.to_unit", "must be 1-64 of [A-Za-z0-9._:-]");
      }
      if (a.forwarded().to_unit() == state.receiving_unit()) {
        return Invalid("assessment.forwarded.to_unit", "is the receiving unit itself");
      }
      break;
    case v1::Assessment::kReturned:
      if (a.returned().reason().empty())
        return Invalid("assessment.returned.reason", "is required");
      break;
    case v1::Assessment::OUTCOME_NOT_SET:
      return Invalid("assessment.outcome",
                     "one of right_to_care, no_right, forwarded, returned is required");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Event>> ReferralDecider::DecideAssess(const AssessReferral& c,
                                                                 const State& state) const {
  if (absl::Status s = RequireExisting(state, c.referral_id); !s.ok()) return s;
  if (IsAssessed(state.status())) {
    return RejectInStatus(state, "a referral is assessed once; use CorrectAssessment to change it");
  }
  if (state.status() != v1::RECEIVED) {
    return RejectInStatus(state, "only a received referral can be assessed");
  }
  if (absl::Status s = ValidateAssessment(c.assessment, state); !s.ok()) return s;
  Event event;
  v1::ReferralAssessed& e = *event.mutable_assessed();
  e.set_referral_id(c.referral_id);
  *e.mutable_assessment() = c.assessment;
  const absl::CivilDay assessed_day =
      clinical::CivilDayIn(es::FromProtoTimestamp(c.assessment.assessed_at()), zone_);
  e.set_assessed_on_time(assessed_day <= es::FromProtoDate(state.assessment_deadline()));
  return One(std::move(event));
}

absl::StatusOr<std::vector<Event>> ReferralDecider::DecideCorrect(const CorrectAssessment& c,
                                                                  const State& state) const {
  if (absl::Status s = RequireExisting(state, c.referral_id); !s.ok()) return s;
  if (!IsAssessed(state.status())) {
    return RejectInStatus(state, "only an assessed referral can have its assessment corrected");
  }
  if (c.reason.empty()) return Invalid("reason", "is required for a correction");
  if (absl::Status s = ValidateAssessment(c.assessment, state); !s.ok()) return s;
  Event event;
  v1::AssessmentCorrected& e = *event.mutable_assessment_corrected();
  e.set_referral_id(c.referral_id);
  *e.mutable_assessment() = c.assessment;
  e.set_corrects_event_id(state.assessment_event_id());
  e.set_reason(c.reason);
  return One(std::move(event));
}

absl::StatusOr<std::vector<Event>> ReferralDecider::DecideAssign(const AssignCoordinator& c,
                                                                 const State& state) const {
  if (absl::Status s = RequireExisting(state, c.referral_id); !s.ok()) return s;
  if (!IsValidId(c.coordinator_id)) {
    return Invalid("coordinator_id", "must be 1-64 of [A-Za-z0-9._:-]");
  }
  if (!Given(c.assigned_at)) return Invalid("assigned_at", "is required");
  if (state.status() != v1::RECEIVED && state.status() != v1::RIGHT_TO_CARE) {
    return RejectInStatus(state,
                          "a coordinator is assigned only while the referral is received or "
                          "has a right to care");
  }
  if (state.coordinator_id() == c.coordinator_id) {
    return RejectInStatus(state, "this coordinator is already assigned");
  }
  Event event;
  v1::CoordinatorAssigned& e = *event.mutable_coordinator_assigned();
  e.set_referral_id(c.referral_id);
  e.set_coordinator_id(c.coordinator_id);
  e.set_coordinator_name(c.coordinator_name);
  *e.mutable_assigned_at() = es::ToProtoTimestamp(c.assigned_at);
  return One(std::move(event));
}

absl::StatusOr<std::vector<Event>> ReferralDecider::DecideWithdraw(const WithdrawReferral& c,
                                                                   const State& state) const {
  if (absl::Status s = RequireExisting(state, c.referral_id); !s.ok()) return s;
  if (c.reason.empty()) return Invalid("reason", "is required");
  if (!Given(c.withdrawn_at)) return Invalid("withdrawn_at", "is required");
  if (state.status() != v1::RECEIVED && state.status() != v1::RIGHT_TO_CARE) {
    return RejectInStatus(state,
                          "only a received referral or one with a right to care can be withdrawn");
  }
  Event event;
  v1::ReferralWithdrawn& e = *event.mutable_withdrawn();
  e.set_referral_id(c.referral_id);
  e.set_reason(c.reason);
  *e.mutable_withdrawn_at() = es::ToProtoTimestamp(c.withdrawn_at);
  return One(std::move(event));
}

}  // namespace referral::domain
