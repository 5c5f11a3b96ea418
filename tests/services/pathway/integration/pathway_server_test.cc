// The pathway service end to end in one process: a real gRPC channel, the embedded Kafka broker
// on a free port, RocksDB in a temp directory, the shipped catalogue (catalogue/), and a manual
// clock so that deadlines can be passed without waiting. The referral service runs on the same
// broker for the referral-to-pathway policy.
//
// Cost: every PathwayServer start joins a consumer group (~3-4 s on the mock broker), so the
// gRPC tests share one server (PathwayApiTest, one unit and patient per test); the tests that
// move the clock or restart the server have their own.

#include <grpcpp/grpcpp.h>
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "clinical/catalogue.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "libs/eventing/clock.h"
#include "libs/eventing/proto_time.h"
#include "libs/kafka/embedded_broker.h"
#include "libs/storage/event_store.h"
#include "libs/storage/rocks_db.h"
#include "libs/storage/view_store.h"
#include "pathway/v1/events.pb.h"
#include "pathway/v1/service.grpc.pb.h"
#include "referral/v1/events.pb.h"
#include "referral/v1/service.grpc.pb.h"
#include "services/pathway/app/deadline_timer.h"
#include "services/pathway/app/pathway_service.h"
#include "services/pathway/app/view_rebuilder.h"
#include "services/pathway/domain/pathway_decider.h"
#include "services/pathway/policy/referral_policy.h"
#include "services/pathway/server.h"
#include "services/referral/server.h"
#include "tests/support/eventually.h"
#include "tests/support/kafka_probe.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace pathway {
namespace {

using ::es::testing::Eventually;
using ::es::testing::IsOk;
using ::es::testing::Produce;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

constexpr char kReferralTopic[] = "pathways.referral.events.v1";
constexpr char kPathwayTopic[] = "pathways.pathway.events.v1";
constexpr char kDeadLetterTopic[] = "pathways.deadletter.v1";
constexpr int kPartitions = 3;
// Valid fødselsnummer (check digits verified by clinical_identity_test).
constexpr char kFnr[] = "01019012480";
constexpr char kFnr2[] = "24120012343";
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

absl::Time OsloTime(int y, int m, int d, int hh, int mm) {
  return absl::FromCivil(absl::CivilMinute(y, m, d, hh, mm), Oslo());
}

// Monday 2 March 2026, 09:00 in Oslo: "today" of every test unless it moves the clock.
absl::Time ClockStart() { return OsloTime(2026, 3, 2, 9, 0); }

absl::CivilDay Day(int y, int m, int d) { return absl::CivilDay(y, m, d); }
eventing::v1::Date D(absl::CivilDay day) { return es::ToProtoDate(day); }
absl::CivilDay DayOf(const eventing::v1::Date& d) { return es::FromProtoDate(d); }

// A valid fødselsnummer per n (born 1 Jan 1980 + n days; the first individual number whose
// mod-11 check digits exist), so that every test has patients of its own.
std::string Fnr(int n) {
  const absl::CivilDay birth = absl::CivilDay(1980, 1, 1) + n;
  static constexpr int kW1[] = {3, 7, 6, 1, 8, 9, 4, 5, 2};
  static constexpr int kW2[] = {5, 4, 3, 2, 7, 6, 5, 4, 3, 2};
  for (int individual = 100; individual < 500; ++individual) {
    std::string s = absl::StrFormat("%02d%02d%02d%03d", birth.day(), birth.month(),
                                    static_cast<int>(birth.year() % 100), individual);
    int sum = 0;
    for (int i = 0; i < 9; ++i) sum += (s[i] - '0') * kW1[i];
    int k1 = 11 - sum % 11;
    if (k1 == 11) k1 = 0;
    if (k1 == 10) continue;
    s += static_cast<char>('0' + k1);
    sum = 0;
    for (int i = 0; i < 10; ++i) sum += (s[i] - '0') * kW2[i];
    int k2 = 11 - sum % 11;
    if (k2 == 11) k2 = 0;
    if (k2 == 10) continue;
    s += static_cast<char>('0' + k2);
    return s;
  }
  std::abort();
}

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

const v1::Deadline* FindDeadline(const v1::Pathway& p, const std::string& rule_id) {
  for (const v1::Deadline& d : p.deadlines()) {
    if (d.rule_id() == rule_id) return &d;
  }
  return nullptr;
}

std::vector<const v1::TimelineEntry*> EntriesOf(const v1::Pathway& p, const std::string& what) {
  std::vector<const v1::TimelineEntry*> out;
  for (const v1::TimelineEntry& e : p.timeline()) {
    if (e.what() == what) out.push_back(&e);
  }
  return out;
}

std::vector<std::string> DeadlineIds(
    const google::protobuf::RepeatedPtrField<v1::DeadlineEntry>& e) {
  std::vector<std::string> ids;
  for (const v1::DeadlineEntry& entry : e) ids.push_back(entry.deadline_id());
  return ids;
}

std::string DecisionDeadlineId(const std::string& pathway_id) {
  return absl::StrCat(pathway_id, "/", kDecisionRule, "/1");
}

// Every row of the pathway service's own views, read with ViewStore::Scan page by page.
std::map<std::string, std::string> ReadOwnViews(const es::storage::ViewStore& views) {
  std::map<std::string, std::string> rows;
  for (const std::string& prefix : app::OwnViewPrefixes()) {
    std::string after;
    while (true) {
      absl::StatusOr<std::vector<es::storage::ViewRow>> page = views.Scan(prefix, after, 100);
      EXPECT_THAT(page, IsOk());
      if (!page.ok() || page->empty()) break;
      for (const es::storage::ViewRow& row : *page) {
        EXPECT_EQ(row.key.rfind(prefix, 0), 0u) << row.key;
        rows[row.key] = row.value;
      }
      after = page->back().key;
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// One broker, one pathway server on it, a client.

class Harness {
 public:
  Harness() : clock(ClockStart()) {}
  ~Harness() { StopServer(); }

  absl::Status Init() {
    auto broker = es::kafka::EmbeddedBroker::Start(
        {.topics = {
             {kReferralTopic, kPartitions}, {kPathwayTopic, kPartitions}, {kDeadLetterTopic, 1}}});
    if (!broker.ok()) return broker.status();
    broker_ = std::move(*broker);
    config = Config::ForTest(dir.Sub("pathway"), bootstrap(), CatalogueDir());
    return StartServer();
  }

  // Starts the server and waits (bounded) until it serves.
  absl::Status StartServer() {
    auto server = PathwayServer::Start(config, &clock);
    if (!server.ok()) return server.status();
    server_ = std::move(*server);
    if (!Eventually([&] { return server_->ready(); }, kReadyTimeout)) {
      return absl::DeadlineExceededError("the pathway server did not become ready");
    }
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::PathwayService::NewStub(channel_);
    return absl::OkStatus();
  }

  void StopServer() {
    stub_.reset();
    channel_.reset();
    if (server_ != nullptr) server_->Shutdown();
    server_.reset();
  }

  std::string bootstrap() const { return broker_->bootstrap_servers(); }
  PathwayServer& server() { return *server_; }
  std::shared_ptr<grpc::Channel> channel() { return channel_; }

  template <typename Request, typename Response>
  grpc::Status Call(grpc::Status (v1::PathwayService::Stub::*method)(grpc::ClientContext*,
                                                                     const Request&, Response*),
                    const Request& request, Response* response) {
    grpc::ClientContext context;
    context.AddMetadata("x-actor-id", "coordinator-1");
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return (stub_.get()->*method)(&context, request, response);
  }

  static v1::StartPathwayRequest StartRequest(const std::string& key, const std::string& unit,
                                              const std::string& fnr, absl::CivilDay start,
                                              const std::string& coordinator = "",
                                              std::optional<absl::CivilDay> legal = std::nullopt) {
    v1::StartPathwayRequest r;
    r.set_idempotency_key(key);
    r.set_pathway_type("NO_TSB");
    r.set_unit(unit);
    *r.mutable_patient() = Patient(fnr);
    r.set_setting(catalogue::v1::OUTPATIENT);
    *r.mutable_start_date() = D(start);
    if (legal.has_value()) *r.mutable_legal_deadline() = D(*legal);
    r.set_coordinator_id(coordinator);
    return r;
  }

  grpc::Status Start(const v1::StartPathwayRequest& r, v1::CommandResponse* out) {
    return Call(&v1::PathwayService::Stub::StartPathway, r, out);
  }
  // Starts a pathway with a key of its own; `id` gets its id.
  grpc::Status Start(const std::string& unit, const std::string& fnr, absl::CivilDay start,
                     std::string* id, const std::string& coordinator = "",
                     std::optional<absl::CivilDay> legal = std::nullopt) {
    v1::CommandResponse out;
    grpc::Status s =
        Start(StartRequest(NextKey("start"), unit, fnr, start, coordinator, legal), &out);
    *id = out.pathway_id();
    return s;
  }

  static v1::RecordPointRequest PointRequest(const std::string& key, const std::string& id,
                                             const std::string& point, absl::CivilDay date,
                                             const std::string& outcome = "") {
    v1::RecordPointRequest r;
    r.set_idempotency_key(key);
    r.set_pathway_id(id);
    r.set_point_id(point);
    r.set_outcome(outcome);
    *r.mutable_date() = D(date);
    return r;
  }
  grpc::Status Record(const v1::RecordPointRequest& r, v1::CommandResponse* out) {
    return Call(&v1::PathwayService::Stub::RecordPoint, r, out);
  }
  grpc::Status Record(const std::string& id, const std::string& point, absl::CivilDay date,
                      const std::string& outcome = "") {
    v1::CommandResponse out;
    return Record(PointRequest(NextKey(point), id, point, date, outcome), &out);
  }

  grpc::Status End(const std::string& id, const std::string& reason, absl::CivilDay date) {
    v1::EndPathwayRequest r;
    r.set_idempotency_key(NextKey("end"));
    r.set_pathway_id(id);
    r.set_reason(reason);
    *r.mutable_date() = D(date);
    v1::CommandResponse out;
    return Call(&v1::PathwayService::Stub::EndPathway, r, &out);
  }

  grpc::Status Get(const std::string& id, v1::Pathway* out) {
    v1::GetPathwayRequest r;
    r.set_pathway_id(id);
    return Call(&v1::PathwayService::Stub::GetPathway, r, out);
  }
  v1::Pathway MustGet(const std::string& id) {
    v1::Pathway p;
    grpc::Status s = Get(id, &p);
    EXPECT_TRUE(s.ok()) << id << ": " << s.error_message();
    return p;
  }

  grpc::Status Worklist(const v1::GetWorklistRequest& r, v1::WorklistResponse* out) {
    return Call(&v1::PathwayService::Stub::GetWorklist, r, out);
  }
  grpc::Status Breaches(const std::string& unit, absl::CivilDay from, absl::CivilDay to,
                        v1::ListBreachesResponse* out, int page_size = 0,
                        const std::string& token = "") {
    v1::ListBreachesRequest r;
    r.set_unit(unit);
    *r.mutable_from() = D(from);
    *r.mutable_to() = D(to);
    r.set_page_size(page_size);
    r.set_page_token(token);
    return Call(&v1::PathwayService::Stub::ListBreaches, r, out);
  }
  grpc::Status PatientPathways(const std::string& fnr, v1::ListPatientPathwaysResponse* out) {
    v1::ListPatientPathwaysRequest r;
    *r.mutable_patient() = Patient(fnr);
    return Call(&v1::PathwayService::Stub::ListPatientPathways, r, out);
  }

  std::string NextKey(const std::string& what) { return absl::StrCat(what, "-", ++keys_); }

  es::testing::TempDir dir;
  es::ManualClock clock;
  Config config;

 private:
  std::unique_ptr<es::kafka::EmbeddedBroker> broker_;
  std::unique_ptr<PathwayServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::PathwayService::Stub> stub_;
  int keys_ = 0;
};

// =============================================================================================
// The gRPC API on one shared server (clock fixed at Monday 2 March 2026). Every test has its own
// units and patients, so none depends on another.

class PathwayApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    harness_ = new Harness();
    absl::Status s = harness_->Init();
    if (!s.ok()) {
      init_error_ = new std::string(s.ToString());
    }
  }
  static void TearDownTestSuite() {
    delete harness_;
    harness_ = nullptr;
    delete init_error_;
    init_error_ = nullptr;
  }
  void SetUp() override { ASSERT_EQ(init_error_, nullptr) << *init_error_; }

  Harness& h() { return *harness_; }

  static Harness* harness_;
  static std::string* init_error_;
};
Harness* PathwayApiTest::harness_ = nullptr;
std::string* PathwayApiTest::init_error_ = nullptr;

TEST_F(
    PathwayApiTest,
    GivenStartedOutpatientPathway_WhenFirstAttendanceRecorded_ThenTimelineWithCodesAndDecisionDueIn21Days) {
  v1::CommandResponse started;
  ASSERT_RPC_OK(h().Start(
      Harness::StartRequest("a1-start", "a1-unit", kFnr, Day(2026, 2, 16), "a1-coord"), &started));
  EXPECT_FALSE(started.pathway_id().empty());
  EXPECT_EQ(started.version(), 1);
  EXPECT_FALSE(started.replayed());

  v1::CommandResponse recorded;
  ASSERT_RPC_OK(h().Record(
      Harness::PointRequest("a1-ff", started.pathway_id(), "forste_fremmote", Day(2026, 2, 23)),
      &recorded));
  EXPECT_EQ(recorded.pathway_id(), started.pathway_id());
  EXPECT_EQ(recorded.version(), 2);

  const v1::Pathway p = h().MustGet(started.pathway_id());
  EXPECT_EQ(p.status(), v1::ACTIVE);
  EXPECT_EQ(p.pathway_type(), "NO_TSB");
  EXPECT_EQ(p.rule_version(), "pakkeforlop_2019");
  EXPECT_EQ(p.unit(), "a1-unit");
  EXPECT_EQ(p.coordinator_id(), "a1-coord");
  EXPECT_EQ(p.setting(), catalogue::v1::OUTPATIENT);
  EXPECT_EQ(p.register_type_code(), "D01");
  EXPECT_EQ(p.version(), 2);
  EXPECT_EQ(p.patient_key().size(), 32u);
  EXPECT_THAT(p.patient_key(), Not(HasSubstr(kFnr)));
  ASSERT_EQ(p.timeline_size(), 2);
  EXPECT_EQ(p.timeline(0).what(), "PathwayStarted");
  EXPECT_EQ(p.timeline(0).point_id(), "start");
  EXPECT_EQ(p.timeline(0).kind(), catalogue::v1::START);
  EXPECT_EQ(p.timeline(0).register_code(), "D01");
  EXPECT_EQ(DayOf(p.timeline(0).date()), Day(2026, 2, 16));
  EXPECT_EQ(p.timeline(0).version(), 1);
  EXPECT_EQ(p.timeline(1).what(), "PointRecorded");
  EXPECT_EQ(p.timeline(1).point_id(), "forste_fremmote");
  EXPECT_EQ(p.timeline(1).kind(), catalogue::v1::FIRST_ATTENDANCE);
  // The first attendance's event code is unconfirmed in the catalogue: the type code alone.
  EXPECT_EQ(p.timeline(1).register_code(), "D01");
  EXPECT_EQ(DayOf(p.timeline(1).date()), Day(2026, 2, 23));
  EXPECT_EQ(p.timeline(1).version(), 2);
  EXPECT_FALSE(p.timeline(1).event_id().empty());

  // First attendance -> clinical decision, outpatient: 21 calendar days.
  ASSERT_EQ(p.deadlines_size(), 1);
  const v1::Deadline& d = p.deadlines(0);
  EXPECT_EQ(d.deadline_id(), DecisionDeadlineId(p.pathway_id()));
  EXPECT_EQ(d.rule_id(), kDecisionRule);
  EXPECT_EQ(d.kind(), v1::PATHWAY_RULE);
  EXPECT_EQ(d.from_point(), "forste_fremmote");
  EXPECT_EQ(d.to_point(), "klinisk_beslutning");
  EXPECT_EQ(DayOf(d.opened_on()), Day(2026, 2, 23));
  EXPECT_EQ(DayOf(d.due_date()), Day(2026, 3, 16));
  EXPECT_EQ(d.status(), v1::OPEN);
  EXPECT_FALSE(d.breach_recorded());
  EXPECT_FALSE(d.attributed_to_patient());

  // The clinical decision with its outcome closes it; the register code carries the outcome.
  ASSERT_RPC_OK(h().Record(p.pathway_id(), "klinisk_beslutning", Day(2026, 3, 2), "CT"));
  const v1::Pathway decided = h().MustGet(p.pathway_id());
  ASSERT_EQ(decided.timeline_size(), 3);
  EXPECT_EQ(decided.timeline(2).point_id(), "klinisk_beslutning");
  EXPECT_EQ(decided.timeline(2).outcome(), "CT");
  EXPECT_EQ(decided.timeline(2).register_code(), "D01CT");
  const v1::Deadline* met = FindDeadline(decided, kDecisionRule);
  ASSERT_NE(met, nullptr);
  EXPECT_EQ(met->status(), v1::MET_ON_TIME);
  EXPECT_EQ(DayOf(met->closed_on()), Day(2026, 3, 2));
  // ... and opens decision -> first evaluation (7 days).
  const v1::Deadline* evaluation = FindDeadline(decided, kFirstEvaluationRule);
  ASSERT_NE(evaluation, nullptr);
  EXPECT_EQ(evaluation->status(), v1::OPEN);
  EXPECT_EQ(DayOf(evaluation->due_date()), Day(2026, 3, 9));
}

TEST_F(PathwayApiTest,
       GivenNoFirstAttendance_WhenClinicalDecisionRecorded_ThenFailedPreconditionNamingRule) {
  std::string id;
  ASSERT_RPC_OK(h().Start("a2-unit", Fnr(2), Day(2026, 2, 16), &id));
  grpc::Status s = h().Record(id, "klinisk_beslutning", Day(2026, 2, 20), "CT");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("order rule"));
  EXPECT_THAT(s.error_message(), HasSubstr("klinisk_beslutning"));
  EXPECT_THAT(s.error_message(), HasSubstr("forste_fremmote"));
  // Evaluation needs a clinical decision first.
  s = h().Record(id, "evaluering", Day(2026, 2, 20));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("order rule"));
  const v1::Pathway p = h().MustGet(id);
  EXPECT_EQ(p.version(), 1);
  EXPECT_EQ(p.timeline_size(), 1);
  EXPECT_EQ(p.deadlines_size(), 0);

