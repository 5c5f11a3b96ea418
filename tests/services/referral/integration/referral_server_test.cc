// The referral service end to end in one process: a real gRPC channel, the embedded Kafka
// broker on a free port, RocksDB in a temp directory.

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <set>

#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "libs/eventing/proto_time.h"
#include "libs/kafka/embedded_broker.h"
#include "referral/v1/service.grpc.pb.h"
#include "services/referral/server.h"
#include "tests/support/kafka_probe.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace referral {
namespace {

using ::es::testing::IsOk;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kTopic[] = "pathways.referral.events.v1";
// Valid fødselsnummer (check digits verified by clinical_identity_test): 01.01.1990, ind. 124.
constexpr char kFnr[] = "01019012480";
constexpr char kFnr2[] = "24120012343";

google::protobuf::Timestamp At(const std::string& rfc3339) {
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &error)) std::abort();
  return es::ToProtoTimestamp(t);
}

class ReferralServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto broker = es::kafka::EmbeddedBroker::Start({.topics = {{kTopic, 3}}});
    ASSERT_THAT(broker, IsOk());
    broker_ = std::move(*broker);
    config_ = Config::ForTest(dir_.Sub("referral"), broker_->bootstrap_servers());
    StartServer();
  }
  void StartServer() {
    auto server = ReferralServer::Start(config_);
    ASSERT_THAT(server, IsOk());
    server_ = std::move(*server);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::ReferralService::NewStub(channel_);
  }

  v1::SubmitReferralRequest Submission(const std::string& key, const std::string& fnr,
                                       const std::string& received = "2026-03-27T09:00:00+01:00") {
    v1::SubmitReferralRequest request;
    request.set_idempotency_key(key);
    request.mutable_patient()->set_system(v1::PatientIdentifier::NO_FODSELSNUMMER);
    request.mutable_patient()->set_value(fnr);
    request.mutable_referrer()->set_name("Dr. Fastlege");
    request.mutable_referrer()->set_organisation("Legesenteret");
    request.set_receiving_unit("ahus-tsb");
    *request.mutable_received_at() = At(received);
    request.set_reason("Alkoholavhengighet, ønsker behandling");
    request.set_suspected_condition("F10.2");
    request.set_priority(v1::PRIORITY_ORDINARY);
    return request;
  }

  grpc::Status Submit(const v1::SubmitReferralRequest& request, v1::CommandResponse* response) {
    grpc::ClientContext context;
    context.AddMetadata("x-actor-id", "coordinator-1");
    return stub_->SubmitReferral(&context, request, response);
  }

  es::testing::TempDir dir_;
  std::unique_ptr<es::kafka::EmbeddedBroker> broker_;
  Config config_;
  std::unique_ptr<ReferralServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ReferralService::Stub> stub_;
};

TEST_F(ReferralServerTest, GivenValidReferral_WhenSubmitted_ThenStoredWithDeadlineAndReadable) {
  v1::CommandResponse response;
  grpc::Status status = Submit(Submission("k-1", kFnr), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.version(), 1);
  EXPECT_FALSE(response.referral_id().empty());

  grpc::ClientContext context;
  v1::GetReferralRequest get;
  get.set_referral_id(response.referral_id());
  v1::Referral referral;
  ASSERT_TRUE(stub_->GetReferral(&context, get, &referral).ok());
  EXPECT_EQ(referral.status(), v1::RECEIVED);
  EXPECT_EQ(referral.patient().value(), kFnr);
  // Received Friday 27 March 2026; Easter 2026: 2, 3, 5, 6 April are holidays, Saturdays and
  // Sundays off: Mon 30, Tue 31, Wed 1, Tue 7, Wed 8, Thu 9, Fri 10, Mon 13, Tue 14, Wed 15.
  EXPECT_EQ(referral.assessment_deadline().year(), 2026);
  EXPECT_EQ(referral.assessment_deadline().month(), 4);
  EXPECT_EQ(referral.assessment_deadline().day(), 15);
  EXPECT_EQ(referral.patient_key().size(), 32u);
}

