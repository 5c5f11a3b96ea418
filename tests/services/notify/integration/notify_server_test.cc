// The notify service end to end in one process, driven by the pathway service: the embedded Kafka
// broker on a free port, a PathwayServer and a NotifyServer (RocksDB in temp directories, the
// shipped catalogue) sharing one manual clock, real gRPC channels to both. The pathway service is
// driven over its gRPC API; the notify service is checked through NotifyService::List, its
// dispatcher (run by the test with the clock's time) and the file channel's JSON lines.
//
// Cost: each test starts its own broker and both servers (two consumer-group joins, run in
// parallel, ~4 s on the mock broker), because every test moves the clock. Every wait is bounded.

#include <grpcpp/grpcpp.h>
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "libs/eventing/clock.h"
#include "libs/eventing/proto_time.h"
#include "libs/kafka/embedded_broker.h"
#include "nlohmann/json.hpp"
#include "notify/v1/events.pb.h"
#include "notify/v1/service.grpc.pb.h"
#include "pathway/v1/events.pb.h"
#include "pathway/v1/service.grpc.pb.h"
#include "services/notify/app/dispatcher.h"
#include "services/notify/app/notify_service.h"
#include "services/notify/domain/notification_policy.h"
#include "services/notify/server.h"
#include "services/pathway/app/deadline_timer.h"
#include "services/pathway/app/pathway_service.h"
#include "services/pathway/server.h"
#include "tests/support/eventually.h"
#include "tests/support/kafka_probe.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace notify {
namespace {

using ::es::testing::Eventually;
using ::es::testing::IsOk;
using ::es::testing::Produce;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr char kReferralTopic[] = "pathways.referral.events.v1";
constexpr char kPathwayTopic[] = "pathways.pathway.events.v1";
constexpr char kNotifyTopic[] = "pathways.notify.events.v1";
constexpr char kDeadLetterTopic[] = "pathways.deadletter.v1";
constexpr int kPartitions = 3;
constexpr char kDecisionRule[] = "tsb.attendance-decision.outpatient";
constexpr char kFirstEvaluationRule[] = "tsb.decision-first-evaluation";
constexpr auto kReadyTimeout = std::chrono::seconds(30);

#define ASSERT_RPC_OK(expr)                                                                 \
  do {                                                                                      \
    const grpc::Status rpc_status_ = (expr);                                                \
    ASSERT_TRUE(rpc_status_.ok()) << #expr << ": code " << rpc_status_.error_code() << ": " \
                                  << rpc_status_.error_message();                           \
  } while (0)

// ---------------------------------------------------------------------------------------------
// Values

absl::TimeZone Oslo() {
  absl::TimeZone zone;
  if (!absl::LoadTimeZone("Europe/Oslo", &zone)) std::abort();
  return zone;
}

absl::Time OsloTime(int y, int m, int d, int hh, int mm = 0) {
  return absl::FromCivil(absl::CivilMinute(y, m, d, hh, mm), Oslo());
}

// Monday 2 March 2026, 09:00 in Oslo.
absl::Time ClockStart() { return OsloTime(2026, 3, 2, 9); }

absl::CivilDay Day(int y, int m, int d) { return absl::CivilDay(y, m, d); }
eventing::v1::Date D(absl::CivilDay day) { return es::ToProtoDate(day); }

// Valid fødselsnumre (check digits verified by clinical_identity_test).
constexpr char kFnr1[] = "01019012480";
constexpr char kFnr2[] = "24120012343";

referral::v1::PatientIdentifier Patient(const std::string& fnr) {
  referral::v1::PatientIdentifier p;
  p.set_system(referral::v1::PatientIdentifier::NO_FODSELSNUMMER);
  p.set_value(fnr);
  return p;
}

std::string CatalogueDir() {
  const char* source = std::getenv("PATHWAYS_SOURCE_DIR");
  return absl::StrCat(source != nullptr && *source != '\0' ? source : PATHWAYS_DEFAULT_SOURCE_DIR,
                      "/catalogue");
}

std::string DecisionDeadlineId(const std::string& pathway_id) {
  return absl::StrCat(pathway_id, "/", kDecisionRule, "/1");
}

// ---------------------------------------------------------------------------------------------
// One broker, a pathway server and a notify server on it, one clock.

class Harness {
 public:
  Harness() : clock(ClockStart()) {}
  ~Harness() {
    notify_stub_.reset();
    pathway_stub_.reset();
    if (notify_ != nullptr) notify_->Shutdown();
    if (pathway_ != nullptr) pathway_->Shutdown();
    notify_.reset();
    pathway_.reset();
  }

