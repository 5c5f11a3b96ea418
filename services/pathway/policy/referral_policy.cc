#include "services/pathway/policy/referral_policy.h"

#include <chrono>
#include <future>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "clinical/calendar.h"
#include "libs/eventing/ids.h"
#include "libs/eventing/proto_time.h"
#include "libs/projection/decode_event.h"
#include "referral/v1/events.pb.h"
#include "referral/v1/state.pb.h"

namespace pathway::policy {
namespace {

bool Transient(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable || s.code() == absl::StatusCode::kAborted;
}

}  // namespace

ReferralPolicy::ReferralPolicy(app::PathwayService& service, ReferralPolicyOptions options)
    : service_(service), options_(std::move(options)) {}

std::string ReferralPolicy::PathwayIdFor(const std::string& referral_id) {
  return es::NameUuid("pathway-from-referral", referral_id);
}

std::string ReferralPolicy::ReferralRowKey(const std::string& referral_id) {
  return absl::StrCat("rf/", referral_id);
}

absl::Status ReferralPolicy::Run(domain::PathwayCommand command, const std::string& key,
                                 const std::string& correlation_id) {
  absl::Status last;
  for (int attempt = 0; attempt < options_.max_attempts; ++attempt) {
    es::app::CommandContext context;
    context.actor.set_subject("referral-policy");
    context.actor.set_role("system");
    context.idempotency_key = key;
    context.fingerprint = key;  // the same reaction to the same referral event, always
    context.correlation_id = correlation_id;
    std::promise<absl::StatusOr<es::app::CommandResult>> promise;
    auto future = promise.get_future();
    service_.Execute(
        command, std::move(context),
        [&promise](absl::StatusOr<es::app::CommandResult> r) { promise.set_value(std::move(r)); });
    absl::StatusOr<es::app::CommandResult> result = future.get();
    if (result.ok()) return absl::OkStatus();
    last = result.status();
    if (!Transient(last)) return last;
    std::this_thread::sleep_for(std::chrono::milliseconds(100 << attempt));
  }
  // Still failing for a transient reason: the consumer retries the record later.
  return absl::UnavailableError(std::string(last.message()));
}

absl::StatusOr<es::projection::Projection> ReferralPolicy::Project(
    const es::projection::ConsumedRecord& record, const es::projection::ViewReader& views) {
  absl::StatusOr<referral::v1::ReferralEvent> decoded =
      es::projection::DecodeEvent<referral::v1::ReferralEvent>(record);
  if (!decoded.ok()) return decoded.status();
  const referral::v1::ReferralEvent& event = *decoded;
  const eventing::v1::EventMetadata& m = event.metadata();
  es::projection::Projection projection;
  projection.stream_id = m.stream_id();
  projection.version = m.stream_version();
  const std::string row_key = ReferralRowKey(m.stream_id());

  referral::v1::Referral referral;
  absl::StatusOr<std::optional<std::string>> row = views.Get(row_key);
  if (!row.ok()) return row.status();
  if (row->has_value() && !referral.ParseFromString(**row)) {
    return absl::DataLossError("referral row: unreadable");
  }

  switch (event.payload_case()) {
    case referral::v1::ReferralEvent::kSubmitted: {
      const referral::v1::ReferralSubmitted& e = event.submitted();
      referral.set_referral_id(e.referral_id());
      *referral.mutable_patient() = e.patient();
      referral.set_patient_key(m.patient_key());
      referral.set_receiving_unit(e.receiving_unit());
      *referral.mutable_received_date() = e.received_date();
      referral.set_status(referral::v1::RECEIVED);
      projection.writes.push_back({row_key, referral.SerializeAsString()});
      return projection;
    }
    case referral::v1::ReferralEvent::kCoordinatorAssigned: {
      referral.set_coordinator_id(event.coordinator_assigned().coordinator_id());
      projection.writes.push_back({row_key, referral.SerializeAsString()});
      if (referral.status() == referral::v1::RIGHT_TO_CARE) {
        const std::string pathway_id = PathwayIdFor(m.stream_id());
        absl::Status s = Run(domain::AssignCoordinator{pathway_id, referral.coordinator_id()},
                             absl::StrCat("policy:coordinator:", m.event_id()), m.correlation_id());
        // Already assigned, or the pathway has ended: nothing to do.
        if (!s.ok() && s.code() != absl::StatusCode::kFailedPrecondition &&
            s.code() != absl::StatusCode::kNotFound) {
          return s;
        }
      }
      return projection;
    }
    case referral::v1::ReferralEvent::kAssessed:
    case referral::v1::ReferralEvent::kAssessmentCorrected:
      break;
    default:
      return projection;  // withdrawn and others: no reaction yet
  }

  const referral::v1::Assessment& assessment =
      event.payload_case() == referral::v1::ReferralEvent::kAssessed
          ? event.assessed().assessment()
          : event.assessment_corrected().assessment();
  referral.set_status(referral::v1::RIGHT_TO_CARE);
  if (!assessment.has_right_to_care()) {
    referral.set_status(referral::v1::NO_RIGHT);
    projection.writes.push_back({row_key, referral.SerializeAsString()});
    if (event.payload_case() == referral::v1::ReferralEvent::kAssessmentCorrected) {
      // A pathway started from the first assessment keeps no legal deadline the corrected
      // assessment does not grant (its breach must not fire); whether the pathway goes on is
      // the coordinator's decision.
      if (absl::Status s = FollowCorrectedLegalDeadline(event, std::nullopt); !s.ok()) return s;
    }
    return projection;
  }
  projection.writes.push_back({row_key, referral.SerializeAsString()});
  const referral::v1::Assessment::RightToCare& right = assessment.right_to_care();
  if (right.pathway_type().empty()) return projection;
  if (referral.patient().value().empty()) {
    // Only possible for a record ahead of its stream (re-publication after a broker loss): the
    // consumer skips it as a gap and the submission arrives before it again.
    return projection;
  }

  domain::StartPathway start;
  start.pathway_id = PathwayIdFor(m.stream_id());
  start.pathway_type = right.pathway_type();
  start.unit = referral.receiving_unit();
  start.patient = referral.patient();
  start.setting = options_.default_setting;
  start.start_date =
      options_.start_date_rule == "received"
          ? es::FromProtoDate(referral.received_date())
          : clinical::CivilDayIn(es::FromProtoTimestamp(assessment.assessed_at()), options_.zone);
  if (right.has_legal_deadline()) start.legal_deadline = es::FromProtoDate(right.legal_deadline());
  const std::optional<absl::CivilDay> start_legal_deadline = start.legal_deadline;
  start.coordinator_id = referral.coordinator_id();
  start.referral_id = m.stream_id();
  start.today = std::max(service_.Today(), start.start_date);
  absl::Status s =
      Run(std::move(start), absl::StrCat("policy:start:", m.stream_id()), m.correlation_id());
  if (s.code() == absl::StatusCode::kAlreadyExists) {
    // The patient already has an active pathway of this type at the unit: a coordinator
    // decides; the referral event itself is fine.
    log_.Warning("pathway not started: one is already active",
                 {{"referral_id", m.stream_id()}, {"pathway_type", right.pathway_type()}});
    return projection;
  }
  if (!s.ok()) return s;
  if (event.payload_case() == referral::v1::ReferralEvent::kAssessmentCorrected) {
    if (absl::Status f = FollowCorrectedLegalDeadline(event, start_legal_deadline); !f.ok()) {
      return f;
    }
  }
  return projection;
}

absl::Status ReferralPolicy::FollowCorrectedLegalDeadline(
    const referral::v1::ReferralEvent& event, std::optional<absl::CivilDay> legal_deadline) {
  // The pathway may have started from the first assessment: its legal deadline follows the
  // correction (unchanged: a no-op).
  const eventing::v1::EventMetadata& m = event.metadata();
  const std::string pathway_id = PathwayIdFor(m.stream_id());
  domain::ChangeLegalDeadline change;
  change.pathway_id = pathway_id;
  change.legal_deadline = legal_deadline;
  change.reason = event.assessment_corrected().reason();
  absl::Status changed =
      Run(std::move(change), absl::StrCat("policy:legal:", m.event_id()), m.correlation_id());
  switch (changed.code()) {
    case absl::StatusCode::kOk:
    case absl::StatusCode::kNotFound:  // no pathway was started from this referral
      return absl::OkStatus();
    case absl::StatusCode::kFailedPrecondition:  // unchanged, pathway ended, already breached
    case absl::StatusCode::kInvalidArgument:     // e.g. before the pathway's start date
      // Not the referral event's fault: it must not be dead-lettered (its row update would be
      // lost with it). The pathway keeps its deadline; the coordinator sees the warning.
      if (changed.code() == absl::StatusCode::kInvalidArgument ||
          absl::StrContains(changed.message(), "breached")) {
        log_.Warning("corrected legal deadline not applied to the pathway",
                     {{"pathway_id", pathway_id}, {"reason", std::string(changed.message())}});
      }
      return absl::OkStatus();
    default:
      return changed;  // transient: the consumer tries the record again
  }
}

}  // namespace pathway::policy
