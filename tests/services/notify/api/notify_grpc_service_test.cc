// The notify gRPC adapter over a real channel: NotifyService on RocksDB in a temp directory, the
// event store's feed listener wired to a FeedNotifier, a GrpcServer on a free loopback port.
// Notifications are scheduled and marked sent through NotifyService directly (as the policy and
// the dispatcher do); the API is exercised through the generated stub. Watch streams are read
// by a thread per stream with the synchronous client API, and every wait is a bounded one.

#include "services/notify/api/notify_grpc_service.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/eventing/clock.h"
#include "libs/eventing/proto_time.h"
#include "libs/eventing/pseudonym.h"
#include "libs/rpc/grpc_server.h"
#include "libs/storage/event_store.h"
#include "libs/storage/rocks_db.h"
#include "libs/storage/view_store.h"
#include "notify/v1/service.grpc.pb.h"
#include "services/notify/app/notify_service.h"
#include "services/notify/domain/notification_decider.h"
#include "services/notify/views/notification_view_rows.h"
#include "services/shared/patient_identity.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace notify {
namespace {

using ::es::testing::IsOk;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr char kActor[] = "coord-1";
constexpr char kFnr[] = "01019012480";  // valid fødselsnummer (check digits verified elsewhere)
constexpr auto kTimeout = std::chrono::seconds(20);

#define ASSERT_RPC_OK(expr)                                                                 \
  do {                                                                                      \
    const grpc::Status rpc_status_ = (expr);                                                \
    ASSERT_TRUE(rpc_status_.ok()) << #expr << ": code " << rpc_status_.error_code() << ": " \
                                  << rpc_status_.error_message();                           \
  } while (0)

es::app::CommandContext Ctx(const std::string& key) {
  es::app::CommandContext context;
  context.idempotency_key = key;
  context.actor.set_subject("test");
  return context;
}

std::string Cursor(const std::string& key) { return absl::WebSafeBase64Escape(key); }

// One update as a watcher saw it, or one feed row as stored.
struct Change {
  std::string label;   // "<notification id>@<version>"
  std::string cursor;  // of the update, or of the row's key
};

std::vector<std::string> Labels(const std::vector<Change>& changes) {
  std::vector<std::string> labels;
  for (const Change& c : changes) labels.push_back(c.label);
  return labels;
}
std::vector<std::string> Cursors(const std::vector<Change>& changes) {
  std::vector<std::string> cursors;
  for (const Change& c : changes) cursors.push_back(c.cursor);
  return cursors;
}

// A WatchNotifications stream read on its own thread. The constructor returns once the server
// has answered with initial metadata (the watch's start position) or ended the call.
class Watcher {
 public:
  Watcher(v1::NotifyService::Stub& stub, const v1::WatchNotificationsRequest& request) {
    context_.AddMetadata("x-actor-id", kActor);
    reader_ = stub.WatchNotifications(&context_, request);
    reader_->WaitForInitialMetadata();
    const auto& metadata = context_.GetServerInitialMetadata();
    if (auto it = metadata.find(api::kWatchCursorHeader); it != metadata.end()) {
      start_cursor_ = std::string(it->second.data(), it->second.size());
    }
    thread_ = std::thread([this] { ReadAll(); });
  }
  ~Watcher() {
    context_.TryCancel();
    thread_.join();
  }

  // Disconnects, as a client that goes away does.
  void Cancel() { context_.TryCancel(); }

  bool WaitForCount(size_t n) {
    return WaitUntil([n](const std::vector<Change>& seen, bool) { return seen.size() >= n; });
  }
  bool WaitForLabel(const std::string& label) {
    return WaitUntil([&label](const std::vector<Change>& seen, bool) {
      for (const Change& c : seen) {
        if (c.label == label) return true;
      }
      return false;
    });
  }
  bool WaitForCursor(const std::string& cursor) {
    return WaitUntil([&cursor](const std::vector<Change>& seen, bool) {
      return !seen.empty() && seen.back().cursor == cursor;
    });
  }
  bool WaitForEnd() {
    return WaitUntil([](const std::vector<Change>&, bool ended) { return ended; });
  }

  std::vector<Change> seen() {
    std::lock_guard<std::mutex> lock(mutex_);
    return seen_;
  }
  // The cursor to resume from: the last update's, or the start position when none came.
  std::string resume_cursor() {
    std::lock_guard<std::mutex> lock(mutex_);
    return seen_.empty() ? start_cursor_ : seen_.back().cursor;
  }
  grpc::Status status() {
    std::lock_guard<std::mutex> lock(mutex_);
    return status_;
  }
  const std::string& start_cursor() const { return start_cursor_; }
  std::vector<v1::NotificationUpdate> updates() {
    std::lock_guard<std::mutex> lock(mutex_);
    return updates_;
  }

