#include "services/notify/app/event_reactor.h"

#include "absl/strings/str_cat.h"
#include "libs/projection/decode_event.h"

namespace notify::app {
namespace {

// Reactions that may find nothing to act on: cancelling or moving a notification that was never
// scheduled, or that already went out, is not an error.
bool Harmless(const absl::Status& s) {
  return s.code() == absl::StatusCode::kNotFound ||
         s.code() == absl::StatusCode::kFailedPrecondition ||
         s.code() == absl::StatusCode::kAlreadyExists;
}

std::string KeyFor(const domain::NotificationCommand& command, const std::string& cause) {
  return std::visit(
      [&](const auto& c) {
        using T = std::decay_t<decltype(c)>;
        // A schedule is keyed by the notification alone: whatever event asks for it again,
        // it exists once.
        if constexpr (std::is_same_v<T, domain::Schedule>) {
          return absl::StrCat("schedule:", c.notification_id);
        } else if constexpr (std::is_same_v<T, domain::Cancel>) {
          return absl::StrCat("cancel:", c.notification_id, ":", cause);
        } else {
          return absl::StrCat("move:", c.notification_id, ":", cause);
        }
      },
      command);
}

}  // namespace

EventReactor::EventReactor(NotifyService& service,
                           const pathway::domain::PathwayDecider& pathway_decider,
                           domain::PolicyContext policy, EventReactorOptions options)
    : service_(service),
      pathway_decider_(pathway_decider),
      policy_(std::move(policy)),
      options_(std::move(options)) {}

std::string EventReactor::PathwayMirrorKey(const std::string& pathway_id) {
  return absl::StrCat("pw/", pathway_id);
}

absl::Status EventReactor::Issue(const std::vector<domain::NotificationCommand>& commands,
                                 const std::string& cause, const std::string& correlation_id) {
  for (const domain::NotificationCommand& command : commands) {
    es::app::CommandContext context;
    context.actor.set_subject("notification-policy");
    context.actor.set_role("system");
    context.idempotency_key = KeyFor(command, cause);
    context.fingerprint = context.idempotency_key;
    context.correlation_id = correlation_id;
    context.causation_id = cause;
    absl::StatusOr<es::app::CommandResult> result = service_.ExecuteAndWait(command, context);
    if (!result.ok() && !Harmless(result.status())) return result.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<es::projection::Projection> EventReactor::Project(
    const es::projection::ConsumedRecord& record, const es::projection::ViewReader& views) {
  if (record.topic == options_.pathway_topic) return OnPathway(record, views);
  if (record.topic == options_.referral_topic) return OnReferral(record);
  return absl::InvalidArgumentError(absl::StrCat("topic ", record.topic, ": not handled"));
}

absl::StatusOr<es::projection::Projection> EventReactor::OnPathway(
    const es::projection::ConsumedRecord& record, const es::projection::ViewReader& views) {
  absl::StatusOr<pathway::v1::PathwayEvent> decoded =
      es::projection::DecodeEvent<pathway::v1::PathwayEvent>(record);
  if (!decoded.ok()) return decoded.status();
  const pathway::v1::PathwayEvent& event = *decoded;
  const eventing::v1::EventMetadata& m = event.metadata();
  const std::string key = PathwayMirrorKey(m.stream_id());
  pathway::v1::Pathway before = pathway_decider_.Initial();
  absl::StatusOr<std::optional<std::string>> row = views.Get(key);
  if (!row.ok()) return row.status();
  if (row->has_value() && !before.ParseFromString(**row)) {
    return absl::DataLossError("pathway mirror: unreadable");
  }
  pathway::v1::Pathway after = pathway_decider_.Evolve(before, event);
  std::optional<v1::ContactPreference> preference;
  if (!after.patient_key().empty()) {
    absl::StatusOr<std::optional<v1::ContactPreference>> found =
        service_.ContactPreferenceOf(after.patient_key());
    if (!found.ok()) return found.status();
    preference = std::move(*found);
  }
  if (absl::Status s = Issue(domain::OnPathwayEvent(before, after, event, preference, policy_),
                             m.event_id(), m.correlation_id());
      !s.ok()) {
    return s;
  }
  es::projection::Projection projection;
  projection.stream_id = m.stream_id();
  projection.version = m.stream_version();
  projection.writes.push_back({key, after.SerializeAsString()});
  return projection;
}

absl::StatusOr<es::projection::Projection> EventReactor::OnReferral(
    const es::projection::ConsumedRecord& record) {
  absl::StatusOr<referral::v1::ReferralEvent> decoded =
      es::projection::DecodeEvent<referral::v1::ReferralEvent>(record);
  if (!decoded.ok()) return decoded.status();
  const referral::v1::ReferralEvent& event = *decoded;
  const eventing::v1::EventMetadata& m = event.metadata();
  if (absl::Status s =
          Issue(domain::OnReferralEvent(event, policy_), m.event_id(), m.correlation_id());
      !s.ok()) {
    return s;
  }
  es::projection::Projection projection;
  projection.stream_id = m.stream_id();
  projection.version = m.stream_version();
  return projection;
}

}  // namespace notify::app
