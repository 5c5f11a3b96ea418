// The dispatcher over the real service on a temp RocksDB, a manual clock, the real webhook
// channel posting to an HTTP server the test runs on 127.0.0.1, and the real file channel.
// Covers delivery, what is not sent (not due, cancelled), the retry schedule on 5xx and
// timeouts, dead letters (last try, 4xx, no channel), due order, the background thread, and a
// restart of the whole service in the middle of retries.

#include "services/notify/app/dispatcher.h"

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "libs/eventing/clock.h"
#include "libs/eventing/proto_time.h"
#include "libs/eventing/pseudonym.h"
#include "libs/storage/event_store.h"
#include "libs/storage/rocks_db.h"
#include "libs/storage/view_store.h"
#include "nlohmann/json.hpp"
#include "services/notify/channels/file_channel.h"
#include "services/notify/channels/webhook_channel.h"
#include "services/notify/domain/notification_decider.h"
#include "services/notify/views/notification_view_rows.h"
#include "tests/services/notify/channels/test_http_server.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace notify::app {
namespace {

using test_support::TestHttpServer;

const absl::Time kT0 =
    absl::FromCivil(absl::CivilSecond(2026, 11, 25, 7, 0, 0), absl::UTCTimeZone());

es::Pseudonymizer TestPseudonymizer() {
  absl::StatusOr<es::Pseudonymizer> p = es::Pseudonymizer::Create("test-secret-0123456789");
  if (!p.ok()) std::abort();
  return *p;
}

absl::Time DueAt(const v1::Notification& n) { return es::FromProtoTimestamp(n.due_at()); }

// Answers every send with one status and counts sends per notification.
class CountingChannel final : public channels::NotificationChannel {
 public:
  explicit CountingChannel(absl::Status answer) : answer_(std::move(answer)) {}
  absl::Status Send(const v1::Notification& n) override {
    ++sends[n.notification_id()];
    return answer_;
  }
  std::map<std::string, int> sends;

 private:
  const absl::Status answer_;
};

DispatcherOptions Backoff(absl::Duration first, int max_attempts = 5) {
  DispatcherOptions options;
  options.first_backoff = first;
  options.max_attempts = max_attempts;
  return options;
}

class DispatcherTest : public ::testing::Test {
 protected:
  DispatcherTest() : pseudonymizer_(TestPseudonymizer()), clock_(kT0) {}

  void SetUp() override { Open(); }
  void TearDown() override { Close(); }

  es::storage::RocksDbOptions DbOptions() const {
    es::storage::RocksDbOptions options;
    options.path = dir_.Sub("db");
    return options;
  }

  // Everything a notify process holds, on the same directory each time.
  void Open() {
    absl::StatusOr<std::unique_ptr<es::storage::RocksDb>> db =
        es::storage::RocksDb::Open(DbOptions());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    store_ = std::make_unique<es::storage::EventStore>(*db_);
    views_ = std::make_unique<es::storage::ViewStore>(*db_);
    service_ = std::make_unique<NotifyService>(*store_, *views_, decider_, pseudonymizer_, clock_);
    channels::WebhookChannelOptions webhook_options;
    webhook_options.url = server_.Url();
    webhook_options.timeout = absl::Milliseconds(300);  // the slow answer below takes 2 s
    webhook_options.connect_timeout = absl::Seconds(1);
    webhook_options.headers = {"Authorization: Bearer t"};
    absl::StatusOr<std::unique_ptr<channels::WebhookChannel>> webhook =
        channels::WebhookChannel::Create(webhook_options);
    ASSERT_TRUE(webhook.ok()) << webhook.status();
    webhook_ = std::move(*webhook);
    file_ = std::make_unique<channels::FileChannel>(
        channels::FileChannelOptions{.path = FilePath(), .fsync = false});
  }

  void Close() {
    dispatcher_.reset();
    service_.reset();
    store_.reset();  // commits what is queued
    views_.reset();
    db_.reset();
    webhook_.reset();
    file_.reset();
  }

  // As if the process stopped and started again.
  void Restart() {
    Close();
    Open();
  }