 private:
  bool WaitUntil(const std::function<bool(const std::vector<Change>&, bool)>& done) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, kTimeout, [&] { return done(seen_, ended_); });
  }

  void ReadAll() {
    v1::NotificationUpdate update;
    while (reader_->Read(&update)) {
      std::lock_guard<std::mutex> lock(mutex_);
      seen_.push_back(Change{absl::StrCat(update.notification().notification_id(), "@",
                                          update.notification().version()),
                             update.cursor()});
      updates_.push_back(update);
      changed_.notify_all();
    }
    grpc::Status status = reader_->Finish();
    std::lock_guard<std::mutex> lock(mutex_);
    status_ = status;
    ended_ = true;
    changed_.notify_all();
  }

  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::NotificationUpdate>> reader_;
  std::string start_cursor_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Change> seen_;                     // guarded by mutex_
  std::vector<v1::NotificationUpdate> updates_;  // guarded by mutex_
  grpc::Status status_;                          // guarded by mutex_
  bool ended_ = false;                           // guarded by mutex_
  std::thread thread_;
};

// Threads that each run change(thread, i) for i = 0, 1, ... below `limit`, until Stop or an
// error. Joined however the test ends, so that a failed assertion fails the test instead of
// ending the process with a joinable std::thread.
class Producers {
 public:
  Producers(int threads, int limit, std::function<absl::Status(int, int)> change)
      : statuses_(threads) {
    for (int p = 0; p < threads; ++p) {
      threads_.emplace_back([this, p, limit, change] {
        for (int i = 0; i < limit && !stop_.load(); ++i) {
          absl::Status s = change(p, i);
          if (!s.ok()) {
            statuses_[p] = s;
            return;
          }
          done_.fetch_add(1);
        }
      });
    }
  }
  ~Producers() {
    Stop();
    Join().IgnoreError();  // a test that gets here early has already failed
  }

  void Stop() { stop_.store(true); }
  // Waits for every thread; the first error one of them met.
  absl::Status Join() {
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
    for (const absl::Status& s : statuses_) {
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }
  int done() const { return done_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> done_{0};
  std::vector<absl::Status> statuses_;  // one per thread, written only by it before Join
  std::vector<std::thread> threads_;
};

v1::WatchNotificationsRequest WatchRecipient(const std::string& recipient, std::string cursor = "",
                                             bool from_beginning = false) {
  v1::WatchNotificationsRequest request;
  request.set_recipient_id(recipient);
  request.set_cursor(std::move(cursor));
  request.set_from_beginning(from_beginning);
  return request;
}

v1::WatchNotificationsRequest WatchUnit(const std::string& unit, bool from_beginning = false) {
  v1::WatchNotificationsRequest request;
  request.set_unit(unit);
  request.set_from_beginning(from_beginning);
  return request;
}

class NotifyApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // No fsync per commit: durability is not under test, and the watch tests commit hundreds.
    absl::StatusOr<std::unique_ptr<es::storage::RocksDb>> db =
        es::storage::RocksDb::Open({.path = dir_.Sub("db"), .sync_wal = false});
    ASSERT_THAT(db, IsOk());
    db_ = std::move(*db);
    store_ = std::make_unique<es::storage::EventStore>(*db_);
    views_ = std::make_unique<es::storage::ViewStore>(*db_);
    absl::StatusOr<es::Pseudonymizer> pseudonymizer =
        es::Pseudonymizer::Create("test-secret-0123456789");
    ASSERT_THAT(pseudonymizer, IsOk());
    pseudonymizer_ = std::make_unique<es::Pseudonymizer>(*pseudonymizer);
    service_ =
        std::make_unique<app::NotifyService>(*store_, *views_, decider_, *pseudonymizer_, clock_);
    notifier_ = std::make_unique<api::FeedNotifier>();
    store_->SetFeedListener([notifier = notifier_.get()] { notifier->Poke(); });
    api_ = std::make_unique<api::NotifyGrpcService>(*service_, *views_, *notifier_);
    absl::StatusOr<std::unique_ptr<es::rpc::GrpcServer>> server =
        es::rpc::GrpcServer::Start("127.0.0.1:0", {{api_.get(), "notify.v1.NotifyService"}});
    ASSERT_THAT(server, IsOk());
    server_ = std::move(*server);
    stub_ = v1::NotifyService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    // The order the server uses: streams, then gRPC, then the store (its listener pokes the
    // notifier), then the notifier.
    if (api_) api_->Shutdown();
    if (server_) server_->Shutdown(absl::Seconds(5));
    if (store_) store_->Shutdown();
    if (notifier_) notifier_->Stop();
  }