  absl::Status Init() {
    auto broker = es::kafka::EmbeddedBroker::Start({.topics = {{kReferralTopic, kPartitions},
                                                               {kPathwayTopic, kPartitions},
                                                               {kNotifyTopic, kPartitions},
                                                               {kDeadLetterTopic, 1}}});
    if (!broker.ok()) return broker.status();
    broker_ = std::move(*broker);
    pathway_config = pathway::Config::ForTest(dir.Sub("pathway"), bootstrap(), CatalogueDir());
    notify_config = Config::ForTest(dir.Sub("notify"), bootstrap(), CatalogueDir());
    // Both consumers join their groups at the same time.
    auto pathway_server = pathway::PathwayServer::Start(pathway_config, &clock);
    if (!pathway_server.ok()) return pathway_server.status();
    pathway_ = std::move(*pathway_server);
    auto notify_server = NotifyServer::Start(notify_config, &clock);
    if (!notify_server.ok()) return notify_server.status();
    notify_ = std::move(*notify_server);
    if (!Eventually([&] { return pathway_->ready() && notify_->ready(); }, kReadyTimeout)) {
      return absl::DeadlineExceededError("the servers did not become ready");
    }
    // The test runs the dispatcher itself (RunOnce must not overlap a started dispatcher).
    notify_->dispatcher().Stop();
    pathway_channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", pathway_->port()),
                                           grpc::InsecureChannelCredentials());
    pathway_stub_ = pathway::v1::PathwayService::NewStub(pathway_channel_);
    notify_channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", notify_->port()),
                                          grpc::InsecureChannelCredentials());
    notify_stub_ = v1::NotifyService::NewStub(notify_channel_);
    return absl::OkStatus();
  }

  std::string bootstrap() const { return broker_->bootstrap_servers(); }
  pathway::PathwayServer& pathway_server() { return *pathway_; }
  NotifyServer& notify_server() { return *notify_; }
  std::shared_ptr<grpc::Channel> notify_channel() { return notify_channel_; }

  // --- The pathway service, over gRPC ---

  template <typename Request, typename Response>
  grpc::Status CallPathway(grpc::Status (pathway::v1::PathwayService::Stub::*method)(
                               grpc::ClientContext*, const Request&, Response*),
                           const Request& request, Response* response) {
    grpc::ClientContext context;
    context.AddMetadata("x-actor-id", "coordinator-1");
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return (pathway_stub_.get()->*method)(&context, request, response);
  }

  grpc::Status StartPathway(const std::string& unit, const std::string& fnr, absl::CivilDay start,
                            const std::string& coordinator, std::string* id) {
    pathway::v1::StartPathwayRequest r;
    r.set_idempotency_key(NextKey("start"));
    r.set_pathway_type("NO_TSB");
    r.set_unit(unit);
    *r.mutable_patient() = Patient(fnr);
    r.set_setting(catalogue::v1::OUTPATIENT);
    *r.mutable_start_date() = D(start);
    r.set_coordinator_id(coordinator);
    pathway::v1::CommandResponse out;
    grpc::Status s = CallPathway(&pathway::v1::PathwayService::Stub::StartPathway, r, &out);
    *id = out.pathway_id();
    return s;
  }

  grpc::Status Record(const std::string& id, const std::string& point, absl::CivilDay date,
                      const std::string& outcome = "") {
    pathway::v1::RecordPointRequest r;
    r.set_idempotency_key(NextKey(point));
    r.set_pathway_id(id);
    r.set_point_id(point);
    r.set_outcome(outcome);
    *r.mutable_date() = D(date);
    pathway::v1::CommandResponse out;
    return CallPathway(&pathway::v1::PathwayService::Stub::RecordPoint, r, &out);
  }

  grpc::Status ScheduleAppointment(const std::string& id, const std::string& appointment,
                                   absl::Time at) {
    pathway::v1::ScheduleAppointmentRequest r;
    r.set_idempotency_key(NextKey("appointment"));
    r.set_pathway_id(id);
    r.set_appointment_id(appointment);
    *r.mutable_at() = es::ToProtoTimestamp(at);
    r.set_kind("treatment");
    pathway::v1::CommandResponse out;
    return CallPathway(&pathway::v1::PathwayService::Stub::ScheduleAppointment, r, &out);
  }

  grpc::Status RecordAttendance(const std::string& id, const std::string& appointment,
                                bool attended) {
    pathway::v1::RecordAttendanceRequest r;
    r.set_idempotency_key(NextKey("attendance"));
    r.set_pathway_id(id);
    r.set_appointment_id(appointment);
    r.set_attended(attended);
    pathway::v1::CommandResponse out;
    return CallPathway(&pathway::v1::PathwayService::Stub::RecordAttendance, r, &out);
  }

  pathway::v1::Pathway GetPathway(const std::string& id) {
    pathway::v1::GetPathwayRequest r;
    r.set_pathway_id(id);
    pathway::v1::Pathway out;
    grpc::Status s = CallPathway(&pathway::v1::PathwayService::Stub::GetPathway, r, &out);
    EXPECT_TRUE(s.ok()) << id << ": " << s.error_message();
    return out;
  }

  // --- The notify service ---

  // Every notification of `recipient_id`, any status (one page is plenty here).
  std::vector<v1::Notification> Notifications(const std::string& recipient_id) {
    absl::StatusOr<app::NotificationPage> page =
        notify_->service().List(recipient_id, "", v1::NOTIFICATION_STATUS_UNSPECIFIED, 100, "");
    EXPECT_THAT(page, IsOk());
    if (!page.ok()) return {};
    EXPECT_TRUE(page->next_page_token.empty());
    return page->notifications;
  }

  std::vector<v1::Notification> OfKind(const std::string& recipient_id, v1::NotificationKind kind) {
    std::vector<v1::Notification> out;
    for (v1::Notification& n : Notifications(recipient_id)) {
      if (n.kind() == kind) out.push_back(std::move(n));
    }
    return out;
  }

  std::optional<v1::Notification> Get(const std::string& id) {
    absl::StatusOr<v1::Notification> n = notify_->service().Get(id);
    if (!n.ok()) return std::nullopt;
    return *n;
  }

  // Waits (bounded) until notification `id` exists and `condition` holds for it.
  std::optional<v1::Notification> Await(
      const std::string& id, const std::function<bool(const v1::Notification&)>& condition) {
    std::optional<v1::Notification> found;
    Eventually([&] {
      found = Get(id);
      return found.has_value() && condition(*found);
    });
    if (found.has_value() && !condition(*found)) {
      ADD_FAILURE() << "notification " << id << " never got there: " << found->ShortDebugString();
    } else if (!found.has_value()) {
      ADD_FAILURE() << "notification " << id << " was never scheduled";
    }
    return found;
  }

  absl::StatusOr<int> Dispatch() { return notify_->dispatcher().RunOnce(clock.Now()); }

  // The file channel's lines, parsed.
  std::vector<nlohmann::json> DeliveredLines() {
    std::vector<nlohmann::json> lines;
    std::ifstream in(notify_config.file_channel_path);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      nlohmann::json doc = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      EXPECT_FALSE(doc.is_discarded()) << "not JSON: " << line;
      if (!doc.is_discarded()) lines.push_back(std::move(doc));
    }
    return lines;
  }
  std::vector<nlohmann::json> DeliveredLinesOf(const std::string& notification_id) {
    std::vector<nlohmann::json> out;
    for (nlohmann::json& line : DeliveredLines()) {
      if (line.value("notification_id", "") == notification_id) out.push_back(std::move(line));
    }
    return out;
  }

  grpc::Status Acknowledge(const std::string& notification_id, const std::string& by,
                           v1::AcknowledgeResponse* response) {
    v1::AcknowledgeRequest r;
    r.set_idempotency_key(NextKey("ack"));
    r.set_notification_id(notification_id);
    grpc::ClientContext context;
    context.AddMetadata("x-actor-id", by);
    context.AddMetadata("x-actor-role", "coordinator");
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return notify_stub_->Acknowledge(&context, r, response);
  }

  std::string NextKey(const std::string& what) { return absl::StrCat(what, "-", ++keys_); }

  es::testing::TempDir dir;
  es::ManualClock clock;
  pathway::Config pathway_config;
  Config notify_config;

 private:
  std::unique_ptr<es::kafka::EmbeddedBroker> broker_;
  std::unique_ptr<pathway::PathwayServer> pathway_;
  std::unique_ptr<NotifyServer> notify_;
  std::shared_ptr<grpc::Channel> pathway_channel_;
  std::shared_ptr<grpc::Channel> notify_channel_;
  std::unique_ptr<pathway::v1::PathwayService::Stub> pathway_stub_;
  std::unique_ptr<v1::NotifyService::Stub> notify_stub_;
  int keys_ = 0;
};

class NotifyServerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_THAT(h_.Init(), IsOk()); }
  Harness h_;
};

bool IsScheduled(const v1::Notification& n) { return n.status() == v1::SCHEDULED; }

// =============================================================================================

TEST_F(NotifyServerTest, GivenReadyServer_ThenHealthServingForTheService) {
  auto health = grpc::health::v1::Health::NewStub(h_.notify_channel());
  for (const std::string service : {"", "notify.v1.NotifyService"}) {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    ASSERT_TRUE(health->Check(&context, request, &response).ok()) << service;
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING) << service;
  }
}

TEST_F(
    NotifyServerTest,
    GivenFirstAttendance_ThenCoordinatorReminded3WorkingDaysBefore_AndWhenDecisionRecordedBeforeItIsDue_ThenCancelledAndNeverSent) {
  std::string id;
  ASSERT_RPC_OK(h_.StartPathway("n1-unit", kFnr1, Day(2026, 2, 23), "n1-coord", &id));
  ASSERT_RPC_OK(h_.Record(id, "forste_fremmote", Day(2026, 3, 2)));
  const pathway::v1::Pathway pathway = h_.GetPathway(id);

  // Clinical decision due Monday 23 March: three working days before is Wednesday 18 March,
  // 08:00 in Oslo.
  const std::string reminder_id = domain::DeadlineReminderId(DecisionDeadlineId(id));
  std::optional<v1::Notification> reminder = h_.Await(reminder_id, IsScheduled);
  ASSERT_TRUE(reminder.has_value());
  EXPECT_EQ(reminder->kind(), v1::DEADLINE_REMINDER);
  EXPECT_EQ(reminder->recipient().role(), v1::Recipient::COORDINATOR);
  EXPECT_EQ(reminder->recipient().id(), "n1-coord");
  EXPECT_EQ(reminder->channel(), v1::FILE);
  EXPECT_EQ(reminder->unit(), "n1-unit");
  EXPECT_EQ(es::FromProtoTimestamp(reminder->due_at()), OsloTime(2026, 3, 18, 8));
  EXPECT_EQ(reminder->params().at("rule"), kDecisionRule);
  EXPECT_EQ(reminder->params().at("due_date"), "2026-03-23");
  EXPECT_EQ(reminder->patient_key(), pathway.patient_key());
  EXPECT_THAT(reminder->body(), HasSubstr("2026-03-23"));
  // Listed for the coordinator and for the unit.
  std::vector<v1::Notification> listed = h_.OfKind("n1-coord", v1::DEADLINE_REMINDER);
  ASSERT_THAT(listed, SizeIs(1));
  EXPECT_EQ(listed[0].notification_id(), reminder_id);
  absl::StatusOr<app::NotificationPage> by_unit =
      h_.notify_server().service().List("", "n1-unit", v1::SCHEDULED, 100, "");
  ASSERT_THAT(by_unit, IsOk());
  ASSERT_THAT(by_unit->notifications, SizeIs(1));
  EXPECT_EQ(by_unit->notifications[0].notification_id(), reminder_id);

  // Not due yet: the dispatcher leaves it.
  absl::StatusOr<int> sent = h_.Dispatch();
  ASSERT_THAT(sent, IsOk());
  EXPECT_EQ(*sent, 0);

  // A week later, before the reminder is due, the clinical decision meets the deadline.
  h_.clock.Set(OsloTime(2026, 3, 10, 10));
  ASSERT_RPC_OK(h_.Record(id, "klinisk_beslutning", Day(2026, 3, 10), "CT"));
  reminder =
      h_.Await(reminder_id, [](const v1::Notification& n) { return n.status() == v1::CANCELLED; });
  ASSERT_TRUE(reminder.has_value());
  EXPECT_EQ(reminder->cancel_reason(), "deadline met");
  // The decision opened decision -> first evaluation (due Tue 17 March): its reminder is due
  // Thursday 12 March, 08:00.
  const std::string next_id =
      domain::DeadlineReminderId(absl::StrCat(id, "/", kFirstEvaluationRule, "/1"));
  std::optional<v1::Notification> next = h_.Await(next_id, IsScheduled);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(es::FromProtoTimestamp(next->due_at()), OsloTime(2026, 3, 12, 8));

  // Past the cancelled reminder's due time the dispatcher sends the open one only.
  h_.clock.Set(OsloTime(2026, 3, 19, 9));
  sent = h_.Dispatch();
  ASSERT_THAT(sent, IsOk());
  EXPECT_EQ(*sent, 1);
  EXPECT_THAT(h_.DeliveredLinesOf(reminder_id), SizeIs(0));
  EXPECT_THAT(h_.DeliveredLinesOf(next_id), SizeIs(1));
  reminder = h_.Get(reminder_id);
  ASSERT_TRUE(reminder.has_value());
  EXPECT_EQ(reminder->status(), v1::CANCELLED);
  EXPECT_EQ(reminder->attempts(), 0);
  EXPECT_FALSE(reminder->has_sent_at());
  EXPECT_EQ(h_.Get(next_id)->status(), v1::SENT);
  // Nothing is left to send.
  sent = h_.Dispatch();
  ASSERT_THAT(sent, IsOk());
  EXPECT_EQ(*sent, 0);
}