  // At most twice: a third clinical decision breaks the occurrence rule.
  ASSERT_RPC_OK(h().Record(id, "forste_fremmote", Day(2026, 2, 17)));
  ASSERT_RPC_OK(h().Record(id, "klinisk_beslutning", Day(2026, 2, 18), "CU"));
  ASSERT_RPC_OK(h().Record(id, "klinisk_beslutning", Day(2026, 2, 25), "CT"));
  s = h().Record(id, "klinisk_beslutning", Day(2026, 2, 26), "CT");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("occurrence rule"));
}

TEST_F(PathwayApiTest, GivenBadInput_WhenCommandOrQuerySent_ThenInvalidArgumentNamingField) {
  const std::string fnr = Fnr(3);
  auto start_fails = [&](v1::StartPathwayRequest r, const std::string& field) {
    v1::CommandResponse out;
    grpc::Status s = h().Start(r, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << field << ": " << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(field));
    EXPECT_THAT(s.error_message(), Not(HasSubstr(fnr)));
    EXPECT_THAT(s.error_message(), Not(HasSubstr("01019012481")));
  };
  const v1::StartPathwayRequest good =
      Harness::StartRequest("a3-start", "a3-unit", fnr, Day(2026, 2, 16));
  {
    auto r = good;
    r.set_pathway_type("NO_SUCH_TYPE");
    start_fails(r, "pathway_type");
  }
  {
    auto r = good;
    r.mutable_patient()->set_value("01019012481");  // wrong check digit
    start_fails(r, "patient");
  }
  {
    auto r = good;
    r.clear_start_date();
    start_fails(r, "start_date");
  }
  {
    auto r = good;
    r.mutable_start_date()->set_month(2);
    r.mutable_start_date()->set_day(30);
    start_fails(r, "start_date");
  }
  {
    auto r = good;
    *r.mutable_start_date() = D(Day(2026, 3, 3));  // tomorrow
    start_fails(r, "start_date");
  }
  {
    auto r = good;
    r.set_setting(catalogue::v1::SETTING_UNSPECIFIED);
    start_fails(r, "setting");
  }
  {
    auto r = good;
    r.set_unit("a3/unit");
    start_fails(r, "unit");
  }
  {
    auto r = good;
    *r.mutable_legal_deadline() = D(Day(2026, 2, 1));
    start_fails(r, "legal_deadline");
  }
  {
    auto r = good;
    r.set_idempotency_key("");
    start_fails(r, "idempotency_key");
  }

  std::string id;
  ASSERT_RPC_OK(h().Start("a3-unit", fnr, Day(2026, 2, 16), &id));
  auto record_fails = [&](const v1::RecordPointRequest& r, const std::string& field) {
    v1::CommandResponse out;
    grpc::Status s = h().Record(r, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << field << ": " << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(field));
  };
  record_fails(Harness::PointRequest("a3-p1", id, "no_such_point", Day(2026, 2, 20)), "point_id");
  record_fails(Harness::PointRequest("a3-p2", id, "forste_fremmote", Day(2026, 3, 5)), "date");
  record_fails(Harness::PointRequest("a3-p3", id, "forste_fremmote", Day(2026, 2, 10)), "date");
  record_fails(Harness::PointRequest("a3-p4", id, "forste_fremmote", Day(2026, 2, 20), "CT"),
               "outcome");
  {
    auto r = Harness::PointRequest("a3-p5", id, "forste_fremmote", Day(2026, 2, 20));
    r.clear_date();
    record_fails(r, "date");
  }
  ASSERT_RPC_OK(h().Record(id, "forste_fremmote", Day(2026, 2, 20)));
  record_fails(Harness::PointRequest("a3-p6", id, "klinisk_beslutning", Day(2026, 2, 25), "XX"),
               "outcome");
  record_fails(Harness::PointRequest("a3-p7", id, "klinisk_beslutning", Day(2026, 2, 25)),
               "outcome");
  EXPECT_EQ(h().MustGet(id).version(), 2);

  v1::Pathway unused;
  grpc::Status s = h().Get("no/such", &unused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("pathway_id"));
  s = h().Get("no-such-pathway", &unused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);

  v1::WorklistResponse worklist;
  v1::GetWorklistRequest no_owner;
  s = h().Worklist(no_owner, &worklist);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("unit"));
  v1::GetWorklistRequest bad_token;
  bad_token.set_unit("a3-unit");
  bad_token.set_page_token("not-a-token");
  s = h().Worklist(bad_token, &worklist);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("page_token"));
  v1::GetWorklistRequest bad_size;
  bad_size.set_unit("a3-unit");
  bad_size.set_page_size(501);
  s = h().Worklist(bad_size, &worklist);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("page_size"));
  v1::GetWorklistRequest bad_window;
  bad_window.set_unit("a3-unit");
  *bad_window.mutable_due_from() = D(Day(2026, 3, 10));
  *bad_window.mutable_due_to() = D(Day(2026, 3, 1));
  s = h().Worklist(bad_window, &worklist);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("due_to"));
  v1::GetWorklistRequest bad_within;
  bad_within.set_unit("a3-unit");
  bad_within.set_filter(v1::DUE_WITHIN);
  bad_within.set_within_working_days(-1);
  s = h().Worklist(bad_within, &worklist);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("within_working_days"));

  v1::ListBreachesResponse breaches;
  s = h().Breaches("a3-unit", Day(2026, 3, 1), Day(2026, 2, 1), &breaches);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("to"));
  v1::ListBreachesRequest no_from;
  no_from.set_unit("a3-unit");
  *no_from.mutable_to() = D(Day(2026, 3, 1));
  s = h().Call(&v1::PathwayService::Stub::ListBreaches, no_from, &breaches);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("from"));

  v1::ListPatientPathwaysResponse pathways;
  s = h().PatientPathways("01019012481", &pathways);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("patient"));
  EXPECT_THAT(s.error_message(), Not(HasSubstr("01019012481")));
}