  absl::Status Schedule(const std::string& id, const std::string& recipient,
                        const std::string& unit, absl::Duration due_in = absl::Hours(1)) {
    domain::Schedule schedule;
    schedule.notification_id = id;
    v1::NotificationScheduled& n = schedule.notification;
    n.set_kind(v1::DEADLINE_REMINDER);
    n.mutable_recipient()->set_role(v1::Recipient::COORDINATOR);
    n.mutable_recipient()->set_id(recipient);
    n.set_channel(v1::FILE);
    *n.mutable_due_at() = es::ToProtoTimestamp(clock_.Now() + due_in);
    n.set_unit(unit);
    n.set_subject("Frist om 3 virkedager");
    return service_->ExecuteAndWait(std::move(schedule), Ctx("schedule:" + id)).status();
  }
  absl::Status MarkSent(const std::string& id) {
    return service_->ExecuteAndWait(domain::MarkSent{id, 1, clock_.Now()}, Ctx("sent:" + id))
        .status();
  }
  absl::Status Cancel(const std::string& id) {
    return service_->ExecuteAndWait(domain::Cancel{id, "deadline met"}, Ctx("cancel:" + id))
        .status();
  }
  absl::Status AcknowledgeDirectly(const std::string& id) {
    return service_
        ->ExecuteAndWait(domain::Acknowledge{id, "coord-2", clock_.Now()}, Ctx("ack:" + id))
        .status();
  }
  // Scheduled, sent and acknowledged: three changes on the feeds.
  absl::Status FullLife(const std::string& id, const std::string& recipient,
                        const std::string& unit) {
    if (absl::Status s = Schedule(id, recipient, unit); !s.ok()) return s;
    if (absl::Status s = MarkSent(id); !s.ok()) return s;
    return AcknowledgeDirectly(id);
  }

  // Every row of a feed as stored, in key (= commit) order.
  std::vector<Change> Feed(const std::string& prefix) {
    std::vector<Change> changes;
    absl::StatusOr<std::vector<es::storage::ViewRow>> rows = views_->Scan(prefix, "", 1'000'000);
    EXPECT_THAT(rows, IsOk());
    if (!rows.ok()) return changes;
    for (const es::storage::ViewRow& row : *rows) {
      v1::Notification n;
      EXPECT_TRUE(n.ParseFromString(row.value));
      changes.push_back(
          Change{absl::StrCat(n.notification_id(), "@", n.version()), Cursor(row.key)});
    }
    return changes;
  }
  std::vector<Change> RecipientFeed(const std::string& recipient) {
    return Feed(views::RecipientFeedPrefix(recipient));
  }

  grpc::Status List(const v1::ListNotificationsRequest& request,
                    v1::ListNotificationsResponse* response) {
    grpc::ClientContext context;
    context.AddMetadata("x-actor-id", kActor);
    context.set_deadline(std::chrono::system_clock::now() + kTimeout);
    return stub_->ListNotifications(&context, request, response);
  }
  grpc::Status Acknowledge(const std::string& key, const std::string& id,
                           v1::AcknowledgeResponse* response) {
    v1::AcknowledgeRequest request;
    request.set_idempotency_key(key);
    request.set_notification_id(id);
    grpc::ClientContext context;
    context.AddMetadata("x-actor-id", kActor);
    context.set_deadline(std::chrono::system_clock::now() + kTimeout);
    return stub_->Acknowledge(&context, request, response);
  }
  grpc::Status SetPreference(const v1::SetContactPreferenceRequest& request) {
    v1::SetContactPreferenceResponse response;
    grpc::ClientContext context;
    context.AddMetadata("x-actor-id", kActor);
    context.set_deadline(std::chrono::system_clock::now() + kTimeout);
    return stub_->SetContactPreference(&context, request, &response);
  }