TEST_F(ReferralServerTest, GivenSubmittedReferral_WhenRetriedWithSameKey_ThenSameAnswerNoNewEvent) {
  v1::CommandResponse first, second;
  ASSERT_TRUE(Submit(Submission("k-1", kFnr), &first).ok());
  ASSERT_TRUE(Submit(Submission("k-1", kFnr), &second).ok());
  EXPECT_EQ(second.referral_id(), first.referral_id());
  EXPECT_EQ(second.version(), 1);
  EXPECT_TRUE(second.replayed());

  v1::CommandResponse other;
  grpc::Status reused = Submit(Submission("k-1", kFnr2), &other);
  EXPECT_EQ(reused.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(reused.error_message(), HasSubstr("idempotency_key"));
}

TEST_F(ReferralServerTest, GivenInvalidNationalId_WhenSubmitted_ThenInvalidArgumentNamingField) {
  v1::CommandResponse response;
  grpc::Status status = Submit(Submission("k-bad", "01019012481"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("patient.value"));
  EXPECT_THAT(status.error_message(), Not(HasSubstr("01019012481")));

  v1::SubmitReferralRequest no_time = Submission("k-time", kFnr);
  no_time.clear_received_at();
  status = Submit(no_time, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("received_at"));

  v1::SubmitReferralRequest no_key = Submission("", kFnr);
  status = Submit(no_key, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("idempotency_key"));
}

TEST_F(ReferralServerTest, GivenAssessedReferral_WhenAssessedAgain_ThenFailedPreconditionAndKept) {
  v1::CommandResponse submitted;
  ASSERT_TRUE(Submit(Submission("k-1", kFnr), &submitted).ok());
  v1::AssessReferralRequest assess;
  assess.set_idempotency_key("a-1");
  assess.set_referral_id(submitted.referral_id());
  assess.mutable_assessment()->mutable_right_to_care()->set_pathway_type("NO_TSB");
  *assess.mutable_assessment()->mutable_right_to_care()->mutable_legal_deadline() =
      es::ToProtoDate(absl::CivilDay(2026, 5, 8));
  *assess.mutable_assessment()->mutable_assessed_at() = At("2026-04-01T10:00:00+02:00");
  v1::CommandResponse assessed;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->AssessReferral(&context, assess, &assessed).ok());
    EXPECT_EQ(assessed.version(), 2);
  }
  assess.set_idempotency_key("a-2");
  assess.mutable_assessment()->clear_right_to_care();
  assess.mutable_assessment()->mutable_no_right()->set_reason("changed mind");
  {
    grpc::ClientContext context;
    v1::CommandResponse again;
    grpc::Status status = stub_->AssessReferral(&context, assess, &again);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_THAT(status.error_message(), HasSubstr("CorrectAssessment"));
  }
  grpc::ClientContext context;
  v1::GetReferralRequest get;
  get.set_referral_id(submitted.referral_id());
  v1::Referral referral;
  ASSERT_TRUE(stub_->GetReferral(&context, get, &referral).ok());
  EXPECT_EQ(referral.status(), v1::RIGHT_TO_CARE);
  EXPECT_EQ(referral.version(), 2);
  EXPECT_TRUE(referral.assessed_on_time());
}

TEST_F(ReferralServerTest, GivenStaleExpectedVersion_WhenCommandSent_ThenAborted) {
  v1::CommandResponse submitted;
  ASSERT_TRUE(Submit(Submission("k-1", kFnr), &submitted).ok());
  v1::AssignCoordinatorRequest assign;
  assign.set_idempotency_key("c-1");
  assign.set_referral_id(submitted.referral_id());
  assign.set_coordinator_id("coord-7");
  assign.set_expected_version(5);
  grpc::ClientContext context;
  v1::CommandResponse response;
  EXPECT_EQ(stub_->AssignCoordinator(&context, assign, &response).error_code(),
            grpc::StatusCode::ABORTED);
}

TEST_F(ReferralServerTest,
       GivenReferralsWithDifferentDeadlines_WhenWorklistRead_ThenOrderedAndFlagged) {
  v1::CommandResponse late, early, urgent;
  ASSERT_TRUE(Submit(Submission("k-late", kFnr, "2026-03-10T09:00:00+01:00"), &late).ok());
  ASSERT_TRUE(Submit(Submission("k-early", kFnr2, "2026-03-02T09:00:00+01:00"), &early).ok());
  v1::SubmitReferralRequest u = Submission("k-urgent", kFnr, "2026-03-10T11:00:00+01:00");
  u.set_priority(v1::PRIORITY_URGENT);
  ASSERT_TRUE(Submit(u, &urgent).ok());

  v1::GetAssessmentWorklistRequest request;
  request.set_unit("ahus-tsb");
  *request.mutable_as_of() = At("2026-03-17T12:00:00+01:00");  // after early's deadline (16 Mar)
  request.set_page_size(2);
  v1::AssessmentWorklistResponse page1, page2;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->GetAssessmentWorklist(&context, request, &page1).ok());
  }
  ASSERT_EQ(page1.items_size(), 2);
  EXPECT_EQ(page1.items(0).referral().referral_id(), early.referral_id());
  EXPECT_TRUE(page1.items(0).overdue());
  EXPECT_EQ(page1.items(0).working_days_left(), -1);
  EXPECT_EQ(page1.items(1).referral().referral_id(), urgent.referral_id());  // same day, urgent
  EXPECT_FALSE(page1.items(1).overdue());
  ASSERT_FALSE(page1.next_page_token().empty());
  request.set_page_token(page1.next_page_token());
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->GetAssessmentWorklist(&context, request, &page2).ok());
  }
  ASSERT_EQ(page2.items_size(), 1);
  EXPECT_EQ(page2.items(0).referral().referral_id(), late.referral_id());

  request.set_page_token("not-a-token");
  grpc::ClientContext context;
  v1::AssessmentWorklistResponse bad;
  grpc::Status status = stub_->GetAssessmentWorklist(&context, request, &bad);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("page_token"));
}