TEST_F(PathwayApiTest,
       GivenActivePathway_WhenSameTypeStartedAtSameUnit_ThenAlreadyExists_ButOtherUnitOrTypeOk) {
  const std::string fnr = kFnr2;
  v1::CommandResponse first;
  ASSERT_RPC_OK(h().Start(Harness::StartRequest("a4-1", "a4-unit", fnr, Day(2026, 2, 16)), &first));

  v1::CommandResponse second;
  grpc::Status s =
      h().Start(Harness::StartRequest("a4-2", "a4-unit", fnr, Day(2026, 2, 20)), &second);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr(first.pathway_id()));
  EXPECT_THAT(s.error_message(), Not(HasSubstr(fnr)));

  v1::CommandResponse other_unit;
  ASSERT_RPC_OK(h().Start(Harness::StartRequest("a4-3", "a4-other-unit", fnr, Day(2026, 2, 20)),
                          &other_unit));
  EXPECT_NE(other_unit.pathway_id(), first.pathway_id());

  auto other_type = Harness::StartRequest("a4-4", "a4-unit", fnr, Day(2026, 2, 20));
  other_type.set_pathway_type("NO_VOKSNE");
  v1::CommandResponse other_type_out;
  ASSERT_RPC_OK(h().Start(other_type, &other_type_out));
  EXPECT_EQ(h().MustGet(other_type_out.pathway_id()).pathway_type(), "NO_VOKSNE");

  // Once the first has ended, a new one of the type may start at the unit.
  ASSERT_RPC_OK(h().End(first.pathway_id(), "gjennomfort", Day(2026, 2, 27)));
  EXPECT_EQ(h().MustGet(first.pathway_id()).status(), v1::ENDED);
  v1::CommandResponse again;
  ASSERT_RPC_OK(h().Start(Harness::StartRequest("a4-5", "a4-unit", fnr, Day(2026, 3, 1)), &again));
  EXPECT_NE(again.pathway_id(), first.pathway_id());
  // ... and then the unit has one active again: a third is refused.
  s = h().Start(Harness::StartRequest("a4-6", "a4-unit", fnr, Day(2026, 3, 2)), &second);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr(again.pathway_id()));
}

TEST_F(PathwayApiTest, GivenAppliedCommands_WhenRetriedWithSameKey_ThenReplayedAndNothingNew) {
  const auto start = Harness::StartRequest("a5-start", "a5-unit", Fnr(5), Day(2026, 2, 16));
  v1::CommandResponse first, retried;
  ASSERT_RPC_OK(h().Start(start, &first));
  ASSERT_RPC_OK(h().Start(start, &retried));
  EXPECT_EQ(retried.pathway_id(), first.pathway_id());
  EXPECT_EQ(retried.version(), 1);
  EXPECT_TRUE(retried.replayed());
  EXPECT_FALSE(first.replayed());

  const auto point =
      Harness::PointRequest("a5-ff", first.pathway_id(), "forste_fremmote", Day(2026, 2, 23));
  v1::CommandResponse recorded, recorded_again;
  ASSERT_RPC_OK(h().Record(point, &recorded));
  ASSERT_RPC_OK(h().Record(point, &recorded_again));
  EXPECT_EQ(recorded.version(), 2);
  EXPECT_FALSE(recorded.replayed());
  EXPECT_EQ(recorded_again.version(), 2);
  EXPECT_TRUE(recorded_again.replayed());
  // Answered from the first result even after the stream moved on.
  ASSERT_RPC_OK(h().Record(first.pathway_id(), "pasientutsatt", Day(2026, 2, 24)));
  ASSERT_RPC_OK(h().Record(point, &recorded_again));
  EXPECT_EQ(recorded_again.version(), 2);
  EXPECT_TRUE(recorded_again.replayed());

  const v1::Pathway p = h().MustGet(first.pathway_id());
  EXPECT_EQ(p.version(), 3);
  EXPECT_EQ(EntriesOf(p, "PointRecorded").size(), 2u);

  // The key reused for a different command is refused.
  auto different = point;
  *different.mutable_date() = D(Day(2026, 2, 25));
  v1::CommandResponse out;
  grpc::Status s = h().Record(different, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("idempotency_key"));

  // A stale expected_version is the client's conflict to see.
  auto stale =
      Harness::PointRequest("a5-stale", first.pathway_id(), "pasientutsatt", Day(2026, 2, 26));
  stale.set_expected_version(2);
  s = h().Record(stale, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("expected_version"));
  stale.set_expected_version(3);
  ASSERT_RPC_OK(h().Record(stale, &out));
  EXPECT_EQ(out.version(), 4);
}

TEST_F(PathwayApiTest, GivenRecordedFirstAttendance_WhenCorrected_ThenDeadlineAndWorklistMove) {
  std::string id;
  ASSERT_RPC_OK(h().Start("a6-unit", Fnr(6), Day(2026, 2, 16), &id));
  ASSERT_RPC_OK(h().Record(id, "forste_fremmote", Day(2026, 2, 23)));
  const v1::Pathway before = h().MustGet(id);
  ASSERT_EQ(before.timeline_size(), 2);
  const std::string recorded_event = before.timeline(1).event_id();

  v1::CorrectPointRequest correct;
  correct.set_idempotency_key("a6-correct");
  correct.set_pathway_id(id);
  correct.set_corrects_event_id(recorded_event);
  *correct.mutable_date() = D(Day(2026, 2, 26));
  v1::CommandResponse out;
  grpc::Status s = h().Call(&v1::PathwayService::Stub::CorrectPoint, correct, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("reason"));
  correct.set_reason("registered on the wrong day");
  ASSERT_RPC_OK(h().Call(&v1::PathwayService::Stub::CorrectPoint, correct, &out));
  EXPECT_EQ(out.version(), 3);

  const v1::Pathway after = h().MustGet(id);
  ASSERT_EQ(after.timeline_size(), 3);
  EXPECT_TRUE(after.timeline(1).superseded());  // the original stays, superseded
  EXPECT_EQ(DayOf(after.timeline(1).date()), Day(2026, 2, 23));
  EXPECT_EQ(after.timeline(2).what(), "PointCorrected");
  EXPECT_EQ(after.timeline(2).corrects_event_id(), recorded_event);
  EXPECT_EQ(after.timeline(2).point_id(), "forste_fremmote");
  EXPECT_EQ(DayOf(after.timeline(2).date()), Day(2026, 2, 26));
  EXPECT_EQ(after.timeline(2).detail(), "registered on the wrong day");
  ASSERT_EQ(after.deadlines_size(), 1);
  EXPECT_EQ(DayOf(after.deadlines(0).opened_on()), Day(2026, 2, 26));
  EXPECT_EQ(DayOf(after.deadlines(0).due_date()), Day(2026, 3, 19));
  EXPECT_EQ(after.deadlines(0).status(), v1::OPEN);

  v1::GetWorklistRequest request;
  request.set_unit("a6-unit");
  v1::WorklistResponse worklist;
  ASSERT_RPC_OK(h().Worklist(request, &worklist));
  ASSERT_EQ(worklist.entries_size(), 1);  // the row moved; the old due date left no row behind
  EXPECT_EQ(DayOf(worklist.entries(0).due_date()), Day(2026, 3, 19));

  // Correcting the superseded original is refused, naming the rule.
  correct.set_idempotency_key("a6-correct-2");
  s = h().Call(&v1::PathwayService::Stub::CorrectPoint, correct, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("correction rule"));
}

