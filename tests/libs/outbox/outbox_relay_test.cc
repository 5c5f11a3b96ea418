#include "libs/outbox/outbox_relay.h"

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/kafka/embedded_broker.h"
#include "libs/outbox/cloud_event.h"
#include "libs/runtime/log.h"
#include "libs/storage/event_store.h"
#include "libs/storage/rocks_db.h"
#include "tests/libs/kafka/kafka_test_clients.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

// rdkafka_mock.h must come after rdkafka.h (included by kafka_test_clients.h).
#include <librdkafka/rdkafka_mock.h>

namespace es::outbox {
namespace {

using ::es::kafka::testing::Record;
using ::es::kafka::testing::TestConsumer;
using ::es::testing::IsOk;
using ::es::testing::StatusIs;
using ::es::testing::TempDir;
using Clock = std::chrono::steady_clock;

constexpr char kTopic[] = "pathways.test.events.v1";
constexpr int kPartitions = 6;
constexpr int kPatients = 5;  // distinct partition keys

// Pseudonymous keys as the services make them (32 hex characters).
std::string KeyOf(int patient) {
  return absl::StrCat("5f1d0c9a7b3e4d2f8a6c1b0e9d7f3a", 10 + patient);
}

std::string StreamOf(int index) { return absl::StrCat("pathway-", index); }

eventing::v1::StoredEvent Event(const std::string& stream, int64_t version,
                                const std::string& key) {
  eventing::v1::StoredEvent event;
  event.set_event_id(absl::StrCat(stream, "@", version));
  event.set_stream_id(stream);
  event.set_stream_version(version);
  event.set_type("no.pathways.test.v1.StepRecorded");
  event.set_source("/pathways/test");
  event.set_topic(kTopic);
  event.set_partition_key(key);
  event.mutable_time()->set_seconds(1'700'000'000 + version);
  event.mutable_time()->set_nanos(123'000'000);
  // Binary on purpose: the value must travel byte for byte, NULs included.
  event.set_payload(absl::StrCat(std::string("\0\x01", 2), stream, "#", version));
  return event;
}

std::string Header(const Record& record, const std::string& name) {
  for (const auto& [header, value] : record.headers) {
    if (header == name) return value;
  }
  return "<missing " + name + ">";
}

// What a consumer that deduplicates by stream version makes of `records`: per stream, the
// versions in the order they were first seen. Publication is correct when this is 1, 2, ..., N
// for every stream (duplicates allowed, gaps and reordering not).
std::map<std::string, std::vector<int64_t>> FirstSeenVersions(const std::vector<Record>& records) {
  std::map<std::string, std::vector<int64_t>> versions;
  std::map<std::string, std::set<int64_t>> seen;
  for (const Record& record : records) {
    const std::string stream = Header(record, "ce_subject");
    const std::string id = Header(record, "ce_id");
    const int64_t version = std::stoll(id.substr(id.find('@') + 1));
    if (seen[stream].insert(version).second) versions[stream].push_back(version);
  }
  return versions;
}

// The same, but per stream only from its last record of version 1 on: what a consumer sees of
// a republication after loss, behind whatever reached the new broker before the loss was noticed.
std::map<std::string, std::vector<int64_t>> RepublishedVersions(
    const std::vector<Record>& records) {
  std::map<std::string, std::vector<Record>> per_stream;
  for (const Record& record : records) {
    std::vector<Record>& stream = per_stream[Header(record, "ce_subject")];
    if (absl::EndsWith(Header(record, "ce_id"), "@1")) stream.clear();
    stream.push_back(record);
  }
  std::map<std::string, std::vector<int64_t>> versions;
  for (const auto& [stream, tail] : per_stream) versions.merge(FirstSeenVersions(tail));
  return versions;
}

std::vector<int64_t> OneTo(int64_t n) {
  std::vector<int64_t> versions;
  for (int64_t v = 1; v <= n; ++v) versions.push_back(v);
  return versions;
}

class OutboxRelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<kafka::EmbeddedBroker>> broker =
        kafka::EmbeddedBroker::Start({.topics = {{kTopic, kPartitions}}});
    ASSERT_THAT(broker, IsOk());
    broker_ = std::move(*broker);
    // No fsync per batch: these tests are about Kafka, and durability is the store's own test.
    absl::StatusOr<std::unique_ptr<storage::RocksDb>> db =
        storage::RocksDb::Open({.path = dir_.Sub("db"), .sync_wal = false});
    ASSERT_THAT(db, IsOk());
    db_ = std::move(*db);
    store_ = std::make_unique<storage::EventStore>(*db_);
  }