  // Waits (bounded) until `condition` holds; for state the server changes after a call ends.
  static bool Eventually(const std::function<bool()>& condition) {
    const auto deadline = std::chrono::steady_clock::now() + kTimeout;
    while (!condition()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }

  es::testing::TempDir dir_;
  es::ManualClock clock_{absl::FromUnixSeconds(1'772'442'000)};  // 2 March 2026, 09:00 UTC
  domain::NotificationDecider decider_;
  std::unique_ptr<es::storage::RocksDb> db_;
  std::unique_ptr<es::storage::EventStore> store_;
  std::unique_ptr<es::storage::ViewStore> views_;
  std::unique_ptr<es::Pseudonymizer> pseudonymizer_;
  std::unique_ptr<app::NotifyService> service_;
  std::unique_ptr<api::FeedNotifier> notifier_;
  std::unique_ptr<api::NotifyGrpcService> api_;
  std::unique_ptr<es::rpc::GrpcServer> server_;
  std::unique_ptr<v1::NotifyService::Stub> stub_;
};

std::vector<std::string> IdsOf(const v1::ListNotificationsResponse& response) {
  std::vector<std::string> ids;
  for (const v1::Notification& n : response.notifications()) ids.push_back(n.notification_id());
  return ids;
}

// ---------------------------------------------------------------------------------------------
// ListNotifications

TEST_F(NotifyApiTest,
       GivenNotificationsOfTwoRecipients_WhenListedByRecipient_ThenOnlyTheirsNewestDueFirst) {
  ASSERT_THAT(Schedule("n-early", "coord-a", "unit-1", absl::Hours(1)), IsOk());
  ASSERT_THAT(Schedule("n-late", "coord-a", "unit-1", absl::Hours(5)), IsOk());
  ASSERT_THAT(Schedule("n-other", "coord-b", "unit-1", absl::Hours(3)), IsOk());

  v1::ListNotificationsRequest request;
  request.set_recipient_id("coord-a");
  v1::ListNotificationsResponse response;
  ASSERT_RPC_OK(List(request, &response));

  EXPECT_THAT(IdsOf(response), ElementsAre("n-late", "n-early"));
  EXPECT_EQ(response.notifications(0).status(), v1::SCHEDULED);
  EXPECT_THAT(response.next_page_token(), IsEmpty());
}

TEST_F(NotifyApiTest,
       GivenSentAndScheduledInTwoUnits_WhenListedByUnitAndStatusSent_ThenOnlySentOfThatUnit) {
  ASSERT_THAT(Schedule("u-sent-1", "coord-a", "unit-1", absl::Hours(1)), IsOk());
  ASSERT_THAT(Schedule("u-waiting", "coord-b", "unit-1", absl::Hours(2)), IsOk());
  ASSERT_THAT(Schedule("u-sent-2", "coord-c", "unit-1", absl::Hours(3)), IsOk());
  ASSERT_THAT(Schedule("u-elsewhere", "coord-a", "unit-2", absl::Hours(4)), IsOk());
  for (const char* id : {"u-sent-1", "u-sent-2", "u-elsewhere"}) ASSERT_THAT(MarkSent(id), IsOk());

  v1::ListNotificationsRequest request;
  request.set_unit("unit-1");
  request.set_status(v1::SENT);
  v1::ListNotificationsResponse sent;
  ASSERT_RPC_OK(List(request, &sent));
  request.set_status(v1::NOTIFICATION_STATUS_UNSPECIFIED);
  v1::ListNotificationsResponse any;
  ASSERT_RPC_OK(List(request, &any));

  EXPECT_THAT(IdsOf(sent), ElementsAre("u-sent-2", "u-sent-1"));
  for (const v1::Notification& n : sent.notifications()) EXPECT_EQ(n.status(), v1::SENT);
  EXPECT_THAT(IdsOf(any), ElementsAre("u-sent-2", "u-waiting", "u-sent-1"));
}

TEST_F(NotifyApiTest,
       GivenFiveNotifications_WhenPagedByTwo_ThenEachOnceInOrderAndLastPageHasNoToken) {
  for (int i = 1; i <= 5; ++i) {
    ASSERT_THAT(Schedule(absl::StrCat("p-", i), "coord-a", "unit-1", absl::Hours(i)), IsOk());
  }

  std::vector<std::string> ids;
  std::vector<int> page_sizes;
  v1::ListNotificationsRequest request;
  request.set_recipient_id("coord-a");
  request.set_page_size(2);
  do {
    v1::ListNotificationsResponse page;
    ASSERT_RPC_OK(List(request, &page));
    page_sizes.push_back(page.notifications_size());
    for (const std::string& id : IdsOf(page)) ids.push_back(id);
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty() && page_sizes.size() < 10);

  EXPECT_THAT(page_sizes, ElementsAre(2, 2, 1));
  EXPECT_THAT(ids, ElementsAre("p-5", "p-4", "p-3", "p-2", "p-1"));
}

TEST_F(NotifyApiTest, GivenBadListRequests_WhenListed_ThenInvalidArgumentNamingTheField) {
  struct Case {
    std::function<void(v1::ListNotificationsRequest&)> set;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](auto&) {}, "owner"},
      {[](auto& r) { r.set_recipient_id(""); }, "recipient_id"},
      {[](auto& r) { r.set_unit("unit/1"); }, "unit"},
      {[](auto& r) {
         r.set_unit("unit-1");
         r.set_page_size(501);
       },
       "page_size"},
      {[](auto& r) {
         r.set_unit("unit-1");
         r.set_page_token(Cursor("lu/elsewhere/00/"));
       },
       "page_token"},
      {[](auto& r) {
         r.set_unit("unit-1");
         r.set_status(static_cast<v1::NotificationStatus>(42));
       },
       "status"},
  };
  for (const Case& c : cases) {
    v1::ListNotificationsRequest request;
    c.set(request);
    v1::ListNotificationsResponse response;
    grpc::Status status = List(request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_THAT(status.error_message(), HasSubstr(c.field + ":")) << status.error_message();
  }
}

// ---------------------------------------------------------------------------------------------
// Acknowledge

TEST_F(NotifyApiTest,
       GivenSentNotification_WhenAcknowledgedAndRetried_ThenAcknowledgedByCallerOnceAndReplayed) {
  ASSERT_THAT(Schedule("ack-1", "coord-a", "unit-1"), IsOk());
  ASSERT_THAT(MarkSent("ack-1"), IsOk());

  v1::AcknowledgeResponse first;
  ASSERT_RPC_OK(Acknowledge("k-ack-1", "ack-1", &first));
  v1::AcknowledgeResponse retry;
  ASSERT_RPC_OK(Acknowledge("k-ack-1", "ack-1", &retry));

  EXPECT_EQ(first.version(), 3);  // scheduled, sent, acknowledged
  EXPECT_FALSE(first.replayed());
  EXPECT_EQ(retry.version(), 3);
  EXPECT_TRUE(retry.replayed());
  absl::StatusOr<v1::Notification> stored = service_->Get("ack-1");
  ASSERT_THAT(stored, IsOk());
  EXPECT_EQ(stored->status(), v1::ACKNOWLEDGED);
  EXPECT_EQ(stored->acknowledged_by(), kActor);
  EXPECT_EQ(stored->version(), 3);
}

TEST_F(NotifyApiTest, GivenNotificationNotSentOrCancelled_WhenAcknowledged_ThenFailedPrecondition) {
  ASSERT_THAT(Schedule("still-scheduled", "coord-a", "unit-1"), IsOk());
  ASSERT_THAT(Schedule("was-cancelled", "coord-a", "unit-1"), IsOk());
  ASSERT_THAT(Cancel("was-cancelled"), IsOk());

  v1::AcknowledgeResponse response;
  grpc::Status scheduled = Acknowledge("k-1", "still-scheduled", &response);
  grpc::Status cancelled = Acknowledge("k-2", "was-cancelled", &response);

  EXPECT_EQ(scheduled.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << scheduled.error_message();
  EXPECT_THAT(scheduled.error_message(), HasSubstr("SCHEDULED"));
  EXPECT_EQ(cancelled.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << cancelled.error_message();
  EXPECT_THAT(cancelled.error_message(), HasSubstr("CANCELLED"));
}

TEST_F(NotifyApiTest, GivenUnknownOrMalformedId_WhenAcknowledged_ThenNotFoundOrInvalidArgument) {
  v1::AcknowledgeResponse response;
  grpc::Status unknown = Acknowledge("k-1", "never-scheduled", &response);
  grpc::Status malformed = Acknowledge("k-2", "bad/id", &response);
  grpc::Status no_key = Acknowledge("", "never-scheduled", &response);

  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND) << unknown.error_message();
  EXPECT_EQ(malformed.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(malformed.error_message(), HasSubstr("notification_id:"));
  EXPECT_EQ(no_key.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(no_key.error_message(), HasSubstr("idempotency_key:"));
}

// ---------------------------------------------------------------------------------------------
// SetContactPreference

v1::SetContactPreferenceRequest PreferenceRequest() {
  v1::SetContactPreferenceRequest request;
  request.set_idempotency_key("k-pref-1");
  request.mutable_patient()->set_system(referral::v1::PatientIdentifier::NO_FODSELSNUMMER);
  request.mutable_patient()->set_value(kFnr);
  v1::ContactPreference& p = *request.mutable_preference();
  p.set_consent(true);
  p.set_channel(v1::WEBHOOK);
  p.set_address("sms:+4790000000");
  p.set_language("nb");
  v1::ContactPreference::Relative& relative = *p.add_relatives();
  relative.set_contact_id("rel-1");
  relative.set_consent(true);
  relative.set_address("sms:+4790000001");
  return request;
}

TEST_F(NotifyApiTest, GivenValidPreference_WhenSet_ThenStoredUnderThePatientsKey) {
  ASSERT_RPC_OK(SetPreference(PreferenceRequest()));

  absl::StatusOr<std::string> key =
      pathways::PatientKeyOf(PreferenceRequest().patient(), *pseudonymizer_, "patient");
  ASSERT_THAT(key, IsOk());
  absl::StatusOr<std::optional<v1::ContactPreference>> stored = service_->ContactPreferenceOf(*key);
  ASSERT_THAT(stored, IsOk());
  ASSERT_TRUE(stored->has_value());
  EXPECT_TRUE((*stored)->consent());
  EXPECT_EQ((*stored)->address(), "sms:+4790000000");
  EXPECT_THAT((*stored)->relatives(), SizeIs(1));
  EXPECT_TRUE((*stored)->has_recorded_at());
}

TEST_F(NotifyApiTest, GivenBadPreferenceRequests_WhenSet_ThenInvalidArgumentNamingTheField) {
  struct Case {
    std::function<void(v1::SetContactPreferenceRequest&)> change;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](auto& r) { r.set_idempotency_key(""); }, "idempotency_key"},
      {[](auto& r) { r.clear_patient(); }, "patient"},
      {[](auto& r) { r.mutable_patient()->set_value("01019012481"); }, "patient.value"},
      {[](auto& r) { r.mutable_patient()->clear_system(); }, "patient.system"},
      {[](auto& r) { r.clear_preference(); }, "preference"},
      {[](auto& r) { r.mutable_preference()->clear_address(); }, "preference.address"},
      {[](auto& r) { r.mutable_preference()->set_language("sv"); }, "preference.language"},
      {[](auto& r) { r.mutable_preference()->mutable_relatives(0)->set_contact_id("a b"); },
       "preference.relatives[0].contact_id"},
  };
  for (const Case& c : cases) {
    v1::SetContactPreferenceRequest request = PreferenceRequest();
    c.change(request);
    grpc::Status status = SetPreference(request);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_THAT(status.error_message(), HasSubstr(c.field + ":")) << status.error_message();
  }
  // Nothing was stored by any of them.
  absl::StatusOr<std::string> key =
      pathways::PatientKeyOf(PreferenceRequest().patient(), *pseudonymizer_, "patient");
  ASSERT_THAT(key, IsOk());
  absl::StatusOr<std::optional<v1::ContactPreference>> stored = service_->ContactPreferenceOf(*key);
  ASSERT_THAT(stored, IsOk());
  EXPECT_FALSE(stored->has_value());
}

// ---------------------------------------------------------------------------------------------
// WatchNotifications

TEST_F(NotifyApiTest, GivenExistingChanges_WhenWatchedFromBeginning_ThenAllReplayedInCommitOrder) {
  ASSERT_THAT(Schedule("w-1", "coord-a", "unit-1"), IsOk());
  ASSERT_THAT(Schedule("w-2", "coord-a", "unit-1"), IsOk());
  ASSERT_THAT(Schedule("w-other", "coord-b", "unit-1"), IsOk());
  ASSERT_THAT(MarkSent("w-2"), IsOk());
  ASSERT_THAT(MarkSent("w-1"), IsOk());
  ASSERT_THAT(AcknowledgeDirectly("w-2"), IsOk());
  const std::vector<Change> feed = RecipientFeed("coord-a");
  ASSERT_THAT(feed, SizeIs(5));

  Watcher watcher(*stub_, WatchRecipient("coord-a", "", /*from_beginning=*/true));
  ASSERT_TRUE(watcher.WaitForCount(feed.size()));

  EXPECT_THAT(Labels(watcher.seen()), ElementsAre("w-1@1", "w-2@1", "w-2@2", "w-1@2", "w-2@3"));
  EXPECT_THAT(Cursors(watcher.seen()), ElementsAreArray(Cursors(feed)));
  std::vector<v1::NotificationUpdate> updates = watcher.updates();
  for (size_t i = 1; i < updates.size(); ++i) {
    EXPECT_GT(updates[i].notification().feed_sequence(),
              updates[i - 1].notification().feed_sequence());
  }
  EXPECT_EQ(updates.back().notification().status(), v1::ACKNOWLEDGED);
}

TEST_F(NotifyApiTest, GivenWatchFromNow_WhenNotificationsChange_ThenOnlyNewChangesArriveLive) {
  ASSERT_THAT(Schedule("before", "coord-a", "unit-1"), IsOk());
  Watcher watcher(*stub_, WatchRecipient("coord-a"));
  ASSERT_FALSE(watcher.start_cursor().empty());

  ASSERT_THAT(Schedule("live", "coord-a", "unit-1"), IsOk());
  ASSERT_TRUE(watcher.WaitForLabel("live@1"));
  ASSERT_THAT(MarkSent("live"), IsOk());
  ASSERT_TRUE(watcher.WaitForLabel("live@2"));
  ASSERT_THAT(MarkSent("before"), IsOk());
  ASSERT_TRUE(watcher.WaitForLabel("before@2"));

  EXPECT_THAT(Labels(watcher.seen()), ElementsAre("live@1", "live@2", "before@2"));
  const std::vector<Change> feed = RecipientFeed("coord-a");
  ASSERT_THAT(feed, SizeIs(4));
  EXPECT_EQ(watcher.start_cursor(), feed[0].cursor);  // "now" was right after "before@1"
}

TEST_F(NotifyApiTest,
       GivenWatchesOfOneRecipientAndOneUnit_WhenOthersChange_ThenOthersAreNotDelivered) {
  Watcher by_recipient(*stub_, WatchRecipient("coord-a"));
  Watcher by_unit(*stub_, WatchUnit("unit-1"));

  // Other owners' changes first: were they delivered, they would come before the marker.
  ASSERT_THAT(FullLife("o-1", "coord-b", "unit-2"), IsOk());
  ASSERT_THAT(Schedule("o-2", "coord-a-suffix", "unit-10"), IsOk());
  ASSERT_THAT(Schedule("o-3", "unit-1", "unit-2"), IsOk());  // recipient named like the unit
  ASSERT_THAT(Schedule("mine-unit", "coord-c", "unit-1"), IsOk());
  ASSERT_THAT(Schedule("mine-recipient", "coord-a", "unit-3"), IsOk());

  ASSERT_TRUE(by_recipient.WaitForLabel("mine-recipient@1"));
  ASSERT_TRUE(by_unit.WaitForLabel("mine-unit@1"));
  EXPECT_THAT(Labels(by_recipient.seen()), ElementsAre("mine-recipient@1"));
  EXPECT_THAT(Labels(by_unit.seen()), ElementsAre("mine-unit@1"));
}

TEST_F(
    NotifyApiTest,
    GivenStreamingClient_WhenItDisconnectsAndResumesFromItsCursor_ThenNothingMissedNothingTwice) {
  const std::string kRecipient = "coord-resume";
  for (int i = 0; i < 5; ++i) {
    ASSERT_THAT(FullLife(absl::StrCat("pre-", i), kRecipient, "unit-1"), IsOk());
  }

  // Two producers change this recipient's notifications (and others') throughout, so that
  // updates commit while connected, while disconnected, and while reconnecting; two of them make
  // the event store commit several appends per group.
  Producers producers(2, 200, [&](int p, int i) {
    return FullLife(absl::StrCat("live-", p, "-", i), i % 3 == 0 ? "coord-elsewhere" : kRecipient,
                    "unit-1");
  });

  std::vector<Change> seen;
  auto watcher = std::make_unique<Watcher>(*stub_, WatchRecipient(kRecipient, "", true));
  for (int cycle = 0; cycle < 8; ++cycle) {
    const std::string marker = absl::StrCat("marker-", cycle);
    ASSERT_THAT(Schedule(marker, kRecipient, "unit-1"), IsOk());
    if (cycle % 2 == 0) {
      // Connected until a change made now has arrived.
      ASSERT_TRUE(watcher->WaitForLabel(marker + "@1")) << "cycle " << cycle;
    } else {
      // Gone again while (probably) still catching up: after the first update, or none.
      ASSERT_TRUE(watcher->WaitForCount(1)) << "cycle " << cycle;
    }
    watcher->Cancel();
    ASSERT_TRUE(watcher->WaitForEnd());
    EXPECT_EQ(watcher->status().error_code(), grpc::StatusCode::CANCELLED);
    const std::string cursor = watcher->resume_cursor();
    for (const Change& c : watcher->seen()) seen.push_back(c);

    // Disconnected: changes the client must catch up on.
    ASSERT_THAT(MarkSent(marker), IsOk());
    ASSERT_THAT(Schedule(absl::StrCat("gap-", cycle), kRecipient, "unit-1"), IsOk());

    // Reconnecting while the producers keep committing.
    watcher = std::make_unique<Watcher>(*stub_, WatchRecipient(kRecipient, cursor));
    ASSERT_EQ(watcher->start_cursor(), cursor) << "cycle " << cycle;
  }
  producers.Stop();
  ASSERT_THAT(producers.Join(), IsOk());
  ASSERT_GT(producers.done(), 0);

  const std::vector<Change> feed = RecipientFeed(kRecipient);
  ASSERT_TRUE(watcher->WaitForCursor(feed.back().cursor));
  for (const Change& c : watcher->seen()) seen.push_back(c);

  EXPECT_THAT(Labels(seen), ElementsAreArray(Labels(feed)));
  EXPECT_THAT(Cursors(seen), ElementsAreArray(Cursors(feed)));
}

TEST_F(NotifyApiTest,
       GivenTwentyConcurrentWatchers_WhenUpdatesCommitConcurrently_ThenEachReceivesAllInOrder) {
  constexpr int kWatchers = 20;
  std::vector<std::unique_ptr<Watcher>> watchers;
  for (int i = 0; i < kWatchers; ++i) {
    watchers.push_back(std::make_unique<Watcher>(
        *stub_, i % 2 == 0 ? WatchUnit("unit-busy") : WatchUnit("unit-busy", true)));
  }
  EXPECT_EQ(api_->open_watches(), static_cast<size_t>(kWatchers));

  Producers producers(2, 15, [&](int p, int i) {
    const std::string id = absl::StrCat("busy-", p, "-", i);
    absl::Status s = Schedule(id, absl::StrCat("coord-", i % 4), "unit-busy");
    return s.ok() ? MarkSent(id) : s;
  });
  ASSERT_THAT(producers.Join(), IsOk());

  const std::vector<Change> feed = Feed(views::UnitFeedPrefix("unit-busy"));
  ASSERT_THAT(feed, SizeIs(60));
  for (int i = 0; i < kWatchers; ++i) {
    ASSERT_TRUE(watchers[i]->WaitForCount(feed.size())) << "watcher " << i;
    EXPECT_THAT(Cursors(watchers[i]->seen()), ElementsAreArray(Cursors(feed))) << "watcher " << i;
  }
}

TEST_F(NotifyApiTest, GivenBadWatchRequests_WhenWatched_ThenInvalidArgumentNamingTheField) {
  ASSERT_THAT(Schedule("b-1", "coord-b", "unit-1"), IsOk());
  const std::string foreign_cursor = RecipientFeed("coord-b").front().cursor;
  const std::string prefix = views::RecipientFeedPrefix("coord-a");

  struct Case {
    v1::WatchNotificationsRequest request;
    std::string field;
  };
  const std::vector<Case> cases = {
      {v1::WatchNotificationsRequest(), "owner"},
      {WatchRecipient("coord-a", "not base64 !"), "cursor"},
      {WatchRecipient("coord-a", foreign_cursor), "cursor"},
      {WatchRecipient("coord-a", Cursor(prefix + "abc")), "cursor"},
      {WatchRecipient("coord-a", Cursor(prefix + "123456789")), "cursor"},
      {WatchUnit("unit/1"), "unit"},
  };
  for (const Case& c : cases) {
    Watcher watcher(*stub_, c.request);
    ASSERT_TRUE(watcher.WaitForEnd()) << c.field;
    EXPECT_EQ(watcher.status().error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_THAT(watcher.status().error_message(), HasSubstr(c.field + ":"));
    EXPECT_THAT(watcher.seen(), IsEmpty());
  }
  EXPECT_EQ(api_->open_watches(), 0u);
}

TEST_F(NotifyApiTest, GivenOpenWatch_WhenClientCancels_ThenServerReleasesTheStream) {
  Watcher watcher(*stub_, WatchUnit("unit-1"));
  ASSERT_EQ(api_->open_watches(), 1u);
  ASSERT_TRUE(Eventually([&] { return notifier_->parked_count() == 1; }));

  watcher.Cancel();

  ASSERT_TRUE(watcher.WaitForEnd());
  EXPECT_TRUE(Eventually([&] { return api_->open_watches() == 0; }));
  EXPECT_EQ(notifier_->parked_count(), 0u);
}

TEST_F(NotifyApiTest, GivenOpenWatches_WhenServerShutsDown_ThenStreamsEndPromptlyWithUnavailable) {
  ASSERT_THAT(Schedule("s-1", "coord-a", "unit-1"), IsOk());
  Watcher parked(*stub_, WatchRecipient("coord-a"));
  Watcher caught_up(*stub_, WatchRecipient("coord-a", "", true));
  Watcher by_unit(*stub_, WatchUnit("unit-1"));
  ASSERT_TRUE(caught_up.WaitForLabel("s-1@1"));
  ASSERT_EQ(api_->open_watches(), 3u);

  const auto start = std::chrono::steady_clock::now();
  api_->Shutdown();
  Watcher refused(*stub_, WatchRecipient("coord-a"));
  // A grace far longer than the bound below: only streams ended by Shutdown() make it in time.
  server_->Shutdown(absl::Seconds(30));
  const auto elapsed = std::chrono::steady_clock::now() - start;

  EXPECT_LT(elapsed, std::chrono::seconds(3));
  for (Watcher* w : {&parked, &caught_up, &by_unit, &refused}) {
    ASSERT_TRUE(w->WaitForEnd());
    EXPECT_EQ(w->status().error_code(), grpc::StatusCode::UNAVAILABLE)
        << w->status().error_message();
  }
  EXPECT_EQ(api_->open_watches(), 0u);
}

}  // namespace
}  // namespace notify