TEST_F(PathwayApiTest,
       GivenTwoUnitsSharingCoordinator_WhenWorklistsRead_ThenFilteredByUnitCoordinatorAndDueDate) {
  // Due dates: first attendance + 21 days. Today is Monday 2 March 2026.
  struct Row {
    std::string unit, coordinator;
    absl::CivilDay start, attendance;
  };
  const std::vector<Row> rows = {
      {"a7-north", "a7-coord", Day(2026, 2, 2), Day(2026, 2, 5)},    // A: due 26 Feb (passed)
      {"a7-north", "a7-coord", Day(2026, 2, 16), Day(2026, 2, 17)},  // B: due 10 Mar
      {"a7-south", "a7-coord", Day(2026, 2, 20), Day(2026, 2, 20)},  // C: due 13 Mar
      {"a7-south", "a7-coord", Day(2026, 2, 25), Day(2026, 3, 2)},   // D: due 23 Mar
      {"a7-north", "a7-other", Day(2026, 2, 24), Day(2026, 2, 24)},  // E: due 17 Mar
  };
  std::vector<std::string> ids, deadline;
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string id;
    ASSERT_RPC_OK(h().Start(rows[i].unit, Fnr(70 + static_cast<int>(i)), rows[i].start, &id,
                            rows[i].coordinator));
    ASSERT_RPC_OK(h().Record(id, "forste_fremmote", rows[i].attendance));
    ids.push_back(id);
    deadline.push_back(DecisionDeadlineId(id));
  }
  const std::string &a = deadline[0], &b = deadline[1], &c = deadline[2], &d = deadline[3],
                    &e = deadline[4];
  auto read = [&](v1::GetWorklistRequest r) {
    v1::WorklistResponse response;
    grpc::Status s = h().Worklist(r, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  };
  auto by_unit = [](const std::string& unit, v1::WorklistFilter filter) {
    v1::GetWorklistRequest r;
    r.set_unit(unit);
    r.set_filter(filter);
    return r;
  };
  auto by_coordinator = [](const std::string& coordinator, v1::WorklistFilter filter) {
    v1::GetWorklistRequest r;
    r.set_coordinator_id(coordinator);
    r.set_filter(filter);
    return r;
  };

  // By unit, everything open, in due-date order.
  v1::WorklistResponse north = read(by_unit("a7-north", v1::ALL_OPEN));
  EXPECT_THAT(DeadlineIds(north.entries()), ElementsAre(a, b, e));
  EXPECT_EQ(DayOf(north.today()), Day(2026, 3, 2));
  ASSERT_EQ(north.entries_size(), 3);
  EXPECT_EQ(north.entries(0).pathway_id(), ids[0]);
  EXPECT_EQ(north.entries(0).unit(), "a7-north");
  EXPECT_EQ(north.entries(0).coordinator_id(), "a7-coord");
  EXPECT_EQ(north.entries(0).pathway_type(), "NO_TSB");
  EXPECT_EQ(north.entries(0).rule_id(), kDecisionRule);
  EXPECT_EQ(north.entries(0).status(), v1::OPEN);
  EXPECT_EQ(DayOf(north.entries(0).due_date()), Day(2026, 2, 26));
  EXPECT_EQ(north.entries(0).patient_key().size(), 32u);
  EXPECT_THAT(DeadlineIds(read(by_unit("a7-south", v1::WORKLIST_FILTER_UNSPECIFIED)).entries()),
              ElementsAre(c, d));

  // An ALL_OPEN window, both ends inclusive.
  v1::GetWorklistRequest window = by_unit("a7-north", v1::ALL_OPEN);
  *window.mutable_due_from() = D(Day(2026, 2, 27));
  *window.mutable_due_to() = D(Day(2026, 3, 17));
  EXPECT_THAT(DeadlineIds(read(window).entries()), ElementsAre(b, e));
  *window.mutable_due_to() = D(Day(2026, 3, 16));
  EXPECT_THAT(DeadlineIds(read(window).entries()), ElementsAre(b));
  window.clear_due_from();
  EXPECT_THAT(DeadlineIds(read(window).entries()), ElementsAre(a, b));

  // By coordinator, across both units, not the other coordinator's.
  EXPECT_THAT(DeadlineIds(read(by_coordinator("a7-coord", v1::ALL_OPEN)).entries()),
              ElementsAre(a, b, c, d));
  EXPECT_THAT(DeadlineIds(read(by_coordinator("a7-other", v1::ALL_OPEN)).entries()),
              ElementsAre(e));

  // Due within N working days from today: 6 working days from Monday 2 March is Tuesday 10.
  v1::GetWorklistRequest within = by_coordinator("a7-coord", v1::DUE_WITHIN);
  within.set_within_working_days(6);
  EXPECT_THAT(DeadlineIds(read(within).entries()), ElementsAre(b));
  within.set_within_working_days(5);  // Monday 9 March
  EXPECT_THAT(DeadlineIds(read(within).entries()), ElementsAre());
  within.set_within_working_days(9);  // Friday 13 March
  EXPECT_THAT(DeadlineIds(read(within).entries()), ElementsAre(b, c));
  v1::GetWorklistRequest south_within = by_unit("a7-south", v1::DUE_WITHIN);
  south_within.set_within_working_days(15);  // Monday 23 March
  EXPECT_THAT(DeadlineIds(read(south_within).entries()), ElementsAre(c, d));

  // Breached: open and past the due date.
  EXPECT_THAT(DeadlineIds(read(by_coordinator("a7-coord", v1::BREACHED)).entries()),
              ElementsAre(a));
  EXPECT_THAT(DeadlineIds(read(by_unit("a7-south", v1::BREACHED)).entries()), ElementsAre());
  v1::GetWorklistRequest later = by_unit("a7-north", v1::BREACHED);
  *later.mutable_as_of() = es::ToProtoTimestamp(OsloTime(2026, 3, 11, 8, 0));
  v1::WorklistResponse later_response = read(later);
  EXPECT_THAT(DeadlineIds(later_response.entries()), ElementsAre(a, b));
  EXPECT_EQ(DayOf(later_response.today()), Day(2026, 3, 11));

  // Paging with the cursor.
  v1::GetWorklistRequest paged = by_coordinator("a7-coord", v1::ALL_OPEN);
  paged.set_page_size(3);
  v1::WorklistResponse page1 = read(paged);
  EXPECT_THAT(DeadlineIds(page1.entries()), ElementsAre(a, b, c));
  ASSERT_FALSE(page1.next_page_token().empty());
  paged.set_page_token(page1.next_page_token());
  v1::WorklistResponse page2 = read(paged);
  EXPECT_THAT(DeadlineIds(page2.entries()), ElementsAre(d));
  EXPECT_TRUE(page2.next_page_token().empty());
  // A cursor of one owner is refused for another.
  v1::GetWorklistRequest foreign = by_unit("a7-north", v1::ALL_OPEN);
  foreign.set_page_token(page1.next_page_token());
  v1::WorklistResponse unused;
  grpc::Status s = h().Worklist(foreign, &unused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("page_token"));
  // Exactly full pages: the last full one still has a cursor, then an empty page.
  paged.set_page_size(2);
  paged.clear_page_token();
  page1 = read(paged);
  EXPECT_THAT(DeadlineIds(page1.entries()), ElementsAre(a, b));
  paged.set_page_token(page1.next_page_token());
  page2 = read(paged);
  EXPECT_THAT(DeadlineIds(page2.entries()), ElementsAre(c, d));
  ASSERT_FALSE(page2.next_page_token().empty());
  paged.set_page_token(page2.next_page_token());
  v1::WorklistResponse page3 = read(paged);
  EXPECT_EQ(page3.entries_size(), 0);
  EXPECT_TRUE(page3.next_page_token().empty());

  // A met deadline leaves the worklists.
  ASSERT_RPC_OK(h().Record(ids[1], "klinisk_beslutning", Day(2026, 3, 2), "CT"));
  EXPECT_THAT(DeadlineIds(read(by_unit("a7-north", v1::ALL_OPEN)).entries()),
              ElementsAre(a, absl::StrCat(ids[1], "/", kFirstEvaluationRule, "/1"), e));
}