TEST_F(ReferralServerTest, GivenWithdrawnReferral_WhenListedByStatus_ThenInWithdrawnNotReceived) {
  v1::CommandResponse a, b;
  ASSERT_TRUE(Submit(Submission("k-a", kFnr), &a).ok());
  ASSERT_TRUE(Submit(Submission("k-b", kFnr2), &b).ok());
  v1::WithdrawReferralRequest withdraw;
  withdraw.set_idempotency_key("w-1");
  withdraw.set_referral_id(a.referral_id());
  withdraw.set_reason("patient moved");
  {
    grpc::ClientContext context;
    v1::CommandResponse response;
    ASSERT_TRUE(stub_->WithdrawReferral(&context, withdraw, &response).ok());
  }
  auto list = [&](v1::ReferralStatus status) {
    v1::ListReferralsRequest request;
    request.set_unit("ahus-tsb");
    request.set_status(status);
    v1::ListReferralsResponse response;
    grpc::ClientContext context;
    EXPECT_TRUE(stub_->ListReferrals(&context, request, &response).ok());
    std::set<std::string> ids;
    for (const auto& r : response.referrals()) ids.insert(r.referral_id());
    return ids;
  };
  EXPECT_EQ(list(v1::WITHDRAWN), std::set<std::string>{a.referral_id()});
  EXPECT_EQ(list(v1::RECEIVED), std::set<std::string>{b.referral_id()});
}

TEST_F(ReferralServerTest, GivenCommands_ThenEventsOnKafkaWithCloudEventHeadersAndPseudonymousKey) {
  v1::CommandResponse submitted;
  ASSERT_TRUE(Submit(Submission("k-1", kFnr), &submitted).ok());
  v1::AssignCoordinatorRequest assign;
  assign.set_idempotency_key("c-1");
  assign.set_referral_id(submitted.referral_id());
  assign.set_coordinator_id("coord-7");
  {
    grpc::ClientContext context;
    v1::CommandResponse response;
    ASSERT_TRUE(stub_->AssignCoordinator(&context, assign, &response).ok());
  }
  auto records =
      es::testing::ReadTopic(broker_->bootstrap_servers(), kTopic, 3, 2, std::chrono::seconds(20));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].partition, records[1].partition);
  EXPECT_LT(records[0].offset, records[1].offset);
  for (const auto& r : records) {
    EXPECT_EQ(r.key.size(), 32u);
    EXPECT_THAT(r.key, Not(HasSubstr(kFnr)));
    EXPECT_EQ(r.Header("ce_specversion"), "1.0");
    EXPECT_EQ(r.Header("ce_source"), "/pathways/referral");
    EXPECT_EQ(r.Header("ce_subject"), submitted.referral_id());
    EXPECT_EQ(r.Header("content-type"), "application/protobuf");
    EXPECT_FALSE(r.Header("ce_id").empty());
    EXPECT_FALSE(r.Header("ce_time").empty());
  }
  EXPECT_EQ(records[0].Header("ce_type"), "referral.v1.ReferralSubmitted");
  EXPECT_EQ(records[1].Header("ce_type"), "referral.v1.CoordinatorAssigned");
  v1::ReferralEvent event;
  ASSERT_TRUE(event.ParseFromString(records[1].value));
  EXPECT_EQ(event.metadata().stream_version(), 2);
  EXPECT_EQ(event.metadata().actor().subject(), "anonymous");
}

TEST_F(ReferralServerTest, GivenRunningServer_ThenHealthIsServingAndDataSurvivesRestart) {
  {
    auto health = grpc::health::v1::Health::NewStub(channel_);
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    ASSERT_TRUE(health->Check(&context, request, &response).ok());
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  v1::CommandResponse submitted;
  ASSERT_TRUE(Submit(Submission("k-1", kFnr), &submitted).ok());
  server_->Shutdown();
  server_.reset();
  StartServer();
  grpc::ClientContext context;
  v1::GetReferralRequest get;
  get.set_referral_id(submitted.referral_id());
  v1::Referral referral;
  ASSERT_TRUE(stub_->GetReferral(&context, get, &referral).ok());
  EXPECT_EQ(referral.version(), 1);
}

}  // namespace
}  // namespace referral
