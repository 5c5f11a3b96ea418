#include "services/notify/domain/notification_decider.h"

#include "absl/strings/str_cat.h"
#include "libs/eventing/proto_time.h"
#include "libs/eventing/validation.h"

namespace notify::domain {
namespace {

using Event = v1::NotificationEvent;

std::vector<Event> One(Event event) {
  std::vector<Event> events;
  events.push_back(std::move(event));
  return events;
}

absl::Status Exists(const v1::Notification& s, const std::string& id) {
  if (!es::IsValidId(id)) return es::InvalidField("notification_id", es::kIdRule);
  if (s.status() == v1::NOTIFICATION_STATUS_UNSPECIFIED) {
    return absl::NotFoundError(absl::StrCat("notification ", id, " does not exist"));
  }
  return absl::OkStatus();
}

absl::Status NotIn(const v1::Notification& s, std::string_view rule) {
  return absl::FailedPreconditionError(absl::StrCat(std::string(rule), " (notification is ",
                                                    v1::NotificationStatus_Name(s.status()), ")"));
}

}  // namespace

NotificationDecider::State NotificationDecider::Evolve(State s, const Event& e) const {
  switch (e.payload_case()) {
    case Event::kScheduled: {
      const v1::NotificationScheduled& n = e.scheduled();
      s.set_notification_id(n.notification_id());
      s.set_status(v1::SCHEDULED);
      s.set_kind(n.kind());
      *s.mutable_recipient() = n.recipient();
      s.set_channel(n.channel());
      *s.mutable_due_at() = n.due_at();
      s.set_unit(n.unit());
      s.set_pathway_id(n.pathway_id());
      s.set_referral_id(n.referral_id());
      s.set_deadline_id(n.deadline_id());
      *s.mutable_params() = n.params();
      s.set_subject(n.subject());
      s.set_body(n.body());
      s.set_patient_key(e.metadata().patient_key());
      break;
    }
    case Event::kRescheduled:
      *s.mutable_due_at() = e.rescheduled().due_at();
      break;
    case Event::kSent:
      s.set_status(v1::SENT);
      s.set_attempts(e.sent().attempt());
      *s.mutable_sent_at() = e.sent().sent_at();
      break;
    case Event::kFailed:
      s.set_attempts(e.failed().attempt());
      s.set_last_error(e.failed().reason());
      if (e.failed().dead_lettered()) {
        s.set_status(v1::FAILED);
      } else {
        *s.mutable_due_at() = e.failed().next_attempt_at();
      }
      break;
    case Event::kCancelled:
      s.set_status(v1::CANCELLED);
      s.set_cancel_reason(e.cancelled().reason());
      break;
    case Event::kAcknowledged:
      s.set_status(v1::ACKNOWLEDGED);
      s.set_acknowledged_by(e.acknowledged().acknowledged_by());
      break;
    case Event::PAYLOAD_NOT_SET:
      return s;
  }
  s.set_version(e.metadata().stream_version());
  return s;
}

absl::StatusOr<std::vector<Event>> NotificationDecider::Decide(const Command& command,
                                                               const State& s) const {
  return std::visit(
      [&](const auto& c) -> absl::StatusOr<std::vector<Event>> {
        using T = std::decay_t<decltype(c)>;
        Event event;
        if constexpr (std::is_same_v<T, Schedule>) {
          if (!es::IsValidId(c.notification_id)) {
            return es::InvalidField("notification_id", es::kIdRule);
          }
          if (s.status() != v1::NOTIFICATION_STATUS_UNSPECIFIED) {
            return absl::AlreadyExistsError(
                absl::StrCat("notification ", c.notification_id, " already scheduled"));
          }
          if (c.notification.kind() == v1::NOTIFICATION_KIND_UNSPECIFIED) {
            return es::InvalidField("kind", "is required");
          }
          if (c.notification.recipient().id().empty()) {
            return es::InvalidField("recipient.id", "is required");
          }
          if (!c.notification.has_due_at()) return es::InvalidField("due_at", "is required");
          *event.mutable_scheduled() = c.notification;
          event.mutable_scheduled()->set_notification_id(c.notification_id);
          return One(std::move(event));
        } else {
          if (absl::Status st = Exists(s, c.notification_id); !st.ok()) return st;
          if constexpr (std::is_same_v<T, Reschedule>) {
            if (s.status() != v1::SCHEDULED) return NotIn(s, "only a scheduled notification moves");
            if (es::ToProtoTimestamp(c.due_at).SerializeAsString() ==
                s.due_at().SerializeAsString()) {
              return NotIn(s, "the notification is already due then");
            }
            *event.mutable_rescheduled()->mutable_due_at() = es::ToProtoTimestamp(c.due_at);
            event.mutable_rescheduled()->set_reason(c.reason);
          } else if constexpr (std::is_same_v<T, Cancel>) {
            if (s.status() != v1::SCHEDULED) {
              return NotIn(s, "only a notification not yet sent can be cancelled");
            }
            event.mutable_cancelled()->set_reason(c.reason);
          } else if constexpr (std::is_same_v<T, MarkSent>) {
            if (s.status() != v1::SCHEDULED)
              return NotIn(s, "only a scheduled notification is sent");
            if (c.attempt != s.attempts() + 1) {
              return NotIn(s, absl::StrCat("attempt ", c.attempt, " is not the next one"));
            }
            event.mutable_sent()->set_attempt(c.attempt);
            *event.mutable_sent()->mutable_sent_at() = es::ToProtoTimestamp(c.at);
          } else if constexpr (std::is_same_v<T, MarkFailed>) {
            if (s.status() != v1::SCHEDULED) return NotIn(s, "only a scheduled notification fails");
            if (c.attempt != s.attempts() + 1) {
              return NotIn(s, absl::StrCat("attempt ", c.attempt, " is not the next one"));
            }
            v1::NotificationFailed& f = *event.mutable_failed();
            f.set_attempt(c.attempt);
            f.set_reason(c.reason);
            if (c.next_attempt_at.has_value()) {
              *f.mutable_next_attempt_at() = es::ToProtoTimestamp(*c.next_attempt_at);
            } else {
              f.set_dead_lettered(true);
            }
          } else if constexpr (std::is_same_v<T, Acknowledge>) {
            if (s.status() != v1::SENT) {
              return NotIn(s, "only a sent notification can be acknowledged");
            }
            if (c.by.empty()) return es::InvalidField("acknowledged_by", "is required");
            event.mutable_acknowledged()->set_acknowledged_by(c.by);
            *event.mutable_acknowledged()->mutable_acknowledged_at() = es::ToProtoTimestamp(c.at);
          }
          return One(std::move(event));
        }
      },
      command);
}

}  // namespace notify::domain