  Dispatcher& MakeDispatcher(DispatcherOptions options = {}) {
    dispatcher_ =
        std::make_unique<Dispatcher>(*service_,
                                     std::map<v1::Channel, channels::NotificationChannel*>{
                                         {v1::WEBHOOK, webhook_.get()}, {v1::FILE, file_.get()}},
                                     options);
    return *dispatcher_;
  }

  void Schedule(const std::string& id, absl::Time due, v1::Channel channel = v1::WEBHOOK) {
    domain::Schedule command;
    command.notification_id = id;
    v1::NotificationScheduled& n = command.notification;
    n.set_kind(v1::DEADLINE_REMINDER);
    n.mutable_recipient()->set_role(v1::Recipient::COORDINATOR);
    n.mutable_recipient()->set_id("coord-1");
    n.mutable_recipient()->set_address("gw-coord-1");
    n.mutable_recipient()->set_language("nb");
    n.set_channel(channel);
    *n.mutable_due_at() = es::ToProtoTimestamp(due);
    n.set_unit("unit-a");
    n.set_pathway_id("pw-1");
    n.set_deadline_id("dl-1");
    n.set_subject("Frist om 3 dager");
    n.set_body("Frist dl-1 går ut 2026-11-30.");
    ES_ASSERT_OK(service_->ExecuteAndWait(std::move(command), Context("schedule:" + id)));
  }

  static es::app::CommandContext Context(const std::string& key) {
    es::app::CommandContext context;
    context.actor.set_subject("test");
    context.idempotency_key = key;
    context.fingerprint = key;
    return context;
  }

  v1::Notification Get(const std::string& id) {
    absl::StatusOr<v1::Notification> n = service_->Get(id);
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : v1::Notification();
  }

  int RunAt(absl::Time now) {
    clock_.Set(now);
    absl::StatusOr<int> sent = dispatcher_->RunOnce(now);
    EXPECT_TRUE(sent.ok()) << sent.status();
    return sent.ok() ? *sent : -1;
  }

  size_t QueueSize() {
    absl::StatusOr<std::vector<es::storage::ViewRow>> rows =
        views_->Scan(views::DispatchPrefix(), "", 1000);
    EXPECT_TRUE(rows.ok()) << rows.status();
    return rows.ok() ? rows->size() : 0;
  }

  std::vector<std::string> EventKeys(const std::string& id) {
    absl::StatusOr<std::vector<eventing::v1::StoredEvent>> events = store_->ReadStream(id);
    EXPECT_TRUE(events.ok()) << events.status();
    std::vector<std::string> keys;
    if (!events.ok()) return keys;
    for (const eventing::v1::StoredEvent& stored : *events) {
      v1::NotificationEvent event;
      EXPECT_TRUE(event.ParseFromString(stored.payload()));
      keys.push_back(event.metadata().idempotency_key());
    }
    return keys;
  }

  std::string FilePath() const { return dir_.Sub("out/notifications.jsonl"); }
  std::vector<nlohmann::json> FileLines() const {
    std::ifstream in(FilePath());
    std::vector<nlohmann::json> lines;
    for (std::string line; std::getline(in, line);) {
      lines.push_back(nlohmann::json::parse(line, nullptr, false));
    }
    return lines;
  }