TEST_F(PathwayApiTest, GivenPassedDeadlines_WhenTimerRuns_ThenBreachesListedByUnitAndPeriod) {
  std::string p1, p2, p3;
  // P1: first attendance 20 Jan -> decision due 10 Feb -> breached on 11 Feb.
  ASSERT_RPC_OK(h().Start("a8-unit", Fnr(80), Day(2026, 1, 19), &p1));
  ASSERT_RPC_OK(h().Record(p1, "forste_fremmote", Day(2026, 1, 20)));
  // P2: legal deadline 20 Feb, never attended -> breached on 21 Feb.
  ASSERT_RPC_OK(h().Start("a8-unit", Fnr(81), Day(2026, 2, 2), &p2, "", Day(2026, 2, 20)));
  // P3: due 13 March: not breached.
  ASSERT_RPC_OK(h().Start("a8-unit", Fnr(82), Day(2026, 2, 20), &p3));
  ASSERT_RPC_OK(h().Record(p3, "forste_fremmote", Day(2026, 2, 20)));

  absl::StatusOr<int> recorded = h().server().timer().RunOnce(h().server().service().Today());
  ASSERT_THAT(recorded, IsOk());
  EXPECT_GE(*recorded, 2);  // other tests' passed deadlines on this server count too

  v1::ListBreachesResponse february;
  ASSERT_RPC_OK(h().Breaches("a8-unit", Day(2026, 2, 1), Day(2026, 2, 28), &february));
  ASSERT_THAT(DeadlineIds(february.entries()),
              ElementsAre(DecisionDeadlineId(p1), absl::StrCat(p2, "/legal")));
  EXPECT_TRUE(february.next_page_token().empty());
  EXPECT_EQ(february.entries(0).pathway_id(), p1);
  EXPECT_TRUE(february.entries(0).breach_recorded());
  EXPECT_EQ(february.entries(0).kind(), v1::PATHWAY_RULE);
  EXPECT_EQ(DayOf(february.entries(0).due_date()), Day(2026, 2, 10));
  EXPECT_EQ(february.entries(1).kind(), v1::LEGAL);
  EXPECT_EQ(february.entries(1).rule_id(), "legal");
  EXPECT_EQ(february.entries(1).status(), v1::OPEN);
  EXPECT_TRUE(february.entries(1).breach_recorded());

  // The period is the breach date (the day after the due date), both ends inclusive.
  v1::ListBreachesResponse late_feb, early_feb, on_the_day;
  ASSERT_RPC_OK(h().Breaches("a8-unit", Day(2026, 2, 12), Day(2026, 2, 28), &late_feb));
  EXPECT_THAT(DeadlineIds(late_feb.entries()), ElementsAre(absl::StrCat(p2, "/legal")));
  ASSERT_RPC_OK(h().Breaches("a8-unit", Day(2026, 2, 1), Day(2026, 2, 10), &early_feb));
  EXPECT_THAT(DeadlineIds(early_feb.entries()), ElementsAre());
  ASSERT_RPC_OK(h().Breaches("a8-unit", Day(2026, 2, 11), Day(2026, 2, 11), &on_the_day));
  EXPECT_THAT(DeadlineIds(on_the_day.entries()), ElementsAre(DecisionDeadlineId(p1)));

  // Paging.
  v1::ListBreachesResponse page1, page2;
  ASSERT_RPC_OK(h().Breaches("a8-unit", Day(2026, 1, 1), Day(2026, 3, 31), &page1, 1));
  EXPECT_THAT(DeadlineIds(page1.entries()), ElementsAre(DecisionDeadlineId(p1)));
  ASSERT_FALSE(page1.next_page_token().empty());
  ASSERT_RPC_OK(h().Breaches("a8-unit", Day(2026, 1, 1), Day(2026, 3, 31), &page2, 1,
                             page1.next_page_token()));
  EXPECT_THAT(DeadlineIds(page2.entries()), ElementsAre(absl::StrCat(p2, "/legal")));

  // The breach is on the pathway's timeline once; the worklist still shows it as breached.
  const v1::Pathway p = h().MustGet(p2);
  auto breached = EntriesOf(p, "DeadlineBreached");
  ASSERT_EQ(breached.size(), 1u);
  EXPECT_EQ(breached[0]->detail(), absl::StrCat(p2, "/legal"));
  EXPECT_EQ(DayOf(breached[0]->date()), Day(2026, 2, 21));
  v1::GetWorklistRequest r;
  r.set_unit("a8-unit");
  r.set_filter(v1::BREACHED);
  v1::WorklistResponse worklist;
  ASSERT_RPC_OK(h().Worklist(r, &worklist));
  EXPECT_THAT(DeadlineIds(worklist.entries()),
              ElementsAre(DecisionDeadlineId(p1), absl::StrCat(p2, "/legal")));
  for (const auto& entry : worklist.entries()) EXPECT_TRUE(entry.breach_recorded());

  // A second run finds nothing new for this unit.
  ASSERT_THAT(h().server().timer().RunOnce(h().server().service().Today()), IsOk());
  EXPECT_EQ(EntriesOf(h().MustGet(p1), "DeadlineBreached").size(), 1u);
  EXPECT_EQ(EntriesOf(h().MustGet(p3), "DeadlineBreached").size(), 0u);
}

TEST_F(PathwayApiTest,
       GivenPatientPostponedInsideSpan_WhenDeadlineBreached_ThenAttributedToPatient) {
  std::string postponed, control;
  // Both: first attendance 2 Feb -> decision due 23 Feb.
  ASSERT_RPC_OK(h().Start("a9-unit", Fnr(90), Day(2026, 1, 26), &postponed));
  ASSERT_RPC_OK(h().Record(postponed, "forste_fremmote", Day(2026, 2, 2)));
  ASSERT_RPC_OK(h().Record(postponed, "pasientutsatt", Day(2026, 2, 10)));  // inside the span
  ASSERT_RPC_OK(h().Start("a9-unit", Fnr(91), Day(2026, 1, 26), &control));
  ASSERT_RPC_OK(h().Record(control, "pasientutsatt", Day(2026, 1, 28)));  // before the span
  ASSERT_RPC_OK(h().Record(control, "forste_fremmote", Day(2026, 2, 2)));

  const v1::Pathway before = h().MustGet(postponed);
  auto postponement = EntriesOf(before, "PointRecorded");
  ASSERT_EQ(postponement.size(), 2u);
  EXPECT_EQ(postponement[1]->kind(), catalogue::v1::PATIENT_POSTPONED);
  EXPECT_EQ(postponement[1]->register_code(), "D01L");
  ASSERT_NE(FindDeadline(before, kDecisionRule), nullptr);
  EXPECT_TRUE(FindDeadline(before, kDecisionRule)->attributed_to_patient());

  ASSERT_THAT(h().server().timer().RunOnce(h().server().service().Today()), IsOk());

  v1::ListBreachesResponse breaches;
  ASSERT_RPC_OK(h().Breaches("a9-unit", Day(2026, 2, 24), Day(2026, 2, 24), &breaches));
  ASSERT_THAT(
      DeadlineIds(breaches.entries()),
      testing::UnorderedElementsAre(DecisionDeadlineId(postponed), DecisionDeadlineId(control)));
  for (const v1::DeadlineEntry& e : breaches.entries()) {
    EXPECT_EQ(e.attributed_to_patient(), e.pathway_id() == postponed) << e.deadline_id();
  }
  const v1::Pathway after = h().MustGet(postponed);
  ASSERT_EQ(EntriesOf(after, "DeadlineBreached").size(), 1u);
  EXPECT_TRUE(FindDeadline(after, kDecisionRule)->breach_recorded());
  EXPECT_TRUE(FindDeadline(after, kDecisionRule)->attributed_to_patient());
  EXPECT_FALSE(FindDeadline(h().MustGet(control), kDecisionRule)->attributed_to_patient());
}

TEST_F(PathwayApiTest, GivenPatientWithPathwaysAtTwoUnits_WhenListed_ThenBothAndOnlyTheirs) {
  const std::string fnr = Fnr(100);
  std::string first, second, someone_else;
  ASSERT_RPC_OK(h().Start("a10-unit-1", fnr, Day(2026, 2, 2), &first));
  ASSERT_RPC_OK(h().Start("a10-unit-2", fnr, Day(2026, 2, 9), &second));
  ASSERT_RPC_OK(h().Record(second, "forste_fremmote", Day(2026, 2, 10)));
  ASSERT_RPC_OK(h().Start("a10-unit-1", Fnr(101), Day(2026, 2, 2), &someone_else));

  v1::ListPatientPathwaysResponse response;
  ASSERT_RPC_OK(h().PatientPathways(fnr, &response));
  std::set<std::string> ids;
  for (const v1::Pathway& p : response.pathways()) {
    ids.insert(p.pathway_id());
    EXPECT_EQ(p.patient().value(), fnr);
    if (p.pathway_id() == second) {
      EXPECT_EQ(p.version(), 2);
      EXPECT_EQ(p.timeline_size(), 2);
    }
  }
  EXPECT_EQ(ids, (std::set<std::string>{first, second}));

  v1::ListPatientPathwaysResponse none;
  ASSERT_RPC_OK(h().PatientPathways(Fnr(102), &none));
  EXPECT_EQ(none.pathways_size(), 0);
}

// KNOWN BUG (reported, not fixed here; run with --gtest_also_run_disabled_tests): a breach is
// indexed by the deadline's *current* due date + 1 (views/pathway_view_rows.cc, RowsOf), not by
// the breached_on its DeadlineBreached event recorded. Correcting the point that opened the
// deadline after the breach moves the recorded breach out of the period it happened in and onto
// a date that has not come yet.
TEST_F(PathwayApiTest,
       GivenRecordedBreach_WhenOpeningPointCorrected_ThenBreachStaysListedOnItsRecordedDate) {
  std::string id;
  ASSERT_RPC_OK(h().Start("a11-unit", Fnr(110), Day(2026, 1, 19), &id));
  ASSERT_RPC_OK(h().Record(id, "forste_fremmote", Day(2026, 1, 20)));  // due 10 Feb
  ASSERT_THAT(h().server().timer().RunOnce(h().server().service().Today()), IsOk());
  v1::ListBreachesResponse february;
  ASSERT_RPC_OK(h().Breaches("a11-unit", Day(2026, 2, 1), Day(2026, 2, 28), &february));
  ASSERT_THAT(DeadlineIds(february.entries()), ElementsAre(DecisionDeadlineId(id)));

  v1::CorrectPointRequest correct;
  correct.set_idempotency_key("a11-correct");
  correct.set_pathway_id(id);
  correct.set_corrects_event_id(h().MustGet(id).timeline(1).event_id());
  *correct.mutable_date() = D(Day(2026, 2, 20));  // due would now be 13 March
  correct.set_reason("registered on the wrong day");
  v1::CommandResponse out;
  ASSERT_RPC_OK(h().Call(&v1::PathwayService::Stub::CorrectPoint, correct, &out));

  // The DeadlineBreached event says 11 February, and it stays in the timeline.
  auto breached = EntriesOf(h().MustGet(id), "DeadlineBreached");
  ASSERT_EQ(breached.size(), 1u);
  EXPECT_EQ(DayOf(breached[0]->date()), Day(2026, 2, 11));
  // Actual: February lists nothing ...
  february.Clear();
  ASSERT_RPC_OK(h().Breaches("a11-unit", Day(2026, 2, 1), Day(2026, 2, 28), &february));
  EXPECT_THAT(DeadlineIds(february.entries()), ElementsAre(DecisionDeadlineId(id)));
  // ... and the breach is listed on 14 March, after today (2 March).
  v1::ListBreachesResponse future;
  ASSERT_RPC_OK(h().Breaches("a11-unit", Day(2026, 3, 3), Day(2026, 12, 31), &future));
  EXPECT_THAT(DeadlineIds(future.entries()), ElementsAre());
}

// SUSPECTED BUG (reported, not fixed here; run with --gtest_also_run_disabled_tests): RecordPoint
// enforces the catalogue's order rule (klinisk_beslutning requires forste_fremmote first), but
// CorrectPoint does not re-check it (domain/pathway_decider.cc, CorrectPoint branch). Moving the
// first attendance after the clinical decision is accepted; the effective timeline then breaks
// the order rule and the attendance -> decision deadline re-opens although a decision exists.
TEST_F(
    PathwayApiTest,
    GivenClinicalDecision_WhenFirstAttendanceCorrectedToAfterIt_ThenFailedPreconditionNamingRule) {
  std::string id;
  ASSERT_RPC_OK(h().Start("a13-unit", Fnr(130), Day(2026, 2, 2), &id));
  ASSERT_RPC_OK(h().Record(id, "forste_fremmote", Day(2026, 2, 17)));
  ASSERT_RPC_OK(h().Record(id, "klinisk_beslutning", Day(2026, 2, 20), "CT"));
  v1::CorrectPointRequest correct;
  correct.set_idempotency_key("a13-correct");
  correct.set_pathway_id(id);
  correct.set_corrects_event_id(h().MustGet(id).timeline(1).event_id());
  *correct.mutable_date() = D(Day(2026, 2, 25));  // after the decision of 20 Feb
  correct.set_reason("registered on the wrong day");
  v1::CommandResponse out;
  grpc::Status s = h().Call(&v1::PathwayService::Stub::CorrectPoint, correct, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("order rule"));
  // Actual: accepted, and the met deadline is open again (due 18 March).
  const v1::Deadline* decision = FindDeadline(h().MustGet(id), kDecisionRule);
  ASSERT_NE(decision, nullptr);
  EXPECT_EQ(decision->status(), v1::MET_ON_TIME);
}