  void TearDown() override {
    if (store_ != nullptr) store_->SetOutboxListener(nullptr);
    relay_.reset();
    store_.reset();
    db_.reset();
    broker_.reset();
  }

  RelayOptions Options() const {
    RelayOptions options;
    options.bootstrap_servers = broker_->bootstrap_servers();
    options.loss_check_interval = absl::Milliseconds(200);
    // A broker that comes back is found within 200 ms instead of up to librdkafka's 10 s.
    options.kafka_config = {{"reconnect.backoff.max.ms", "200"}};
    // Same switch as the Kafka test clients: KAFKA_TEST_DEBUG=eos,msg,broker for a trace.
    if (const char* debug = std::getenv("KAFKA_TEST_DEBUG"); debug != nullptr && *debug != '\0') {
      options.kafka_config.emplace_back("debug", debug);
      // The relay's librdkafka lines go through es::runtime::Log, debug ones at kDebug.
      runtime::SetMinLogLevel(runtime::LogLevel::kDebug);
    }
    return options;
  }

  void StartRelay(RelayOptions options) {
    relay_ = std::make_unique<OutboxRelay>(*store_, std::move(options));
    OutboxRelay* relay = relay_.get();
    store_->SetOutboxListener([relay] { relay->Notify(); });
    ASSERT_THAT(relay_->Start(), IsOk());
  }

  // One command: `count` new events on `stream` (all of them keyed by `key`).
  void Append(const std::string& stream, const std::string& key, int count) {
    int64_t& version = versions_[stream];
    storage::AppendRequest request;
    request.stream_id = stream;
    request.expected_version = version;
    for (int i = 1; i <= count; ++i) request.events.push_back(Event(stream, version + i, key));
    request.state = absl::StrCat("state@", version + count);
    ASSERT_THAT(store_->Append(std::move(request)), IsOk());
    version += count;
  }

  // Streams 0..streams-1 (stream s belongs to patient s % kPatients), `per_stream` events
  // each, appended round-robin `batch` events per command so that the patients' records
  // interleave in the outbox.
  void AppendInterleaved(int streams, int per_stream, int batch) {
    for (int done = 0; done < per_stream; done += batch) {
      for (int s = 0; s < streams; ++s) Append(StreamOf(s), KeyOf(s % kPatients), batch);
    }
  }

  size_t OutboxSize() {
    absl::StatusOr<std::vector<storage::OutboxEntry>> outbox = store_->ReadOutbox(0, 1'000'000);
    EXPECT_THAT(outbox, IsOk());
    return outbox.ok() ? outbox->size() : 0;
  }

  // Reads the whole topic with a new consumer until every committed event has been seen at
  // least once, or `timeout` passes.
  std::vector<Record> ConsumeEverything(Clock::duration timeout) {
    return ConsumeEverything(broker_->bootstrap_servers(), timeout);
  }
  std::vector<Record> ConsumeEverything(const std::string& bootstrap, Clock::duration timeout) {
    size_t expected = 0;
    for (const auto& [stream, version] : versions_) expected += static_cast<size_t>(version);
    absl::StatusOr<std::unique_ptr<TestConsumer>> consumer = TestConsumer::Create(bootstrap);
    EXPECT_THAT(consumer, IsOk());
    if (!consumer.ok()) return {};
    std::vector<int32_t> partitions;
    for (int32_t p = 0; p < kPartitions; ++p) partitions.push_back(p);
    EXPECT_THAT((*consumer)->Assign(kTopic, partitions), IsOk());
    std::vector<Record> records;
    std::set<std::string> ids;
    const Clock::time_point deadline = Clock::now() + timeout;
    while (ids.size() < expected && Clock::now() < deadline) {
      for (Record& record : (*consumer)->Consume(expected, std::chrono::milliseconds(100))) {
        ids.insert(Header(record, "ce_id"));
        records.push_back(std::move(record));
      }
    }
    // Every id seen once is not yet everything: after a loss, records that reached the new
    // broker before the loss was noticed come first, and their republication only later in the
    // same partition. Read on until the topic stays quiet.
    for (bool quiet = false; !quiet && Clock::now() < deadline;) {
      std::vector<Record> more = (*consumer)->Consume(expected, std::chrono::milliseconds(500));
      quiet = more.empty();
      for (Record& record : more) records.push_back(std::move(record));
    }
    return records;
  }

