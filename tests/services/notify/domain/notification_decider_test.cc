#include "services/notify/domain/notification_decider.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/eventing/proto_time.h"
#include "tests/support/decider_spec.h"
#include "tests/support/equals_proto.h"

// Given-when-then tests of one notification's life: scheduled -> sent (-> acknowledged), failed
// and retried or dead-lettered, cancelled before it went out, moved while it waits. Histories are
// stamped by History() as the command path stamps them (stream id, version i, event id "evt-i",
// patient key on the scheduling event).

namespace notify::domain {
namespace {

using ::es::testing::DeciderSpec;
using ::es::testing::EqualsProto;
using Event = v1::NotificationEvent;

constexpr char kId[] = "0b7f4c1e-5d1a-5f3e-9a41-6c2b8e1d7f00";
constexpr char kPatientKey[] = "pk-3f9a";

absl::Time At(int y, int m, int d, int hh, int mm = 0) {
  return absl::FromCivil(absl::CivilMinute(y, m, d, hh, mm), absl::UTCTimeZone());
}
const absl::Time kDue = At(2026, 3, 25, 7);

DeciderSpec<NotificationDecider> Spec() {
  static const NotificationDecider decider;
  return DeciderSpec<NotificationDecider>(decider);
}

// --- Commands ----------------------------------------------------------------------------------

v1::NotificationScheduled Reminder() {
  v1::NotificationScheduled n;
  n.set_notification_id(kId);
  n.set_kind(v1::DEADLINE_REMINDER);
  n.mutable_recipient()->set_role(v1::Recipient::COORDINATOR);
  n.mutable_recipient()->set_id("coord-7");
  n.mutable_recipient()->set_language("nb");
  n.set_channel(v1::FILE);
  *n.mutable_due_at() = es::ToProtoTimestamp(kDue);
  n.set_unit("ahus-poliklinikk-3");
  n.set_pathway_id("pw-1");
  n.set_deadline_id("pw-1/tsb.attendance-decision.outpatient/1");
  (*n.mutable_params())["rule"] = "tsb.attendance-decision.outpatient";
  n.set_subject("Frist nærmer seg: tsb.attendance-decision.outpatient");
  n.set_body("Forløpsfrist ...");
  return n;
}

Schedule ScheduleIt(v1::NotificationScheduled n = Reminder()) {
  return Schedule{.notification_id = kId, .notification = std::move(n), .patient_key = kPatientKey};
}

// --- Events (payloads as the decider emits them) -----------------------------------------------

namespace ev {

Event Scheduled(v1::NotificationScheduled n = Reminder()) {
  Event e;
  *e.mutable_scheduled() = std::move(n);
  return e;
}
Event Rescheduled(absl::Time due, std::string reason) {
  Event e;
  *e.mutable_rescheduled()->mutable_due_at() = es::ToProtoTimestamp(due);
  e.mutable_rescheduled()->set_reason(std::move(reason));
  return e;
}
Event Sent(int attempt, absl::Time at) {
  Event e;
  e.mutable_sent()->set_attempt(attempt);
  *e.mutable_sent()->mutable_sent_at() = es::ToProtoTimestamp(at);
  return e;
}
Event Failed(int attempt, std::string reason, std::optional<absl::Time> next) {
  Event e;
  e.mutable_failed()->set_attempt(attempt);
  e.mutable_failed()->set_reason(std::move(reason));
  if (next.has_value()) {
    *e.mutable_failed()->mutable_next_attempt_at() = es::ToProtoTimestamp(*next);
  } else {
    e.mutable_failed()->set_dead_lettered(true);
  }
  return e;
}
Event Cancelled(std::string reason) {
  Event e;
  e.mutable_cancelled()->set_reason(std::move(reason));
  return e;
}
Event Acknowledged(std::string by, absl::Time at) {
  Event e;
  e.mutable_acknowledged()->set_acknowledged_by(std::move(by));
  *e.mutable_acknowledged()->mutable_acknowledged_at() = es::ToProtoTimestamp(at);
  return e;
}

}  // namespace ev

std::vector<Event> History(std::vector<Event> events) {
  for (size_t i = 0; i < events.size(); ++i) {
    eventing::v1::EventMetadata& m = *events[i].mutable_metadata();
    m.set_event_id(absl::StrCat("evt-", i + 1));
    m.set_stream_id(kId);
    m.set_stream_version(static_cast<int64_t>(i + 1));
    m.set_patient_key(kPatientKey);
  }
  return events;
}

// The state after the decision's events are stamped (next versions) and folded in.
v1::Notification StateAfter(const DeciderSpec<NotificationDecider>& spec) {
  static const NotificationDecider decider;
  v1::Notification state = spec.state();
  if (!spec.result().ok()) {
    ADD_FAILURE() << "decision failed: " << spec.result().status();
    return state;
  }
  for (Event e : *spec.result()) {
    e.mutable_metadata()->set_stream_id(kId);
    e.mutable_metadata()->set_stream_version(state.version() + 1);
    state = decider.Evolve(std::move(state), e);
  }
  return state;
}

const std::vector<Event>& Scheduled() {
  static const std::vector<Event> history = History({ev::Scheduled()});
  return history;
}
const std::vector<Event>& Sent() {
  static const std::vector<Event> history =
      History({ev::Scheduled(), ev::Sent(1, At(2026, 3, 25, 7, 0))});
  return history;
}

// ===============================================================================================
// Schedule
// ===============================================================================================

TEST(NotificationDecider, GivenNothing_WhenScheduled_ThenScheduledWithItsId) {
  v1::NotificationScheduled without_id = Reminder();
  without_id.clear_notification_id();
  DeciderSpec<NotificationDecider> spec = Spec();
  spec.Given({}).When(ScheduleIt(without_id)).Then({ev::Scheduled(Reminder())});
}

TEST(NotificationDecider, GivenNothing_WhenScheduled_ThenStateScheduledWithEveryField) {
  DeciderSpec<NotificationDecider> spec = Spec();
  spec.Given(Scheduled());
  const v1::Notification& s = spec.state();
  EXPECT_EQ(s.notification_id(), kId);
  EXPECT_EQ(s.status(), v1::SCHEDULED);
  EXPECT_EQ(s.kind(), v1::DEADLINE_REMINDER);
  EXPECT_THAT(s.recipient(), EqualsProto(Reminder().recipient()));
  EXPECT_EQ(s.channel(), v1::FILE);
  EXPECT_EQ(es::FromProtoTimestamp(s.due_at()), kDue);
  EXPECT_EQ(s.unit(), "ahus-poliklinikk-3");
  EXPECT_EQ(s.pathway_id(), "pw-1");
  EXPECT_EQ(s.deadline_id(), "pw-1/tsb.attendance-decision.outpatient/1");
  EXPECT_EQ(s.params().at("rule"), "tsb.attendance-decision.outpatient");
  EXPECT_EQ(s.subject(), Reminder().subject());
  EXPECT_EQ(s.body(), Reminder().body());
  EXPECT_EQ(s.patient_key(), kPatientKey);
  EXPECT_EQ(s.attempts(), 0);
  EXPECT_EQ(s.version(), 1);
}

TEST(NotificationDecider, GivenScheduled_WhenScheduledAgain_ThenAlreadyExists) {
  Spec().Given(Scheduled()).When(ScheduleIt()).ThenFails(absl::StatusCode::kAlreadyExists);
}

TEST(NotificationDecider, GivenCancelled_WhenScheduledAgain_ThenAlreadyExists) {
  Spec()
      .Given(History({ev::Scheduled(), ev::Cancelled("deadline met")}))
      .When(ScheduleIt())
      .ThenFails(absl::StatusCode::kAlreadyExists);
}

TEST(NotificationDecider, GivenNothing_WhenScheduledWithBadId_ThenInvalidArgument) {
  Schedule c = ScheduleIt();
  c.notification_id = "not/an id";
  Spec().Given({}).When(c).ThenFails(absl::StatusCode::kInvalidArgument);
  c.notification_id = "";
  Spec().Given({}).When(c).ThenFails(absl::StatusCode::kInvalidArgument);
}

TEST(NotificationDecider,
     GivenNothing_WhenScheduledWithoutKindRecipientOrDueTime_ThenInvalidArgument) {
  v1::NotificationScheduled n = Reminder();
  n.set_kind(v1::NOTIFICATION_KIND_UNSPECIFIED);
  Spec().Given({}).When(ScheduleIt(n)).ThenFails(absl::StatusCode::kInvalidArgument);
  n = Reminder();
  n.mutable_recipient()->clear_id();
  Spec().Given({}).When(ScheduleIt(n)).ThenFails(absl::StatusCode::kInvalidArgument);
  n = Reminder();
  n.clear_due_at();
  Spec().Given({}).When(ScheduleIt(n)).ThenFails(absl::StatusCode::kInvalidArgument);
}

// ===============================================================================================
// Sent, failed, dead-lettered
// ===============================================================================================

TEST(NotificationDecider, GivenScheduled_WhenSentOnFirstAttempt_ThenSent) {
  DeciderSpec<NotificationDecider> spec = Spec();
  spec.Given(Scheduled()).When(MarkSent{kId, 1, At(2026, 3, 25, 7, 0)});
  spec.Then({ev::Sent(1, At(2026, 3, 25, 7, 0))});
  const v1::Notification s = StateAfter(spec);
  EXPECT_EQ(s.status(), v1::SENT);
  EXPECT_EQ(s.attempts(), 1);
  EXPECT_EQ(es::FromProtoTimestamp(s.sent_at()), At(2026, 3, 25, 7, 0));
  EXPECT_EQ(s.version(), 2);
}

TEST(NotificationDecider,
     GivenScheduled_WhenSentWithAnAttemptThatIsNotTheNext_ThenFailedPrecondition) {
  Spec()
      .Given(Scheduled())
      .When(MarkSent{kId, 2, kDue})
      .ThenFails(absl::StatusCode::kFailedPrecondition);
  Spec()
      .Given(Scheduled())
      .When(MarkSent{kId, 0, kDue})
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

TEST(NotificationDecider,
     GivenScheduled_WhenFailedWithAnotherAttemptAhead_ThenStillScheduledForThen) {
  const absl::Time next = kDue + absl::Seconds(30);
  DeciderSpec<NotificationDecider> spec = Spec();
  spec.Given(Scheduled()).When(MarkFailed{kId, 1, "HTTP 503", next});
  spec.Then({ev::Failed(1, "HTTP 503", next)});
  const v1::Notification s = StateAfter(spec);
  EXPECT_EQ(s.status(), v1::SCHEDULED);
  EXPECT_EQ(s.attempts(), 1);
  EXPECT_EQ(s.last_error(), "HTTP 503");
  EXPECT_EQ(es::FromProtoTimestamp(s.due_at()), next);
}

TEST(NotificationDecider, GivenOneFailedAttempt_WhenSecondAttemptSent_ThenSent) {
  DeciderSpec<NotificationDecider> spec = Spec();
  spec.Given(History({ev::Scheduled(), ev::Failed(1, "HTTP 503", kDue + absl::Seconds(30))}))
      .When(MarkSent{kId, 2, kDue + absl::Seconds(31)});
  spec.Then({ev::Sent(2, kDue + absl::Seconds(31))});
  const v1::Notification s = StateAfter(spec);
  EXPECT_EQ(s.status(), v1::SENT);
  EXPECT_EQ(s.attempts(), 2);
}

TEST(NotificationDecider,
     GivenOneFailedAttempt_WhenFirstAttemptRecordedAgain_ThenFailedPrecondition) {
  Spec()
      .Given(History({ev::Scheduled(), ev::Failed(1, "HTTP 503", kDue + absl::Seconds(30))}))
      .When(MarkSent{kId, 1, kDue})
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

TEST(NotificationDecider, GivenScheduled_WhenFailedWithoutNextAttempt_ThenDeadLettered) {
  DeciderSpec<NotificationDecider> spec = Spec();
  spec.Given(Scheduled()).When(MarkFailed{kId, 1, "no channel configured", std::nullopt});
  spec.Then({ev::Failed(1, "no channel configured", std::nullopt)});
  const v1::Notification s = StateAfter(spec);
  EXPECT_EQ(s.status(), v1::FAILED);
  EXPECT_EQ(s.attempts(), 1);
  EXPECT_EQ(s.last_error(), "no channel configured");
}

TEST(NotificationDecider,
     GivenDeadLettered_WhenSentFailedCancelledOrAcknowledged_ThenFailedPrecondition) {
  const std::vector<Event> history =
      History({ev::Scheduled(), ev::Failed(1, "HTTP 400", std::nullopt)});
  Spec()
      .Given(history)
      .When(MarkSent{kId, 2, kDue})
      .ThenFails(absl::StatusCode::kFailedPrecondition);
  Spec()
      .Given(history)
      .When(MarkFailed{kId, 2, "again", std::nullopt})
      .ThenFails(absl::StatusCode::kFailedPrecondition);
  Spec()
      .Given(history)
      .When(Cancel{kId, "deadline met"})
      .ThenFails(absl::StatusCode::kFailedPrecondition);
  Spec()
      .Given(history)
      .When(Acknowledge{kId, "coord-7", kDue})
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

TEST(NotificationDecider, GivenSent_WhenSentOrFailedAgain_ThenFailedPrecondition) {
  Spec()
      .Given(Sent())
      .When(MarkSent{kId, 2, kDue})
      .ThenFails(absl::StatusCode::kFailedPrecondition);
  Spec()
      .Given(Sent())
      .When(MarkFailed{kId, 2, "late", std::nullopt})
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

// ===============================================================================================
// Acknowledge
// ===============================================================================================

TEST(NotificationDecider, GivenSent_WhenAcknowledged_ThenAcknowledgedByTheCaller) {
  DeciderSpec<NotificationDecider> spec = Spec();
  spec.Given(Sent()).When(Acknowledge{kId, "coord-7", At(2026, 3, 25, 9, 0)});
  spec.Then({ev::Acknowledged("coord-7", At(2026, 3, 25, 9, 0))});
  const v1::Notification s = StateAfter(spec);
  EXPECT_EQ(s.status(), v1::ACKNOWLEDGED);
  EXPECT_EQ(s.acknowledged_by(), "coord-7");
  EXPECT_EQ(s.version(), 3);
}

TEST(NotificationDecider, GivenScheduled_WhenAcknowledgedBeforeSent_ThenFailedPrecondition) {
  Spec()
      .Given(Scheduled())
      .When(Acknowledge{kId, "coord-7", kDue})
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

TEST(NotificationDecider, GivenAcknowledged_WhenAcknowledgedAgain_ThenFailedPrecondition) {
  Spec()
      .Given(History({ev::Scheduled(), ev::Sent(1, kDue), ev::Acknowledged("coord-7", kDue)}))
      .When(Acknowledge{kId, "coord-8", kDue + absl::Hours(1)})
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

TEST(NotificationDecider, GivenCancelled_WhenAcknowledged_ThenFailedPrecondition) {
  Spec()
      .Given(History({ev::Scheduled(), ev::Cancelled("deadline met")}))
      .When(Acknowledge{kId, "coord-7", kDue})
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

TEST(NotificationDecider, GivenSent_WhenAcknowledgedByNobody_ThenInvalidArgument) {
  Spec()
      .Given(Sent())
      .When(Acknowledge{kId, "", kDue})
      .ThenFails(absl::StatusCode::kInvalidArgument);
}

// ===============================================================================================
// Cancel and reschedule
// ===============================================================================================

TEST(NotificationDecider, GivenScheduled_WhenCancelled_ThenCancelledWithTheReason) {
  DeciderSpec<NotificationDecider> spec = Spec();
  spec.Given(Scheduled()).When(Cancel{kId, "deadline met"});
  spec.Then({ev::Cancelled("deadline met")});
  const v1::Notification s = StateAfter(spec);
  EXPECT_EQ(s.status(), v1::CANCELLED);
  EXPECT_EQ(s.cancel_reason(), "deadline met");
}

TEST(NotificationDecider, GivenScheduledAfterAFailedAttempt_WhenCancelled_ThenCancelled) {
  Spec()
      .Given(History({ev::Scheduled(), ev::Failed(1, "HTTP 503", kDue + absl::Seconds(30))}))
      .When(Cancel{kId, "pathway ended"})
      .Then({ev::Cancelled("pathway ended")});
}

TEST(NotificationDecider, GivenSent_WhenCancelled_ThenFailedPrecondition) {
  Spec()
      .Given(Sent())
      .When(Cancel{kId, "deadline met"})
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

TEST(NotificationDecider, GivenCancelled_WhenCancelledOrSentAgain_ThenFailedPrecondition) {
  const std::vector<Event> history = History({ev::Scheduled(), ev::Cancelled("deadline met")});
  Spec()
      .Given(history)
      .When(Cancel{kId, "pathway ended"})
      .ThenFails(absl::StatusCode::kFailedPrecondition);
  Spec()
      .Given(history)
      .When(MarkSent{kId, 1, kDue})
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

TEST(NotificationDecider, GivenNothing_WhenCancelledSentOrAcknowledged_ThenNotFound) {
  Spec().Given({}).When(Cancel{kId, "deadline met"}).ThenFails(absl::StatusCode::kNotFound);
  Spec().Given({}).When(MarkSent{kId, 1, kDue}).ThenFails(absl::StatusCode::kNotFound);
  Spec().Given({}).When(Acknowledge{kId, "coord-7", kDue}).ThenFails(absl::StatusCode::kNotFound);
  Spec().Given({}).When(Reschedule{kId, kDue, "moved"}).ThenFails(absl::StatusCode::kNotFound);
}

TEST(NotificationDecider, GivenScheduled_WhenRescheduled_ThenDueAtMoves) {
  const absl::Time later = At(2026, 3, 30, 6);
  DeciderSpec<NotificationDecider> spec = Spec();
  spec.Given(Scheduled()).When(Reschedule{kId, later, "deadline moved"});
  spec.Then({ev::Rescheduled(later, "deadline moved")});
  const v1::Notification s = StateAfter(spec);
  EXPECT_EQ(s.status(), v1::SCHEDULED);
  EXPECT_EQ(es::FromProtoTimestamp(s.due_at()), later);
}

TEST(NotificationDecider, GivenScheduled_WhenRescheduledToTheSameTime_ThenFailedPrecondition) {
  Spec()
      .Given(Scheduled())
      .When(Reschedule{kId, kDue, "deadline moved"})
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

TEST(NotificationDecider, GivenSentOrCancelled_WhenRescheduled_ThenFailedPrecondition) {
  Spec()
      .Given(Sent())
      .When(Reschedule{kId, kDue + absl::Hours(1), "moved"})
      .ThenFails(absl::StatusCode::kFailedPrecondition);
  Spec()
      .Given(History({ev::Scheduled(), ev::Cancelled("deadline met")}))
      .When(Reschedule{kId, kDue + absl::Hours(1), "moved"})
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

TEST(NotificationDecider, GivenAnEventWithoutPayload_WhenFolded_ThenStateUnchanged) {
  static const NotificationDecider decider;
  DeciderSpec<NotificationDecider> spec = Spec();
  spec.Given(Scheduled());
  Event empty;
  empty.mutable_metadata()->set_stream_version(7);
  EXPECT_THAT(decider.Evolve(spec.state(), empty), EqualsProto(spec.state()));
}

}  // namespace
}  // namespace notify::domain