TEST_F(PathwayApiTest,
       GivenOpenDeadline_WhenCoordinatorReassignedAndPathwayTransferred_ThenWorklistsFollow) {
  std::string id;
  ASSERT_RPC_OK(h().Start("a12-unit", Fnr(120), Day(2026, 2, 16), &id, "a12-coord-1"));
  ASSERT_RPC_OK(h().Record(id, "forste_fremmote", Day(2026, 2, 23)));
  auto by_coordinator = [&](const std::string& coordinator) {
    v1::GetWorklistRequest r;
    r.set_coordinator_id(coordinator);
    v1::WorklistResponse response;
    EXPECT_TRUE(h().Worklist(r, &response).ok());
    return DeadlineIds(response.entries());
  };
  auto by_unit = [&](const std::string& unit) {
    v1::GetWorklistRequest r;
    r.set_unit(unit);
    v1::WorklistResponse response;
    EXPECT_TRUE(h().Worklist(r, &response).ok());
    return DeadlineIds(response.entries());
  };
  EXPECT_THAT(by_coordinator("a12-coord-1"), ElementsAre(DecisionDeadlineId(id)));

  v1::AssignPathwayCoordinatorRequest assign;
  assign.set_idempotency_key("a12-assign");
  assign.set_pathway_id(id);
  assign.set_coordinator_id("a12-coord-2");
  v1::CommandResponse out;
  ASSERT_RPC_OK(h().Call(&v1::PathwayService::Stub::AssignCoordinator, assign, &out));
  EXPECT_THAT(by_coordinator("a12-coord-1"), ElementsAre());
  EXPECT_THAT(by_coordinator("a12-coord-2"), ElementsAre(DecisionDeadlineId(id)));
  EXPECT_EQ(h().MustGet(id).coordinator_id(), "a12-coord-2");

  v1::TransferPathwayRequest transfer;
  transfer.set_idempotency_key("a12-transfer");
  transfer.set_pathway_id(id);
  transfer.set_to_unit("a12-other-unit");
  *transfer.mutable_date() = D(Day(2026, 3, 1));
  ASSERT_RPC_OK(h().Call(&v1::PathwayService::Stub::TransferPathway, transfer, &out));
  const v1::Pathway p = h().MustGet(id);
  EXPECT_EQ(p.status(), v1::TRANSFERRED);
  EXPECT_EQ(p.transferred_to(), "a12-other-unit");
  EXPECT_EQ(FindDeadline(p, kDecisionRule)->status(), v1::CANCELLED);
  EXPECT_THAT(by_unit("a12-unit"), ElementsAre());
  EXPECT_THAT(by_coordinator("a12-coord-2"), ElementsAre());
  // No longer active at the unit: a new pathway of the type may start there.
  std::string again;
  ASSERT_RPC_OK(h().Start("a12-unit", Fnr(120), Day(2026, 3, 2), &again));
  // Nothing more can be recorded on the transferred one.
  grpc::Status s = h().Record(id, "klinisk_beslutning", Day(2026, 3, 2), "CT");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
}

TEST_F(PathwayApiTest, GivenReadyServer_ThenHealthServingForTheService) {
  auto health = grpc::health::v1::Health::NewStub(h().channel());
  for (const std::string service : {"", "pathway.v1.PathwayService"}) {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    ASSERT_TRUE(health->Check(&context, request, &response).ok()) << service;
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING) << service;
  }
}

// =============================================================================================
// Moving the clock, restarting, rebuilding: a server of their own.

class PathwayTimeTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_THAT(h_.Init(), IsOk()); }
  Harness h_;
};

TEST_F(
    PathwayTimeTest,
    GivenDeadlines_WhenClockPassesThemAndTimerRuns_ThenEachBreachRecordedOnceAcrossRunsAndRestart) {
  std::string p1, p2, p3, p4, p5;
  // P1: decision due 16 March.
  ASSERT_RPC_OK(h_.Start("t-unit", Fnr(200), Day(2026, 2, 16), &p1, "t-coord"));
  ASSERT_RPC_OK(h_.Record(p1, "forste_fremmote", Day(2026, 2, 23)));
  // P2: legal deadline 20 March, not attended.
  ASSERT_RPC_OK(h_.Start("t-unit", Fnr(201), Day(2026, 2, 20), &p2, "", Day(2026, 3, 20)));
  // P3: legal deadline met, decision met; first evaluation due 5 March, patient postponed
  // inside its span.
  ASSERT_RPC_OK(h_.Start("t-unit", Fnr(202), Day(2026, 2, 2), &p3, "", Day(2026, 3, 25)));
  ASSERT_RPC_OK(h_.Record(p3, "forste_fremmote", Day(2026, 2, 9)));
  ASSERT_RPC_OK(h_.Record(p3, "klinisk_beslutning", Day(2026, 2, 26), "CT"));
  ASSERT_RPC_OK(h_.Record(p3, "pasientutsatt", Day(2026, 3, 1)));
  // P4: every deadline met except evaluation -> evaluation, due 9 April (not passed).
  ASSERT_RPC_OK(h_.Start("t-unit", Fnr(203), Day(2026, 2, 2), &p4));
  ASSERT_RPC_OK(h_.Record(p4, "forste_fremmote", Day(2026, 2, 3)));
  ASSERT_RPC_OK(h_.Record(p4, "klinisk_beslutning", Day(2026, 2, 10), "CT"));
  ASSERT_RPC_OK(h_.Record(p4, "evaluering", Day(2026, 2, 12)));
  // P5: ended before its deadline passed: cancelled, never breached.
  ASSERT_RPC_OK(h_.Start("t-unit", Fnr(204), Day(2026, 2, 2), &p5));
  ASSERT_RPC_OK(h_.Record(p5, "forste_fremmote", Day(2026, 2, 3)));
  ASSERT_RPC_OK(h_.End(p5, "gjennomfort", Day(2026, 2, 5)));

  app::DeadlineTimer& timer = h_.server().timer();
  absl::StatusOr<int> recorded = timer.RunOnce(h_.server().service().Today());
  ASSERT_THAT(recorded, IsOk());
  EXPECT_EQ(*recorded, 0);  // nothing has passed yet

  h_.clock.Advance(absl::Hours(24 * 31));
  const absl::CivilDay today = h_.server().service().Today();
  ASSERT_EQ(today, Day(2026, 4, 2));
  recorded = timer.RunOnce(today);
  ASSERT_THAT(recorded, IsOk());
  EXPECT_EQ(*recorded, 3);

  const std::map<std::string, std::string> expected_breaches = {
      {p1, DecisionDeadlineId(p1)},
      {p2, absl::StrCat(p2, "/legal")},
      {p3, absl::StrCat(p3, "/", kFirstEvaluationRule, "/1")}};
  auto check_timelines = [&] {
    for (const std::string& id : {p1, p2, p3, p4, p5}) {
      const v1::Pathway p = h_.MustGet(id);
      auto breaches = EntriesOf(p, "DeadlineBreached");
      auto it = expected_breaches.find(id);
      if (it == expected_breaches.end()) {
        EXPECT_EQ(breaches.size(), 0u) << id;
        continue;
      }
      ASSERT_EQ(breaches.size(), 1u) << id;
      EXPECT_EQ(breaches[0]->detail(), it->second);
      int recorded_deadlines = 0;
      for (const v1::Deadline& d : p.deadlines()) {
        recorded_deadlines += d.breach_recorded() ? 1 : 0;
        if (d.deadline_id() == it->second) {
          EXPECT_TRUE(d.breach_recorded()) << d.deadline_id();
          EXPECT_EQ(d.attributed_to_patient(), id == p3) << d.deadline_id();
        }
      }
      EXPECT_EQ(recorded_deadlines, 1) << id;
    }
  };
  check_timelines();
  EXPECT_EQ(FindDeadline(h_.MustGet(p5), kDecisionRule)->status(), v1::CANCELLED);
  EXPECT_EQ(FindDeadline(h_.MustGet(p3), "legal")->status(), v1::MET_ON_TIME);

  recorded = timer.RunOnce(today);
  ASSERT_THAT(recorded, IsOk());
  EXPECT_EQ(*recorded, 0);

  // Restart on the same data directory and clock: still nothing new.
  h_.StopServer();
  ASSERT_THAT(h_.StartServer(), IsOk());
  recorded = h_.server().timer().RunOnce(h_.server().service().Today());
  ASSERT_THAT(recorded, IsOk());
  EXPECT_EQ(*recorded, 0);
  check_timelines();
  v1::ListBreachesResponse listed;
  ASSERT_RPC_OK(h_.Breaches("t-unit", Day(2026, 1, 1), Day(2026, 12, 31), &listed));
  EXPECT_EQ(listed.entries_size(), 3);

  // On Kafka: every event of the five pathways once, one DeadlineBreached per deadline.
  size_t total = 0;
  for (const std::string& id : {p1, p2, p3, p4, p5}) total += h_.MustGet(id).version();
  ASSERT_EQ(total, 17u);
  std::vector<es::testing::ProbedRecord> records = es::testing::ReadTopic(
      h_.bootstrap(), kPathwayTopic, kPartitions, total, std::chrono::seconds(20));
  ASSERT_EQ(records.size(), total);
  std::map<std::string, std::string> breached_on_kafka;  // pathway id -> deadline id
  std::set<std::string> event_ids;
  for (const es::testing::ProbedRecord& r : records) {
    EXPECT_TRUE(event_ids.insert(r.Header("ce_id")).second) << "duplicate " << r.Header("ce_id");
    EXPECT_EQ(r.Header("ce_source"), "/pathways/pathway");
    EXPECT_THAT(r.Header("ce_type"), testing::StartsWith("pathway.v1."));
    v1::PathwayEvent event;
    ASSERT_TRUE(event.ParseFromString(r.value));
    EXPECT_EQ(event.metadata().stream_id(), r.Header("ce_subject"));
    if (r.Header("ce_type") != "pathway.v1.DeadlineBreached") {
      EXPECT_FALSE(event.has_deadline_breached());
      continue;
    }
    ASSERT_TRUE(event.has_deadline_breached());
    const v1::DeadlineBreached& b = event.deadline_breached();
    EXPECT_TRUE(breached_on_kafka.emplace(r.Header("ce_subject"), b.deadline_id()).second)
        << "second breach event for " << r.Header("ce_subject");
    EXPECT_EQ(b.attributed_to_patient(), r.Header("ce_subject") == p3);
    EXPECT_EQ(DayOf(b.breached_on()), DayOf(b.due_date()) + 1);
    EXPECT_EQ(event.metadata().actor().subject(), "deadline-timer");
  }
  EXPECT_EQ(breached_on_kafka, expected_breaches);
  // Nothing beyond those (bounded wait for a record that must not come).
  EXPECT_THAT(es::testing::ReadTopic(h_.bootstrap(), kPathwayTopic, kPartitions, total + 1,
                                     std::chrono::seconds(2)),
              SizeIs(total));
}