  es::testing::TempDir dir_;
  TestHttpServer server_;
  const domain::NotificationDecider decider_{};
  const es::Pseudonymizer pseudonymizer_;
  es::ManualClock clock_;
  std::unique_ptr<es::storage::RocksDb> db_;
  std::unique_ptr<es::storage::EventStore> store_;
  std::unique_ptr<es::storage::ViewStore> views_;
  std::unique_ptr<NotifyService> service_;
  std::unique_ptr<channels::WebhookChannel> webhook_;
  std::unique_ptr<channels::FileChannel> file_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

TEST_F(DispatcherTest, GivenDueWebhookNotification_WhenRunOnce_ThenPostedAndMarkedSent) {
  Schedule("n-1", kT0);
  MakeDispatcher();

  EXPECT_EQ(RunAt(kT0 + absl::Seconds(1)), 1);

  ASSERT_EQ(server_.request_count(), 1u);
  const TestHttpServer::Request request = server_.requests()[0];
  EXPECT_EQ(request.Header("idempotency-key"), "n-1");
  EXPECT_EQ(request.Header("authorization"), "Bearer t");
  const nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << request.body;
  EXPECT_EQ(body["notification_id"], "n-1");
  EXPECT_EQ(body["kind"], "DEADLINE_REMINDER");
  EXPECT_EQ(body["recipient"]["address"], "gw-coord-1");
  EXPECT_EQ(body["subject"], "Frist om 3 dager");
  EXPECT_EQ(body["due_at"], "2026-11-25T07:00:00Z");
  EXPECT_EQ(body["sent_at"], "2026-11-25T07:00:01Z");
  const v1::Notification n = Get("n-1");
  EXPECT_EQ(n.status(), v1::SENT);
  EXPECT_EQ(n.attempts(), 1);
  EXPECT_EQ(es::FromProtoTimestamp(n.sent_at()), kT0 + absl::Seconds(1));
  EXPECT_EQ(QueueSize(), 0u);
  EXPECT_EQ(EventKeys("n-1"), (std::vector<std::string>{"schedule:n-1", "send:n-1:1"}));
}

TEST_F(DispatcherTest, GivenNotificationNotYetDue_WhenRunOnce_ThenNotSentUntilItsDueTime) {
  Schedule("n-1", kT0 + absl::Hours(1));
  MakeDispatcher();

  EXPECT_EQ(RunAt(kT0), 0);
  EXPECT_EQ(RunAt(kT0 + absl::Hours(1) - absl::Microseconds(1)), 0);
  EXPECT_EQ(server_.request_count(), 0u);
  EXPECT_EQ(Get("n-1").status(), v1::SCHEDULED);

  EXPECT_EQ(RunAt(kT0 + absl::Hours(1)), 1);  // due exactly now counts as due
  EXPECT_EQ(server_.request_count(), 1u);
}

TEST_F(DispatcherTest, GivenCancelledNotification_WhenDue_ThenNotSent) {
  Schedule("n-1", kT0);
  ES_ASSERT_OK(
      service_->ExecuteAndWait(domain::Cancel{"n-1", "deadline met"}, Context("cancel:n-1")));
  MakeDispatcher();

  EXPECT_EQ(RunAt(kT0 + absl::Minutes(5)), 0);

  EXPECT_EQ(server_.request_count(), 0u);
  EXPECT_EQ(Get("n-1").status(), v1::CANCELLED);
}

TEST_F(DispatcherTest, GivenGateway5xxThenTimeout_WhenRetried_ThenBackoffScheduleAndFinallySent) {
  server_.Script({{.status = 503}, {.status = 200, .delay = absl::Seconds(2)}, {.status = 200}});
  Schedule("n-1", kT0);
  MakeDispatcher(Backoff(absl::Seconds(30)));  // multiplier 2 by default

  // Attempt 1: 503, due again 30 s later.
  EXPECT_EQ(RunAt(kT0), 0);
  v1::Notification n = Get("n-1");
  EXPECT_EQ(n.status(), v1::SCHEDULED);
  EXPECT_EQ(n.attempts(), 1);
  EXPECT_EQ(DueAt(n), kT0 + absl::Seconds(30));
  EXPECT_NE(n.last_error().find("503"), std::string::npos) << n.last_error();

  // Not before its new due time.
  EXPECT_EQ(RunAt(kT0 + absl::Seconds(29)), 0);
  EXPECT_EQ(server_.request_count(), 1u);

  // Attempt 2: the gateway takes longer than the timeout; due again 60 s later.
  EXPECT_EQ(RunAt(kT0 + absl::Seconds(30)), 0);
  n = Get("n-1");
  EXPECT_EQ(n.status(), v1::SCHEDULED);
  EXPECT_EQ(n.attempts(), 2);
  EXPECT_EQ(DueAt(n), kT0 + absl::Seconds(90));
  EXPECT_NE(n.last_error().find("imeout"), std::string::npos) << n.last_error();

  // Attempt 3: delivered.
  EXPECT_EQ(RunAt(kT0 + absl::Seconds(90)), 1);
  n = Get("n-1");
  EXPECT_EQ(n.status(), v1::SENT);
  EXPECT_EQ(n.attempts(), 3);
  EXPECT_EQ(server_.request_count(), 3u);
  for (const TestHttpServer::Request& r : server_.requests()) {
    EXPECT_EQ(r.Header("idempotency-key"), "n-1");
  }
  EXPECT_EQ(EventKeys("n-1"),
            (std::vector<std::string>{"schedule:n-1", "fail:n-1:1", "fail:n-1:2", "send:n-1:3"}));
}

TEST_F(DispatcherTest, GivenGatewayKeepsFailing_WhenLastAttemptFails_ThenDeadLettered) {
  server_.SetFallback({.status = 500});
  Schedule("n-1", kT0);
  MakeDispatcher(Backoff(absl::Seconds(30), /*max_attempts=*/3));

  EXPECT_EQ(RunAt(kT0), 0);
  EXPECT_EQ(DueAt(Get("n-1")), kT0 + absl::Seconds(30));
  EXPECT_EQ(RunAt(kT0 + absl::Seconds(30)), 0);
  EXPECT_EQ(DueAt(Get("n-1")), kT0 + absl::Seconds(90));
  EXPECT_EQ(RunAt(kT0 + absl::Seconds(90)), 0);

  const v1::Notification n = Get("n-1");
  EXPECT_EQ(n.status(), v1::FAILED);
  EXPECT_EQ(n.attempts(), 3);
  EXPECT_EQ(n.last_error(), "webhook: HTTP 500");
  EXPECT_EQ(QueueSize(), 0u);
  // Nothing more is tried, however long we wait.
  EXPECT_EQ(RunAt(kT0 + absl::Hours(48)), 0);
  EXPECT_EQ(server_.request_count(), 3u);
}

TEST_F(DispatcherTest, GivenGatewayAnswers400_WhenRunOnce_ThenDeadLetteredAtOnce) {
  server_.Script({{.status = 400}});
  Schedule("n-1", kT0);
  MakeDispatcher();

  EXPECT_EQ(RunAt(kT0), 0);

  const v1::Notification n = Get("n-1");
  EXPECT_EQ(n.status(), v1::FAILED);
  EXPECT_EQ(n.attempts(), 1);
  EXPECT_NE(n.last_error().find("400"), std::string::npos) << n.last_error();
  EXPECT_EQ(QueueSize(), 0u);
  EXPECT_EQ(RunAt(kT0 + absl::Hours(2)), 0);
  EXPECT_EQ(server_.request_count(), 1u);
}

TEST_F(DispatcherTest, GivenRestartsBetweenRetries_WhenRunAfterEachReopen_ThenAttemptsContinue) {
  server_.Script({{.status = 503}, {.status = 502}, {.status = 200}});
  Schedule("n-1", kT0);
  MakeDispatcher();
  EXPECT_EQ(RunAt(kT0), 0);
  EXPECT_EQ(Get("n-1").attempts(), 1);

  Restart();
  MakeDispatcher();
  // The retry time came from RocksDB, not from memory: not due yet, then due.
  EXPECT_EQ(RunAt(kT0 + absl::Seconds(10)), 0);
  EXPECT_EQ(server_.request_count(), 1u);
  EXPECT_EQ(RunAt(kT0 + absl::Seconds(30)), 0);
  v1::Notification n = Get("n-1");
  EXPECT_EQ(n.attempts(), 2);
  EXPECT_EQ(DueAt(n), kT0 + absl::Seconds(90));

  Restart();
  MakeDispatcher();
  EXPECT_EQ(RunAt(kT0 + absl::Seconds(90)), 1);

  n = Get("n-1");
  EXPECT_EQ(n.status(), v1::SENT);
  EXPECT_EQ(n.attempts(), 3);
  EXPECT_EQ(server_.request_count(), 3u);
  EXPECT_EQ(EventKeys("n-1"),
            (std::vector<std::string>{"schedule:n-1", "fail:n-1:1", "fail:n-1:2", "send:n-1:3"}));
}

TEST_F(DispatcherTest, GivenNoChannelForTheNotification_WhenDue_ThenDeadLettered) {
  Schedule("n-1", kT0);
  dispatcher_ = std::make_unique<Dispatcher>(
      *service_, std::map<v1::Channel, channels::NotificationChannel*>{{v1::FILE, file_.get()}},
      DispatcherOptions{});

  EXPECT_EQ(RunAt(kT0), 0);

  const v1::Notification n = Get("n-1");
  EXPECT_EQ(n.status(), v1::FAILED);
  EXPECT_EQ(n.attempts(), 1);
  EXPECT_EQ(n.last_error(), "no channel configured");
  EXPECT_EQ(server_.request_count(), 0u);
}

TEST_F(DispatcherTest, GivenSeveralDueFileNotifications_WhenRunOnce_ThenWrittenInDueOrder) {
  Schedule("late", kT0 + absl::Minutes(3), v1::FILE);
  Schedule("early", kT0 + absl::Minutes(1), v1::FILE);
  Schedule("middle", kT0 + absl::Minutes(2), v1::FILE);
  Schedule("future", kT0 + absl::Hours(1), v1::FILE);
  MakeDispatcher();

  EXPECT_EQ(RunAt(kT0 + absl::Minutes(5)), 3);

  const std::vector<nlohmann::json> lines = FileLines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["notification_id"], "early");
  EXPECT_EQ(lines[1]["notification_id"], "middle");
  EXPECT_EQ(lines[2]["notification_id"], "late");
  EXPECT_EQ(lines[0]["channel"], "FILE");
  EXPECT_EQ(Get("future").status(), v1::SCHEDULED);
  EXPECT_EQ(server_.request_count(), 0u);
}

TEST_F(DispatcherTest, GivenMoreThanOnePageDue_WhenRunOnce_ThenEverySentOnce) {
  CountingChannel counting(absl::OkStatus());
  for (int i = 0; i < 230; ++i) Schedule(absl::StrCat("n-", i), kT0, v1::FILE);
  dispatcher_ = std::make_unique<Dispatcher>(
      *service_, std::map<v1::Channel, channels::NotificationChannel*>{{v1::FILE, &counting}},
      DispatcherOptions{});

  EXPECT_EQ(RunAt(kT0), 230);

  EXPECT_EQ(counting.sends.size(), 230u);
  for (const auto& [id, count] : counting.sends) EXPECT_EQ(count, 1) << id;
  EXPECT_EQ(QueueSize(), 0u);
}

TEST_F(DispatcherTest, GivenZeroBackoffOverSeveralPages_WhenAllFail_ThenEachTriedOnceThisRun) {
  // With no backoff a failed row moves to "due now", further along the scan; it must wait for
  // the next run instead of being retried at once.
  CountingChannel counting(absl::UnavailableError("gateway down"));
  for (int i = 0; i < 230; ++i) Schedule(absl::StrCat("n-", i), kT0, v1::FILE);
  dispatcher_ = std::make_unique<Dispatcher>(
      *service_, std::map<v1::Channel, channels::NotificationChannel*>{{v1::FILE, &counting}},
      Backoff(absl::ZeroDuration()));

  // Due a minute ago: each failed row moves from kT0 to now, past the rows still to scan.
  EXPECT_EQ(RunAt(kT0 + absl::Minutes(1)), 0);

  EXPECT_EQ(counting.sends.size(), 230u);
  for (const auto& [id, count] : counting.sends) EXPECT_EQ(count, 1) << id;
  EXPECT_EQ(Get("n-7").attempts(), 1);
  EXPECT_EQ(DueAt(Get("n-7")), kT0 + absl::Minutes(1));
  EXPECT_EQ(QueueSize(), 230u);
  EXPECT_EQ(RunAt(kT0 + absl::Minutes(1)), 0);  // the next run does try again
  EXPECT_EQ(Get("n-7").attempts(), 2);
}

TEST_F(DispatcherTest, GivenStarted_WhenNotificationFallsDue_ThenTheThreadSendsIt) {
  Schedule("n-1", kT0 + absl::Minutes(1), v1::FILE);
  DispatcherOptions options;
  options.poll_interval = absl::Milliseconds(10);
  Dispatcher& dispatcher = MakeDispatcher(options);
  dispatcher.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(Get("n-1").status(), v1::SCHEDULED);  // the clock has not moved

  clock_.Advance(absl::Minutes(1));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (Get("n-1").status() != v1::SENT && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  dispatcher.Stop();

  EXPECT_EQ(Get("n-1").status(), v1::SENT);
  EXPECT_EQ(FileLines().size(), 1u);
}

}  // namespace
}  // namespace notify::app