TEST_F(
    NotifyServerTest,
    GivenOpenDeadline_WhenClockMovesAMonthAndTimerRecordsBreach_ThenBreachAlertSentToFileAndAcknowledgedOverGrpc) {
  std::string id;
  ASSERT_RPC_OK(h_.StartPathway("n2-unit", kFnr2, Day(2026, 2, 23), "n2-coord", &id));
  ASSERT_RPC_OK(h_.Record(id, "forste_fremmote", Day(2026, 3, 2)));
  const std::string reminder_id = domain::DeadlineReminderId(DecisionDeadlineId(id));
  ASSERT_TRUE(h_.Await(reminder_id, IsScheduled).has_value());

  // The reminder goes out on its day, through the file channel.
  h_.clock.Set(OsloTime(2026, 3, 18, 8, 5));
  absl::StatusOr<int> sent = h_.Dispatch();
  ASSERT_THAT(sent, IsOk());
  EXPECT_EQ(*sent, 1);
  ASSERT_THAT(h_.DeliveredLinesOf(reminder_id), SizeIs(1));
  EXPECT_EQ(h_.Get(reminder_id)->status(), v1::SENT);

  // A month after the first attendance, nothing recorded: the pathway timer records the breach.
  h_.clock.Set(ClockStart() + absl::Hours(24 * 31));
  const absl::Time breach_time = h_.clock.Now();
  const absl::CivilDay today = h_.pathway_server().service().Today();
  ASSERT_EQ(today, Day(2026, 4, 2));
  absl::StatusOr<int> recorded = h_.pathway_server().timer().RunOnce(today);
  ASSERT_THAT(recorded, IsOk());
  EXPECT_EQ(*recorded, 1);

  const std::string alert_id = domain::BreachAlertId(DecisionDeadlineId(id));
  std::optional<v1::Notification> alert = h_.Await(alert_id, IsScheduled);
  ASSERT_TRUE(alert.has_value());
  EXPECT_EQ(alert->kind(), v1::BREACH_ALERT);
  EXPECT_EQ(alert->recipient().id(), "n2-coord");
  EXPECT_EQ(es::FromProtoTimestamp(alert->due_at()), breach_time);  // at once
  EXPECT_EQ(alert->params().at("rule"), kDecisionRule);
  EXPECT_EQ(alert->params().at("patient_postponed"), "nei");
  // The reminder had gone out: it stays sent.
  EXPECT_EQ(h_.Get(reminder_id)->status(), v1::SENT);

  // Not sent yet: it cannot be acknowledged.
  v1::AcknowledgeResponse ack;
  grpc::Status early = h_.Acknowledge(alert_id, "n2-coord", &ack);
  EXPECT_EQ(early.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << early.error_message();

  sent = h_.Dispatch();
  ASSERT_THAT(sent, IsOk());
  EXPECT_EQ(*sent, 1);
  alert = h_.Get(alert_id);
  ASSERT_TRUE(alert.has_value());
  EXPECT_EQ(alert->status(), v1::SENT);
  EXPECT_EQ(alert->attempts(), 1);
  EXPECT_EQ(es::FromProtoTimestamp(alert->sent_at()), breach_time);

  const std::vector<nlohmann::json> lines = h_.DeliveredLinesOf(alert_id);
  ASSERT_THAT(lines, SizeIs(1));
  const nlohmann::json& line = lines[0];
  EXPECT_EQ(line.value("kind", ""), "BREACH_ALERT");
  EXPECT_EQ(line.value("channel", ""), "FILE");
  EXPECT_EQ(line.value("unit", ""), "n2-unit");
  ASSERT_TRUE(line.contains("recipient"));
  EXPECT_EQ(line["recipient"].value("role", ""), "COORDINATOR");
  EXPECT_EQ(line["recipient"].value("id", ""), "n2-coord");
  EXPECT_EQ(line.value("subject", ""), "Frist brutt: tsb.attendance-decision.outpatient");
  EXPECT_THAT(line.value("body", ""), HasSubstr("gikk ut 2026-03-23"));
  EXPECT_THAT(line.value("body", ""), HasSubstr("Pasientutsatt: nei."));
  EXPECT_EQ(line.value("sent_at", ""),
            absl::FormatTime("%Y-%m-%d%ET%H:%M:%SZ", breach_time, absl::UTCTimeZone()));
  EXPECT_THAT(line.dump(), ::testing::Not(HasSubstr(kFnr2)));

  // Acknowledged by the coordinator over gRPC.
  ASSERT_RPC_OK(h_.Acknowledge(alert_id, "n2-coord", &ack));
  EXPECT_FALSE(ack.replayed());
  alert = h_.Get(alert_id);
  ASSERT_TRUE(alert.has_value());
  EXPECT_EQ(alert->status(), v1::ACKNOWLEDGED);
  EXPECT_EQ(alert->acknowledged_by(), "n2-coord");
  EXPECT_EQ(alert->version(), ack.version());
  absl::StatusOr<app::NotificationPage> acknowledged =
      h_.notify_server().service().List("n2-coord", "", v1::ACKNOWLEDGED, 100, "");
  ASSERT_THAT(acknowledged, IsOk());
  ASSERT_THAT(acknowledged->notifications, SizeIs(1));
  EXPECT_EQ(acknowledged->notifications[0].notification_id(), alert_id);
  // A second acknowledgement (another key) is refused; nothing more goes out.
  grpc::Status again = h_.Acknowledge(alert_id, "n2-coord", &ack);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << again.error_message();
  sent = h_.Dispatch();
  ASSERT_THAT(sent, IsOk());
  EXPECT_EQ(*sent, 0);
  EXPECT_THAT(h_.DeliveredLines(), SizeIs(2));  // the reminder and the alert
}

TEST_F(NotifyServerTest,
       GivenScheduledAppointments_WhenPatientDoesNotAttend_ThenNoShowAlertSentAtOnce) {
  std::string id;
  ASSERT_RPC_OK(h_.StartPathway("n3-unit", kFnr1, Day(2026, 2, 23), "n3-coord", &id));
  ASSERT_RPC_OK(h_.ScheduleAppointment(id, "appt-1", OsloTime(2026, 3, 2, 10)));
  ASSERT_RPC_OK(h_.ScheduleAppointment(id, "appt-2", OsloTime(2026, 3, 9, 10)));

  h_.clock.Set(OsloTime(2026, 3, 2, 10, 30));
  const absl::Time missed_at = h_.clock.Now();
  ASSERT_RPC_OK(h_.RecordAttendance(id, "appt-1", /*attended=*/false));
  std::vector<v1::Notification> alerts;
  ASSERT_TRUE(Eventually([&] {
    alerts = h_.OfKind("n3-coord", v1::NO_SHOW_ALERT);
    return !alerts.empty();
  })) << "no no-show alert";
  ASSERT_THAT(alerts, SizeIs(1));
  const std::string first_id = alerts[0].notification_id();
  EXPECT_EQ(alerts[0].status(), v1::SCHEDULED);
  EXPECT_EQ(es::FromProtoTimestamp(alerts[0].due_at()), missed_at);
  EXPECT_EQ(alerts[0].params().at("appointment"), "appt-1");
  EXPECT_EQ(alerts[0].params().at("missed_count"), "1");

  // At once: the next dispatcher run, without moving the clock, sends it.
  absl::StatusOr<int> sent = h_.Dispatch();
  ASSERT_THAT(sent, IsOk());
  EXPECT_EQ(*sent, 1);
  EXPECT_EQ(h_.Get(first_id)->status(), v1::SENT);
  std::vector<nlohmann::json> lines = h_.DeliveredLinesOf(first_id);
  ASSERT_THAT(lines, SizeIs(1));
  EXPECT_EQ(lines[0].value("kind", ""), "NO_SHOW_ALERT");
  EXPECT_EQ(lines[0].value("subject", ""), "Pasienten møtte ikke");

  // The second no-show suggests the patient-postponed code.
  h_.clock.Set(OsloTime(2026, 3, 9, 10, 20));
  ASSERT_RPC_OK(h_.RecordAttendance(id, "appt-2", false));
  std::optional<v1::Notification> second;
  ASSERT_TRUE(Eventually([&] {
    for (const v1::Notification& n : h_.OfKind("n3-coord", v1::NO_SHOW_ALERT)) {
      if (n.notification_id() != first_id) second = n;
    }
    return second.has_value();
  })) << "no second no-show alert";
  EXPECT_EQ(second->params().at("missed_count"), "2");
  EXPECT_EQ(second->params().at("suggest_code"), "D01L");
  sent = h_.Dispatch();
  ASSERT_THAT(sent, IsOk());
  EXPECT_EQ(*sent, 1);
  lines = h_.DeliveredLinesOf(second->notification_id());
  ASSERT_THAT(lines, SizeIs(1));
  EXPECT_THAT(lines[0].value("body", ""), HasSubstr("(D01L)"));
}

TEST_F(NotifyServerTest,
       GivenNotifiedPathwayEvents_WhenTheRecordsAreDeliveredAgain_ThenNoSecondNotification) {
  std::string id;
  ASSERT_RPC_OK(h_.StartPathway("n4-unit", kFnr2, Day(2026, 2, 23), "n4-coord", &id));
  ASSERT_RPC_OK(h_.Record(id, "forste_fremmote", Day(2026, 3, 2)));
  ASSERT_RPC_OK(h_.ScheduleAppointment(id, "appt-1", OsloTime(2026, 3, 2, 10)));
  h_.clock.Set(OsloTime(2026, 3, 2, 11));
  ASSERT_RPC_OK(h_.RecordAttendance(id, "appt-1", false));
  ASSERT_TRUE(Eventually([&] { return h_.Notifications("n4-coord").size() == 2; }))
      << "expected the deadline reminder and the no-show alert";
  const std::vector<v1::Notification> before = h_.Notifications("n4-coord");

  // Deliver every pathway event again, byte for byte, to the same partition.
  std::vector<es::testing::ProbedRecord> records = es::testing::ReadTopic(
      h_.bootstrap(), kPathwayTopic, kPartitions, 4, std::chrono::seconds(20));
  ASSERT_THAT(records, SizeIs(4));
  for (const es::testing::ProbedRecord& r : records) EXPECT_EQ(r.Header("ce_subject"), id);
  ASSERT_THAT(Produce(h_.bootstrap(), kPathwayTopic, records), IsOk());

  // A later event of the same pathway (same key, so the same partition, behind the copies):
  // once its notification exists, the copies have been consumed.
  ASSERT_RPC_OK(h_.ScheduleAppointment(id, "appt-2", OsloTime(2026, 3, 3, 10)));
  h_.clock.Set(OsloTime(2026, 3, 3, 11));
  ASSERT_RPC_OK(h_.RecordAttendance(id, "appt-2", false));
  ASSERT_TRUE(Eventually([&] { return h_.Notifications("n4-coord").size() >= 3; }))
      << "the later no-show raised no alert";
  const std::vector<es::testing::ProbedRecord> all = es::testing::ReadTopic(
      h_.bootstrap(), kPathwayTopic, kPartitions, 10, std::chrono::seconds(20));
  ASSERT_THAT(all, SizeIs(10));
  for (const es::testing::ProbedRecord& r : all) EXPECT_EQ(r.partition, records[0].partition);

  const std::vector<v1::Notification> after = h_.Notifications("n4-coord");
  ASSERT_THAT(after, SizeIs(3));
  std::map<std::string, v1::Notification> by_id;
  for (const v1::Notification& n : after) by_id[n.notification_id()] = n;
  for (const v1::Notification& n : before) {
    auto it = by_id.find(n.notification_id());
    ASSERT_NE(it, by_id.end()) << n.notification_id();
    EXPECT_EQ(it->second.version(), n.version()) << n.notification_id();  // untouched
    EXPECT_EQ(it->second.status(), n.status()) << n.notification_id();
  }

  // On the notify topic: one NotificationScheduled per notification, and nothing else.
  std::vector<es::testing::ProbedRecord> notify_records = es::testing::ReadTopic(
      h_.bootstrap(), kNotifyTopic, kPartitions, 3, std::chrono::seconds(20));
  std::map<std::string, int> scheduled;
  for (const es::testing::ProbedRecord& r : notify_records) {
    v1::NotificationEvent event;
    ASSERT_TRUE(event.ParseFromString(r.value));
    if (event.has_scheduled()) ++scheduled[event.metadata().stream_id()];
  }
  EXPECT_THAT(
      es::testing::ReadTopic(h_.bootstrap(), kNotifyTopic, kPartitions, 4, std::chrono::seconds(2)),
      SizeIs(3));
  ASSERT_THAT(scheduled, SizeIs(3));
  for (const auto& [notification_id, count] : scheduled) {
    EXPECT_EQ(count, 1) << notification_id;
    EXPECT_EQ(by_id.count(notification_id), 1u) << notification_id;
  }
}

}  // namespace
}  // namespace notify