TEST_F(PathwayTimeTest, GivenMixedHistory_WhenOwnViewsRebuiltFromEvents_ThenByteIdentical) {
  std::string a, b, c, d, f;
  // A: legal deadline met, decision (CU), patient postponed, first evaluation due 27 Feb.
  ASSERT_RPC_OK(h_.Start("rb-1", Fnr(300), Day(2026, 2, 2), &a, "rb-coord", Day(2026, 2, 20)));
  ASSERT_RPC_OK(h_.Record(a, "forste_fremmote", Day(2026, 2, 9)));
  ASSERT_RPC_OK(h_.Record(a, "klinisk_beslutning", Day(2026, 2, 20), "CU"));
  ASSERT_RPC_OK(h_.Record(a, "pasientutsatt", Day(2026, 2, 22)));
  // B: first attendance corrected, appointment, coordinator assigned later: due 5 March.
  ASSERT_RPC_OK(h_.Start("rb-1", Fnr(301), Day(2026, 2, 10), &b));
  ASSERT_RPC_OK(h_.Record(b, "forste_fremmote", Day(2026, 2, 11)));
  {
    v1::CorrectPointRequest correct;
    correct.set_idempotency_key("rb-correct");
    correct.set_pathway_id(b);
    correct.set_corrects_event_id(h_.MustGet(b).timeline(1).event_id());
    *correct.mutable_date() = D(Day(2026, 2, 12));
    correct.set_reason("wrong day");
    v1::CommandResponse out;
    ASSERT_RPC_OK(h_.Call(&v1::PathwayService::Stub::CorrectPoint, correct, &out));
    v1::ScheduleAppointmentRequest appointment;
    appointment.set_idempotency_key("rb-appointment");
    appointment.set_pathway_id(b);
    appointment.set_appointment_id("appt-1");
    *appointment.mutable_at() = es::ToProtoTimestamp(OsloTime(2026, 2, 27, 10, 0));
    appointment.set_kind("treatment");
    ASSERT_RPC_OK(h_.Call(&v1::PathwayService::Stub::ScheduleAppointment, appointment, &out));
    v1::RecordAttendanceRequest attendance;
    attendance.set_idempotency_key("rb-attendance");
    attendance.set_pathway_id(b);
    attendance.set_appointment_id("appt-1");
    attendance.set_attended(false);
    ASSERT_RPC_OK(h_.Call(&v1::PathwayService::Stub::RecordAttendance, attendance, &out));
    v1::AssignPathwayCoordinatorRequest assign;
    assign.set_idempotency_key("rb-assign");
    assign.set_pathway_id(b);
    assign.set_coordinator_id("rb-coord-2");
    ASSERT_RPC_OK(h_.Call(&v1::PathwayService::Stub::AssignCoordinator, assign, &out));
  }
  // C: transferred: its deadline cancelled, no longer active.
  ASSERT_RPC_OK(h_.Start("rb-2", Fnr(302), Day(2026, 2, 3), &c, "rb-coord"));
  ASSERT_RPC_OK(h_.Record(c, "forste_fremmote", Day(2026, 2, 4)));
  {
    v1::TransferPathwayRequest transfer;
    transfer.set_idempotency_key("rb-transfer");
    transfer.set_pathway_id(c);
    transfer.set_to_unit("rb-3");
    *transfer.mutable_date() = D(Day(2026, 2, 10));
    v1::CommandResponse out;
    ASSERT_RPC_OK(h_.Call(&v1::PathwayService::Stub::TransferPathway, transfer, &out));
  }
  // D: inpatient, decision due 12 Feb: breached now, ended afterwards.
  {
    auto start = Harness::StartRequest("rb-start-d", "rb-2", Fnr(303), Day(2026, 2, 5));
    start.set_setting(catalogue::v1::INPATIENT);
    v1::CommandResponse out;
    ASSERT_RPC_OK(h_.Start(start, &out));
    d = out.pathway_id();
  }
  ASSERT_RPC_OK(h_.Record(d, "forste_fremmote", Day(2026, 2, 5)));
  absl::StatusOr<int> recorded = h_.server().timer().RunOnce(h_.server().service().Today());
  ASSERT_THAT(recorded, IsOk());
  EXPECT_EQ(*recorded, 2);  // A's first evaluation (27 Feb), D's decision (12 Feb)
  ASSERT_RPC_OK(h_.End(d, "annen_arsak", Day(2026, 2, 20)));
  // Ten days on: B's decision (5 March) passes; F, started then, stays open.
  h_.clock.Advance(absl::Hours(24 * 10));
  ASSERT_RPC_OK(h_.Start("rb-1", Fnr(304), Day(2026, 3, 10), &f, "rb-coord"));
  ASSERT_RPC_OK(h_.Record(f, "forste_fremmote", Day(2026, 3, 10)));
  recorded = h_.server().timer().RunOnce(h_.server().service().Today());
  ASSERT_THAT(recorded, IsOk());
  EXPECT_EQ(*recorded, 1);

  const std::string data_dir = h_.config.service.data_dir;
  h_.StopServer();

  absl::StatusOr<std::unique_ptr<es::storage::RocksDb>> db =
      es::storage::RocksDb::Open({.path = data_dir});
  ASSERT_THAT(db, IsOk());
  es::storage::ViewStore views(**db);
  const std::map<std::string, std::string> written = ReadOwnViews(views);
  // The comparison means something only if every kind of row is there.
  for (const std::string& prefix : app::OwnViewPrefixes()) {
    size_t n = 0;
    for (const auto& [key, value] : written) n += key.rfind(prefix, 0) == 0 ? 1 : 0;
    EXPECT_GT(n, 0u) << "no rows under " << prefix;
  }
  // Damage the views: a stray row, a lost row. The rebuild must not care.
  ASSERT_THAT(views.Apply({{"wu/stray/20260101/x", std::string("junk")},
                           {written.begin()->first, std::nullopt}}),
              IsOk());
  ASSERT_NE(ReadOwnViews(views), written);

  absl::StatusOr<clinical::PathwayCatalogue> catalogue =
      clinical::PathwayCatalogue::LoadDirectories({CatalogueDir()});
  ASSERT_THAT(catalogue, IsOk());
  domain::PathwayDecider decider(*catalogue);
  {
    es::storage::EventStore store(**db);
    absl::StatusOr<app::RebuildStats> stats = app::RebuildOwnViews(store, views, decider);
    ASSERT_THAT(stats, IsOk());
    EXPECT_EQ(stats->streams, 5u);
    EXPECT_EQ(stats->rows, written.size());
    store.Shutdown();
  }
  const std::map<std::string, std::string> rebuilt = ReadOwnViews(views);
  EXPECT_EQ(rebuilt.size(), written.size());
  for (const auto& [key, value] : written) {
    auto it = rebuilt.find(key);
    if (it == rebuilt.end()) {
      ADD_FAILURE() << "missing after rebuild: " << key;
    } else if (it->second != value) {
      ADD_FAILURE() << "value differs after rebuild: " << key;
    }
  }
  for (const auto& [key, value] : rebuilt) {
    if (!written.count(key)) ADD_FAILURE() << "extra after rebuild: " << key;
  }
  EXPECT_TRUE(rebuilt == written);
}

// =============================================================================================
// The referral-to-pathway policy across Kafka: the referral service on the same broker.

class ReferralPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_THAT(h_.Init(), IsOk());
    auto referral = referral::ReferralServer::Start(
        referral::Config::ForTest(h_.dir.Sub("referral"), h_.bootstrap()), &h_.clock);
    ASSERT_THAT(referral, IsOk());
    referral_ = std::move(*referral);
    referral_stub_ = referral::v1::ReferralService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", referral_->port()), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    referral_stub_.reset();
    if (referral_ != nullptr) referral_->Shutdown();
  }

  // Submits a referral received on 20 Feb and assesses it on 25 Feb with a right to care on the
  // NO_TSB pathway and legal deadline 15 April. Returns the referral id.
  std::string SubmitAndAssess(const std::string& key, const std::string& fnr,
                              const std::string& unit) {
    referral::v1::SubmitReferralRequest submit;
    submit.set_idempotency_key(key);
    *submit.mutable_patient() = Patient(fnr);
    submit.mutable_referrer()->set_name("Dr. Fastlege");
    submit.set_receiving_unit(unit);
    *submit.mutable_received_at() = es::ToProtoTimestamp(OsloTime(2026, 2, 20, 9, 0));
    submit.set_reason("Alkoholavhengighet");
    submit.set_priority(referral::v1::PRIORITY_ORDINARY);
    referral::v1::CommandResponse submitted;
    {
      grpc::ClientContext context;
      grpc::Status s = referral_stub_->SubmitReferral(&context, submit, &submitted);
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    referral::v1::AssessReferralRequest assess;
    assess.set_idempotency_key(key + "-assess");
    assess.set_referral_id(submitted.referral_id());
    auto* right = assess.mutable_assessment()->mutable_right_to_care();
    right->set_pathway_type("NO_TSB");
    *right->mutable_legal_deadline() = D(Day(2026, 4, 15));
    *assess.mutable_assessment()->mutable_assessed_at() =
        es::ToProtoTimestamp(OsloTime(2026, 2, 25, 10, 0));
    referral::v1::CommandResponse assessed;
    grpc::ClientContext context;
    grpc::Status s = referral_stub_->AssessReferral(&context, assess, &assessed);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return submitted.referral_id();
  }

  std::vector<v1::Pathway> PathwaysOf(const std::string& fnr) {
    v1::ListPatientPathwaysResponse response;
    grpc::Status s = h_.PatientPathways(fnr, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {response.pathways().begin(), response.pathways().end()};
  }

  Harness h_;
  std::unique_ptr<referral::ReferralServer> referral_;
  std::unique_ptr<referral::v1::ReferralService::Stub> referral_stub_;
};

TEST_F(
    ReferralPolicyTest,
    GivenAssessedReferral_WhenEventsConsumedAndDeliveredAgain_ThenExactlyOnePathwayWithLegalDeadline) {
  const std::string fnr = Fnr(400);
  const std::string referral_id = SubmitAndAssess("pol-1", fnr, "ahus-tsb");
  ASSERT_FALSE(referral_id.empty());
  ASSERT_TRUE(Eventually([&] { return !PathwaysOf(fnr).empty(); }))
      << "no pathway was started for the referral";
  std::vector<v1::Pathway> pathways = PathwaysOf(fnr);
  ASSERT_EQ(pathways.size(), 1u);
  const v1::Pathway started = pathways[0];
  EXPECT_EQ(started.pathway_id(), policy::ReferralPolicy::PathwayIdFor(referral_id));
  EXPECT_EQ(started.referral_id(), referral_id);
  EXPECT_EQ(started.unit(), "ahus-tsb");
  EXPECT_EQ(started.pathway_type(), "NO_TSB");
  EXPECT_EQ(started.setting(), catalogue::v1::OUTPATIENT);
  EXPECT_EQ(DayOf(started.start_date()), Day(2026, 2, 25));  // assessed, the default rule
  EXPECT_EQ(started.version(), 1);
  const v1::Deadline* legal = FindDeadline(started, "legal");
  ASSERT_NE(legal, nullptr);
  EXPECT_EQ(legal->kind(), v1::LEGAL);
  EXPECT_EQ(DayOf(legal->due_date()), Day(2026, 4, 15));
  EXPECT_EQ(legal->status(), v1::OPEN);
  EXPECT_EQ(legal->to_point(), "forste_fremmote");

  // Deliver the referral's events again, byte for byte, to the same partition.
  std::vector<es::testing::ProbedRecord> records = es::testing::ReadTopic(
      h_.bootstrap(), kReferralTopic, kPartitions, 2, std::chrono::seconds(20));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].Header("ce_type"), "referral.v1.ReferralSubmitted");
  EXPECT_EQ(records[1].Header("ce_type"), "referral.v1.ReferralAssessed");
  ASSERT_THAT(Produce(h_.bootstrap(), kReferralTopic, records), IsOk());
  // A later referral of the same patient (same key, so the same partition, behind the copies)
  // at another unit: once its pathway exists, the copies have been consumed.
  const std::string marker = SubmitAndAssess("pol-2", fnr, "ahus-tsb-2");
  ASSERT_TRUE(Eventually([&] { return PathwaysOf(fnr).size() >= 2; }))
      << "the later referral started no pathway";
  // The premise: the later referral's records sit behind the copies on the same partition.
  std::vector<es::testing::ProbedRecord> all = es::testing::ReadTopic(
      h_.bootstrap(), kReferralTopic, kPartitions, 6, std::chrono::seconds(20));
  ASSERT_EQ(all.size(), 6u);
  for (const es::testing::ProbedRecord& r : all) {
    EXPECT_EQ(r.partition, records[0].partition);
    EXPECT_EQ(r.Header("ce_subject"), r.offset < 4 ? referral_id : marker) << r.offset;
  }

  pathways = PathwaysOf(fnr);
  ASSERT_EQ(pathways.size(), 2u);
  int at_first_unit = 0;
  for (const v1::Pathway& p : pathways) {
    if (p.unit() != "ahus-tsb") {
      EXPECT_EQ(p.referral_id(), marker);
      continue;
    }
    ++at_first_unit;
    EXPECT_EQ(p.pathway_id(), started.pathway_id());
    EXPECT_EQ(p.version(), started.version());  // the stream did not move
    EXPECT_EQ(p.timeline_size(), 1);
  }
  EXPECT_EQ(at_first_unit, 1);
}

TEST_F(ReferralPolicyTest,
       GivenStartedPathway_WhenAssessmentCorrectedWithNewLegalDeadline_ThenLegalDeadlineFollows) {
  const std::string fnr = Fnr(402);
  const std::string referral_id = SubmitAndAssess("pol-legal", fnr, "ahus-tsb");
  ASSERT_TRUE(Eventually([&] { return !PathwaysOf(fnr).empty(); })) << "no pathway started";

  referral::v1::CorrectAssessmentRequest correct;
  correct.set_idempotency_key("pol-legal-correct");
  correct.set_referral_id(referral_id);
  correct.set_reason("Frist feilregistrert");
  auto* right = correct.mutable_assessment()->mutable_right_to_care();
  right->set_pathway_type("NO_TSB");
  *right->mutable_legal_deadline() = D(Day(2026, 5, 6));
  *correct.mutable_assessment()->mutable_assessed_at() =
      es::ToProtoTimestamp(OsloTime(2026, 2, 25, 10, 0));
  referral::v1::CommandResponse corrected;
  grpc::ClientContext context;
  grpc::Status s = referral_stub_->CorrectAssessment(&context, correct, &corrected);
  ASSERT_TRUE(s.ok()) << s.error_message();

  auto legal_due = [&]() -> std::optional<absl::CivilDay> {
    std::vector<v1::Pathway> pathways = PathwaysOf(fnr);
    if (pathways.size() != 1) return std::nullopt;
    const v1::Deadline* legal = FindDeadline(pathways[0], "legal");
    if (legal == nullptr) return std::nullopt;
    return DayOf(legal->due_date());
  };
  ASSERT_TRUE(Eventually([&] { return legal_due() == Day(2026, 5, 6); }))
      << "the legal deadline did not follow the corrected assessment";
  const v1::Pathway pathway = PathwaysOf(fnr)[0];
  EXPECT_EQ(pathway.version(), 2);  // started, then the one change
  EXPECT_EQ(pathway.timeline(1).what(), "LegalDeadlineChanged");
  EXPECT_THAT(pathway.timeline(1).detail(), HasSubstr("Frist feilregistrert"));
}

TEST_F(ReferralPolicyTest,
       GivenStartedPathway_WhenCorrectedToNoRightOrToBeforeStart_ThenDeadlineDroppedNothingDead) {
  const std::string fnr = Fnr(403);
  const std::string referral_id = SubmitAndAssess("pol-noright", fnr, "ahus-tsb");
  ASSERT_TRUE(Eventually([&] { return !PathwaysOf(fnr).empty(); })) << "no pathway started";

  auto correct = [&](const std::string& key, const referral::v1::Assessment& assessment) {
    referral::v1::CorrectAssessmentRequest request;
    request.set_idempotency_key(key);
    request.set_referral_id(referral_id);
    request.set_reason("Vurdering korrigert");
    *request.mutable_assessment() = assessment;
    referral::v1::CommandResponse response;
    grpc::ClientContext context;
    grpc::Status s = referral_stub_->CorrectAssessment(&context, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
  };
  // First a legal deadline before the pathway's start (25 Feb): not applicable to the pathway,
  // and not a reason to dead-letter the referral event.
  referral::v1::Assessment early;
  early.mutable_right_to_care()->set_pathway_type("NO_TSB");
  *early.mutable_right_to_care()->mutable_legal_deadline() = D(Day(2026, 2, 24));
  *early.mutable_assessed_at() = es::ToProtoTimestamp(OsloTime(2026, 2, 25, 10, 0));
  correct("pol-noright-early", early);
  // Then no right to care at all: the pathway keeps no legal deadline.
  referral::v1::Assessment none;
  none.mutable_no_right()->set_reason("Ikke rett til nødvendig helsehjelp");
  *none.mutable_assessed_at() = es::ToProtoTimestamp(OsloTime(2026, 2, 26, 10, 0));
  correct("pol-noright-none", none);

  ASSERT_TRUE(Eventually([&] {
    std::vector<v1::Pathway> pathways = PathwaysOf(fnr);
    return pathways.size() == 1 && FindDeadline(pathways[0], "legal") == nullptr;
  })) << "the legal deadline was not dropped after the correction to no right";
  const v1::Pathway pathway = PathwaysOf(fnr)[0];
  EXPECT_EQ(pathway.version(), 2);  // started, then only the removal
  EXPECT_EQ(pathway.timeline(1).what(), "LegalDeadlineChanged");
  // Nothing of the referral went to the dead-letter topic.
  std::vector<es::testing::ProbedRecord> dead =
      es::testing::ReadTopic(h_.bootstrap(), kDeadLetterTopic, 1, 1, std::chrono::seconds(2));
  EXPECT_TRUE(dead.empty()) << dead.size() << " dead-lettered records";
}

TEST_F(ReferralPolicyTest,
       GivenUndecodableRecordOnReferralTopic_ThenDeadLetteredAndLaterReferralsStillStartPathways) {
  // One on every partition, so whichever partition the next referral lands on has one ahead.
  std::vector<es::testing::ProbedRecord> junk;
  for (int p = 0; p < kPartitions; ++p) {
    es::testing::ProbedRecord r;
    r.partition = p;
    r.key = absl::StrCat("junk-", p);
    r.value = "not a referral event";
    r.headers = {{"ce_type", "something.else"}};
    junk.push_back(std::move(r));
  }
  ASSERT_THAT(Produce(h_.bootstrap(), kReferralTopic, junk), IsOk());

  std::vector<es::testing::ProbedRecord> dead = es::testing::ReadTopic(
      h_.bootstrap(), kDeadLetterTopic, 1, kPartitions, std::chrono::seconds(30));
  ASSERT_EQ(dead.size(), static_cast<size_t>(kPartitions));
  std::set<std::string> partitions;
  for (const es::testing::ProbedRecord& r : dead) {
    EXPECT_EQ(r.value, "not a referral event");
    EXPECT_EQ(r.Header("dlq_topic"), kReferralTopic);
    EXPECT_THAT(r.Header("dlq_reason"), HasSubstr("ReferralEvent"));
    EXPECT_EQ(r.Header("ce_type"), "something.else");
    partitions.insert(r.Header("dlq_partition"));
  }
  EXPECT_EQ(partitions.size(), static_cast<size_t>(kPartitions));

  const std::string fnr = Fnr(401);
  const std::string referral_id = SubmitAndAssess("pol-3", fnr, "ahus-tsb");
  ASSERT_TRUE(Eventually([&] { return !PathwaysOf(fnr).empty(); }))
      << "no pathway after the dead-lettered records";
  std::vector<v1::Pathway> pathways = PathwaysOf(fnr);
  ASSERT_EQ(pathways.size(), 1u);
  EXPECT_EQ(pathways[0].referral_id(), referral_id);
  // Nothing else was dead-lettered.
  EXPECT_THAT(es::testing::ReadTopic(h_.bootstrap(), kDeadLetterTopic, 1, kPartitions + 1,
                                     std::chrono::seconds(1)),
              SizeIs(kPartitions));
}

}  // namespace
}  // namespace pathway