  // Every stream appended so far, complete and in version order for a deduplicating consumer.
  std::map<std::string, std::vector<int64_t>> ExpectedVersions() const {
    std::map<std::string, std::vector<int64_t>> expected;
    for (const auto& [stream, version] : versions_) expected[stream] = OneTo(version);
    return expected;
  }

  // Polls `condition` until it holds or `timeout` passes; returns its last value.
  template <typename Condition>
  static bool Eventually(Condition condition, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (!condition()) {
      if (absl::Now() >= deadline) return false;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return true;
  }

  TempDir dir_;
  std::unique_ptr<kafka::EmbeddedBroker> broker_;
  std::unique_ptr<storage::RocksDb> db_;
  std::unique_ptr<storage::EventStore> store_;
  std::unique_ptr<OutboxRelay> relay_;
  std::map<std::string, int64_t> versions_;  // head version per stream
};

TEST_F(OutboxRelayTest, GivenBadKafkaConfig_WhenStarted_ThenInvalidArgumentAndNothingRuns) {
  const std::vector<std::pair<std::string, std::string>> bad[] = {
      {{"no.such.property", "1"}},
      {{"enable.idempotence", "false"}},
      {{"acks", "1"}},
      {{"max.in.flight", "50"}},  // only rd_kafka_new() sees the conflict with idempotence
      // Fails late in rd_kafka_new(), after the JSON-logging interceptor ran: this used to crash
      // the process (see es::runtime::AbandonConfAfterFailedNew).
      {{"security.protocol", "ssl"},
       {"ssl.certificate.location", "/nonexistent/user.crt"},
       {"ssl.key.location", "/nonexistent/user.key"}},
  };
  for (const auto& config : bad) {
    RelayOptions options = Options();
    options.kafka_config = config;
    OutboxRelay relay(*store_, options);
    EXPECT_THAT(relay.Start(), StatusIs(absl::StatusCode::kInvalidArgument)) << config[0].first;
    EXPECT_THAT(relay.Flush(absl::Milliseconds(10)),
                StatusIs(absl::StatusCode::kFailedPrecondition));
  }
}

TEST_F(OutboxRelayTest,
       GivenTenStreamsOfFivePatients_WhenRelayed_ThenKeysInCommitOrderWithHeadersAndOutboxEmpty) {
  StartRelay(Options());
  AppendInterleaved(/*streams=*/10, /*per_stream=*/100, /*batch=*/5);

  ASSERT_THAT(relay_->Flush(absl::Seconds(20)), IsOk());
  EXPECT_EQ(OutboxSize(), 0u);

  absl::StatusOr<std::vector<storage::OutboxEntry>> log = store_->ReadLog(0, 10'000);
  ASSERT_THAT(log, IsOk());
  ASSERT_EQ(log->size(), 1000u);
  std::map<std::string, eventing::v1::StoredEvent> by_id;
  std::map<std::string, std::vector<std::string>> committed_per_key;
  for (const storage::OutboxEntry& entry : *log) {
    by_id[entry.event.event_id()] = entry.event;
    committed_per_key[entry.event.partition_key()].push_back(entry.event.event_id());
  }

  const std::vector<Record> records = ConsumeEverything(std::chrono::seconds(15));
  ASSERT_EQ(records.size(), 1000u) << "lost or duplicated records";
  std::map<std::string, std::vector<std::string>> received_per_key;
  std::map<std::string, std::set<int32_t>> partitions_per_key;
  std::set<int32_t> partitions;
  for (const Record& record : records) {
    const std::string id = Header(record, "ce_id");
    ASSERT_EQ(by_id.count(id), 1u) << id;
    const eventing::v1::StoredEvent& event = by_id[id];
    EXPECT_EQ(record.key, event.partition_key());
    EXPECT_EQ(record.value, event.payload());
    EXPECT_EQ(record.topic, kTopic);
    EXPECT_EQ(record.headers, CloudEventHeaders(event)) << id;
    received_per_key[record.key].push_back(id);
    partitions_per_key[record.key].insert(record.partition);
    partitions.insert(record.partition);
  }
  // A partition interleaves its keys in consumption order, so compare per key: each key's
  // records come in commit order, which includes each stream's version order.
  EXPECT_EQ(received_per_key, committed_per_key);
  EXPECT_EQ(FirstSeenVersions(records), ExpectedVersions());
  for (const auto& [key, used] : partitions_per_key) EXPECT_EQ(used.size(), 1u) << key;
  EXPECT_GE(partitions.size(), 2u) << "the keys should spread over partitions";

  const RelayStats stats = relay_->stats();
  EXPECT_EQ(stats.delivered, 1000u);
  EXPECT_EQ(stats.delivery_failures, 0u);
  EXPECT_EQ(stats.requeues_after_loss, 0u);
  EXPECT_EQ(stats.backlog, 0u);
  EXPECT_TRUE(stats.broker_reachable);
}

TEST_F(OutboxRelayTest,
       GivenBrokerDown_WhenCommandsAppend_ThenOutboxGrowsAndDrainsInOrderWhenBrokerReturns) {
  RelayOptions options = Options();
  // Deliveries time out while the broker is away, so the retry path is exercised too.
  options.kafka_config.emplace_back("message.timeout.ms", "800");
  StartRelay(options);
  AppendInterleaved(/*streams=*/4, /*per_stream=*/5, /*batch=*/5);
  ASSERT_THAT(relay_->Flush(absl::Seconds(10)), IsOk());

  // The first records of a new producer may already have timed out: librdkafka 2.0.2 can take
  // up to a second to fetch a new topic's metadata. Only failures from now on count.
  const uint64_t failures_before = relay_->stats().delivery_failures;

  ASSERT_THAT(broker_->SetAvailable(false), IsOk());
  const absl::Time appending = absl::Now();
  AppendInterleaved(/*streams=*/8, /*per_stream=*/25, /*batch=*/5);
  EXPECT_LT(absl::Now() - appending, absl::Seconds(5)) << "appends waited for the broker";
  EXPECT_EQ(OutboxSize(), 200u);

  EXPECT_TRUE(Eventually([&] { return relay_->stats().delivery_failures > failures_before; },
                         absl::Seconds(10)))
      << "no delivery timed out while the broker was down";
  EXPECT_TRUE(Eventually([&] { return !relay_->stats().broker_reachable; }, absl::Seconds(10)));
  EXPECT_EQ(OutboxSize(), 200u) << "entries were removed without a successful delivery";
  EXPECT_THAT(relay_->Flush(absl::Milliseconds(300)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));

  ASSERT_THAT(broker_->SetAvailable(true), IsOk());
  ASSERT_THAT(relay_->Flush(absl::Seconds(20)), IsOk());
  EXPECT_EQ(OutboxSize(), 0u);
  EXPECT_TRUE(relay_->stats().broker_reachable);
  EXPECT_EQ(FirstSeenVersions(ConsumeEverything(std::chrono::seconds(15))), ExpectedVersions());
}

TEST_F(OutboxRelayTest, GivenDeliveredEvents_WhenBrokerRestartsEmpty_ThenAllArePublishedAgain) {
  StartRelay(Options());
  AppendInterleaved(/*streams=*/6, /*per_stream=*/50, /*batch=*/10);
  ASSERT_THAT(relay_->Flush(absl::Seconds(20)), IsOk());
  ASSERT_EQ(relay_->stats().requeues_after_loss, 0u);

  ASSERT_THAT(broker_->RestartEmpty(), IsOk());

  // The relay is idle: only the periodic watermark check can notice the loss.
  ASSERT_TRUE(
      Eventually([&] { return relay_->stats().requeues_after_loss > 0; }, absl::Seconds(15)))
      << "the relay did not notice that the broker lost everything";
  ASSERT_THAT(relay_->Flush(absl::Seconds(20)), IsOk());
  EXPECT_EQ(OutboxSize(), 0u);
  EXPECT_EQ(FirstSeenVersions(ConsumeEverything(std::chrono::seconds(15))), ExpectedVersions());
}

TEST_F(OutboxRelayTest,
       GivenDeliveredEvents_WhenBrokerRestartsEmptyAndMoreFollow_ThenLossSeenInDeliveryReports) {
  RelayOptions options = Options();
  options.loss_check_interval = absl::Hours(1);  // only delivery reports can reveal the loss
  StartRelay(options);
  AppendInterleaved(/*streams=*/6, /*per_stream=*/20, /*batch=*/10);
  ASSERT_THAT(relay_->Flush(absl::Seconds(20)), IsOk());

  ASSERT_THAT(broker_->RestartEmpty(), IsOk());
  AppendInterleaved(/*streams=*/6, /*per_stream=*/5, /*batch=*/5);

  ASSERT_TRUE(
      Eventually([&] { return relay_->stats().requeues_after_loss > 0; }, absl::Seconds(15)))
      << "the relay did not notice that the broker lost everything";
  ASSERT_THAT(relay_->Flush(absl::Seconds(20)), IsOk());
  EXPECT_EQ(OutboxSize(), 0u);
  // The new events reached the new broker before their delivery reports revealed the loss, so
  // they come first; the republication behind them holds every event, in order.
  EXPECT_EQ(RepublishedVersions(ConsumeEverything(std::chrono::seconds(15))), ExpectedVersions());
}

// A bare mock cluster, for the fault injection that EmbeddedBroker does not offer.
class MockCluster {
 public:
  MockCluster() {
    char errstr[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr));
    owner_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (owner_ == nullptr) return;
    cluster_ = rd_kafka_mock_cluster_new(owner_, 1);
    if (cluster_ != nullptr) rd_kafka_mock_topic_create(cluster_, kTopic, kPartitions, 1);
  }
  ~MockCluster() {
    if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);  // before its owner
    if (owner_ != nullptr) rd_kafka_destroy(owner_);
  }
  bool ok() const { return cluster_ != nullptr; }
  rd_kafka_mock_cluster_t* cluster() const { return cluster_; }
  std::string bootstrap_servers() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }

 private:
  rd_kafka_t* owner_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

TEST_F(OutboxRelayTest, GivenFatalIdempotenceError_WhenPublishing_ThenNewProducerDeliversAll) {
  MockCluster mock;
  ASSERT_TRUE(mock.ok());
  RelayOptions options = Options();
  options.bootstrap_servers = mock.bootstrap_servers();
  StartRelay(options);
  AppendInterleaved(/*streams=*/5, /*per_stream=*/10, /*batch=*/5);
  ASSERT_THAT(relay_->Flush(absl::Seconds(10)), IsOk());
  const uint64_t failures_before = relay_->stats().delivery_failures;

  // The head-of-line request refused as out of sequence: librdkafka cannot tell what the broker
  // holds and makes the idempotent producer fail for good (rd_kafka_fatal_error).
  constexpr int16_t kProduceApi = 0;
  rd_kafka_mock_push_request_errors(mock.cluster(), kProduceApi, 1,
                                    RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
  AppendInterleaved(/*streams=*/5, /*per_stream=*/10, /*batch=*/5);

  ASSERT_THAT(relay_->Flush(absl::Seconds(15)), IsOk());
  EXPECT_GT(relay_->stats().delivery_failures, failures_before);
  EXPECT_EQ(OutboxSize(), 0u);
  const std::vector<Record> records =
      ConsumeEverything(mock.bootstrap_servers(), std::chrono::seconds(15));
  EXPECT_EQ(FirstSeenVersions(records), ExpectedVersions());
  relay_->Stop();  // before `mock` goes away
}

TEST_F(OutboxRelayTest, GivenBrokerDown_WhenStopped_ThenStopsPromptlyAndOutboxKeepsTheRest) {
  StartRelay(Options());
  AppendInterleaved(/*streams=*/2, /*per_stream=*/5, /*batch=*/5);
  ASSERT_THAT(relay_->Flush(absl::Seconds(10)), IsOk());
  ASSERT_THAT(broker_->SetAvailable(false), IsOk());
  AppendInterleaved(/*streams=*/4, /*per_stream=*/5, /*batch=*/5);
  // All 20 produced and waiting, and the watcher checking against the unreachable broker.
  ASSERT_TRUE(Eventually([&] { return relay_->stats().backlog == 20; }, absl::Seconds(10)));
  ASSERT_TRUE(Eventually([&] { return !relay_->stats().broker_reachable; }, absl::Seconds(10)));

  const absl::Time stopping = absl::Now();
  relay_->Stop();
  EXPECT_LT(absl::Now() - stopping, absl::Seconds(3));
  EXPECT_EQ(OutboxSize(), 20u);
  EXPECT_THAT(relay_->Flush(absl::Seconds(1)), StatusIs(absl::StatusCode::kFailedPrecondition));

  // The next relay picks up where this one stopped.
  ASSERT_THAT(broker_->SetAvailable(true), IsOk());
  StartRelay(Options());
  ASSERT_THAT(relay_->Flush(absl::Seconds(15)), IsOk());
  EXPECT_EQ(OutboxSize(), 0u);
  EXPECT_EQ(FirstSeenVersions(ConsumeEverything(std::chrono::seconds(15))), ExpectedVersions());
}

}  // namespace
}  // namespace es::outbox
