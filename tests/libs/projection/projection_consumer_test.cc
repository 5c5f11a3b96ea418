#include "libs/projection/projection_consumer.h"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/kafka/embedded_broker.h"
#include "libs/storage/rocks_db.h"
#include "libs/storage/view_store.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace es::projection {
namespace {

using ::es::testing::IsOk;
using ::es::testing::StatusIs;
using ::es::testing::TempDir;
using ::testing::Contains;
using ::testing::Pair;
using ::testing::StartsWith;

constexpr char kTopic[] = "test.events.v1";
constexpr char kDeadLetterTopic[] = "test.events.v1.dlq";
constexpr char kGroup[] = "test-projection";
constexpr int kPartitions = 4;
constexpr char kBadValue[] = "value is not stream:version:payload";
// Long enough for a group join (~3.1 s on the mock) plus a rebalance, on a loaded machine.
constexpr absl::Duration kWait = absl::Seconds(20);

// Test projector: value "stream:version:payload". Keeps, per stream, "count/<stream>" (events
// applied) and "trail/<stream>" (the versions applied, in order: "1,2,3"), and, per event,
// "hits/<stream>/<version>" (times applied; must stay 1). All are read-modify-write through the
// ViewReader, so they are only right if later records of a batch see the writes of earlier ones.
class CountingProjector : public Projector {
 public:
  absl::StatusOr<Projection> Project(const ConsumedRecord& record,
                                     const ViewReader& views) override {
    std::vector<std::string> parts = absl::StrSplit(record.value, absl::MaxSplits(':', 2));
    int64_t version = 0;
    if (parts.size() != 3 || parts[0].empty() || !absl::SimpleAtoi(parts[1], &version)) {
      return absl::InvalidArgumentError(kBadValue);
    }
    {
      absl::MutexLock lock(&mu_);
      seen_.insert({parts[0], version});
    }
    Projection projection{.stream_id = parts[0], .version = version, .writes = {}};
    for (const std::string& key :
         {absl::StrCat("count/", parts[0]), absl::StrCat("hits/", parts[0], "/", version)}) {
      absl::StatusOr<std::optional<std::string>> row = views.Get(key);
      if (!row.ok()) return row.status();
      int64_t n = 0;
      if (row->has_value() && !absl::SimpleAtoi(**row, &n)) {
        return absl::InternalError("bad counter");
      }
      projection.writes.push_back({key, absl::StrCat(n + 1)});
    }
    const std::string trail_key = absl::StrCat("trail/", parts[0]);
    absl::StatusOr<std::optional<std::string>> trail = views.Get(trail_key);
    if (!trail.ok()) return trail.status();
    projection.writes.push_back({trail_key, trail->has_value() ? absl::StrCat(**trail, ",", version)
                                                               : absl::StrCat(version)});
    return projection;
  }

  // Every (stream, version) this projector was shown.
  std::set<std::pair<std::string, int64_t>> seen() const {
    absl::MutexLock lock(&mu_);
    return seen_;
  }

 private:
  mutable absl::Mutex mu_;
  std::set<std::pair<std::string, int64_t>> seen_ ABSL_GUARDED_BY(mu_);
};

struct Record {
  std::string key;
  std::string value;
  int32_t partition = 0;
  int64_t offset = 0;
  std::map<std::string, std::string> headers;
};

// Idempotent test producer; Flush() fails the test on any undelivered record.
class TestProducer {
 public:
  explicit TestProducer(const std::string& bootstrap) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char errstr[512];
    for (auto [name, value] :
         std::vector<std::pair<const char*, std::string>>{{"bootstrap.servers", bootstrap},
                                                          {"enable.idempotence", "true"},
                                                          {"linger.ms", "0"}}) {
      EXPECT_EQ(rd_kafka_conf_set(conf, name, value.c_str(), errstr, sizeof(errstr)),
                RD_KAFKA_CONF_OK);
    }
    rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* self) {
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) ++static_cast<TestProducer*>(self)->failures_;
    });
    rd_kafka_conf_set_opaque(conf, this);
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    EXPECT_NE(rk_, nullptr) << errstr;
  }
  ~TestProducer() { rd_kafka_destroy(rk_); }

  void Produce(const std::string& key, const std::string& value, int32_t partition,
               const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    rd_kafka_headers_t* hdrs = rd_kafka_headers_new(headers.size());
    for (const auto& [name, v] : headers) {
      rd_kafka_header_add(hdrs, name.data(), static_cast<ssize_t>(name.size()), v.data(),
                          static_cast<ssize_t>(v.size()));
    }
    ASSERT_EQ(rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(kTopic), RD_KAFKA_V_PARTITION(partition),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_KEY(key.data(), key.size()),
                                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  // "stream:version:p" keyed by stream, to partition `stream_index % kPartitions`; with a
  // CloudEvents id header "<stream>@<version>" if `with_ce_id`.
  void ProduceEvent(int stream_index, int64_t version, bool with_ce_id = false) {
    const std::string stream = Stream(stream_index);
    std::vector<std::pair<std::string, std::string>> headers;
    if (with_ce_id) headers.emplace_back("ce_id", absl::StrCat(stream, "@", version));
    Produce(stream, absl::StrCat(stream, ":", version, ":p"), stream_index % kPartitions, headers);
  }
  void Flush() {
    ASSERT_EQ(rd_kafka_flush(rk_, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    ASSERT_EQ(failures_.load(), 0);
  }

  static std::string Stream(int index) { return absl::StrCat("s", index); }

 private:
  rd_kafka_t* rk_ = nullptr;
  std::atomic<int> failures_{0};
};

// Reads `count` records of one partition with assign() (librdkafka still wants a group.id; no
// group is joined), or fewer by the deadline.
std::vector<Record> ReadPartition(const std::string& bootstrap, const std::string& topic,
                                  int32_t partition, size_t count) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), errstr, sizeof(errstr));
  rd_kafka_conf_set(conf, "group.id", "test-reader", errstr, sizeof(errstr));
  rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", errstr, sizeof(errstr));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), partition)->offset = 0;
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  std::vector<Record> records;
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (records.size() < count && absl::Now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      Record record;
      record.key.assign(static_cast<const char*>(m->key), m->key_len);
      record.value.assign(static_cast<const char*>(m->payload), m->len);
      record.partition = m->partition;
      record.offset = m->offset;
      rd_kafka_headers_t* headers = nullptr;
      if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* value;
        size_t size;
        for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
                           RD_KAFKA_RESP_ERR_NO_ERROR;
             ++i) {
          record.headers[name] = std::string(static_cast<const char*>(value), size);
        }
      }
      records.push_back(std::move(record));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return records;
}

// Offsets committed to Kafka by `group`, per partition of kTopic (-1001 when none).
std::map<int32_t, int64_t> CommittedOffsets(const std::string& bootstrap) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), errstr, sizeof(errstr));
  rd_kafka_conf_set(conf, "group.id", kGroup, errstr, sizeof(errstr));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(kPartitions);
  for (int32_t p = 0; p < kPartitions; ++p) rd_kafka_topic_partition_list_add(list, kTopic, p);
  std::map<int32_t, int64_t> offsets;
  if (rd_kafka_committed(rk, list, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < list->cnt; ++i) offsets[list->elems[i].partition] = list->elems[i].offset;
  }
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_destroy(rk);
  return offsets;
}

// Commits `offset` for every partition of kTopic as `group`, without joining it.
void CommitToKafka(const std::string& bootstrap, int64_t offset) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), errstr, sizeof(errstr));
  rd_kafka_conf_set(conf, "group.id", kGroup, errstr, sizeof(errstr));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(kPartitions);
  for (int32_t p = 0; p < kPartitions; ++p) {
    rd_kafka_topic_partition_list_add(list, kTopic, p)->offset = offset;
  }
  EXPECT_EQ(rd_kafka_commit(rk, list, /*async=*/0), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_destroy(rk);
}

// Polls `condition` every 10 ms until it holds or `timeout` passes.
bool WaitUntil(const std::function<bool()>& condition, absl::Duration timeout = kWait) {
  absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

class ProjectionConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto broker =
        kafka::EmbeddedBroker::Start({.topics = {{kTopic, kPartitions}, {kDeadLetterTopic, 1}}});
    ASSERT_THAT(broker, IsOk());
    broker_ = std::move(*broker);
    bootstrap_ = broker_->bootstrap_servers();
    db_ = OpenDb("db");
    producer_ = std::make_unique<TestProducer>(bootstrap_);
  }

  std::unique_ptr<storage::RocksDb> OpenDb(const std::string& name) {
    auto db = storage::RocksDb::Open({.path = dir_.Sub(name), .sync_wal = false});
    EXPECT_THAT(db, IsOk());
    return db.ok() ? std::move(*db) : nullptr;
  }

  ConsumerOptions Options() const {
    return ConsumerOptions{.bootstrap_servers = bootstrap_,
                           .group_id = kGroup,
                           .topics = {kTopic},
                           .dead_letter_topic = kDeadLetterTopic,
                           // The mock expires a member whose session is shorter than its
                           // fixed 3 s initial rebalance delay: below ~3000 ms the first
                           // join never completes. Later rebalances take this minus 1 s.
                           .kafka_config = {{"session.timeout.ms", "3500"},
                                            {"heartbeat.interval.ms", "500"},
                                            {"fetch.wait.max.ms", "10"}}};
  }

  std::unique_ptr<ProjectionConsumer> StartConsumer(storage::RocksDb& db, Projector& projector,
                                                    ConsumerOptions options) {
    auto consumer = std::make_unique<ProjectionConsumer>(db, projector, std::move(options));
    EXPECT_THAT(consumer->Start(), IsOk());
    return consumer;
  }
  std::unique_ptr<ProjectionConsumer> StartConsumer(Projector& projector) {
    return StartConsumer(*db_, projector, Options());
  }

  // Produces versions [from, to] of streams s<first>..s<first+streams-1>.
  void ProduceEvents(int streams, int64_t from, int64_t to, int first = 0,
                     bool with_ce_id = false) {
    for (int64_t version = from; version <= to; ++version) {
      for (int s = first; s < first + streams; ++s) producer_->ProduceEvent(s, version, with_ce_id);
    }
    producer_->Flush();
  }

  std::string Row(const std::string& key, storage::RocksDb* db = nullptr) const {
    storage::ViewStore views(db != nullptr ? *db : *db_);
    auto row = views.Get(key);
    EXPECT_THAT(row, IsOk());
    return row.ok() ? row->value_or("") : "";
  }
  std::string Count(int stream, storage::RocksDb* db = nullptr) const {
    return Row(absl::StrCat("count/", TestProducer::Stream(stream)), db);
  }
  // Every event of streams [first, first + streams) and versions [1, versions] applied exactly
  // once.
  void ExpectEachAppliedOnce(int streams, int64_t versions, storage::RocksDb* db = nullptr,
                             int first = 0) {
    for (int s = first; s < first + streams; ++s) {
      EXPECT_EQ(Count(s, db), absl::StrCat(versions)) << TestProducer::Stream(s);
      for (int64_t v = 1; v <= versions; ++v) {
        EXPECT_EQ(Row(absl::StrCat("hits/", TestProducer::Stream(s), "/", v), db), "1")
            << TestProducer::Stream(s) << " v" << v;
      }
    }
  }
  int64_t StoredOffsetTotal(storage::RocksDb& db) const {
    auto checkpoint = storage::ViewStore(db).ReadCheckpoint(kGroup);
    EXPECT_THAT(checkpoint, IsOk());
    int64_t total = 0;
    if (checkpoint.ok()) {
      for (const auto& [tp, offset] : *checkpoint) total += offset;
    }
    return total;
  }

  TempDir dir_;
  std::unique_ptr<kafka::EmbeddedBroker> broker_;
  std::string bootstrap_;
  std::unique_ptr<storage::RocksDb> db_;
  std::unique_ptr<TestProducer> producer_;
};

TEST_F(ProjectionConsumerTest, GivenEventsInTopic_WhenConsumerStarts_ThenViewsHoldThemAndCatchUp) {
  ProduceEvents(/*streams=*/8, 1, 25);
  CountingProjector projector;

  auto consumer = StartConsumer(projector);
  EXPECT_FALSE(consumer->caught_up());  // the group join alone takes about 3 s
  ASSERT_TRUE(WaitUntil([&] { return consumer->caught_up(); }));

  // caught_up promises the views already hold everything that was there at start-up.
  ConsumerStats stats = consumer->stats();
  EXPECT_EQ(stats.applied, 200u);
  EXPECT_EQ(stats.duplicates_skipped, 0u);
  EXPECT_EQ(stats.dead_lettered, 0u);
  EXPECT_TRUE(stats.caught_up);
  // 25 read-modify-writes per stream land in few batches: the counts need the overlay.
  EXPECT_LT(stats.batches, 200u);
  ExpectEachAppliedOnce(8, 25);
  EXPECT_EQ(StoredOffsetTotal(*db_), 200);
  storage::ViewStore views(*db_);
  auto applied = views.Get(AppliedVersionKey(kGroup, "s3"));
  ASSERT_THAT(applied, IsOk());
  EXPECT_EQ(applied->value_or(""), storage::EncodeBigEndian64(25));
}

TEST_F(ProjectionConsumerTest, GivenAppliedEvents_WhenPublishedAgain_ThenViewsUnchanged) {
  ProduceEvents(/*streams=*/8, 1, 5);
  CountingProjector projector;
  auto consumer = StartConsumer(projector);
  ASSERT_TRUE(WaitUntil([&] { return consumer->stats().applied == 40; }));

  ProduceEvents(/*streams=*/8, 1, 5);  // a relay publishing the same events again

  ASSERT_TRUE(WaitUntil([&] { return consumer->stats().duplicates_skipped == 40; }));
  EXPECT_EQ(consumer->stats().applied, 40u);
  ExpectEachAppliedOnce(8, 5);
  EXPECT_EQ(StoredOffsetTotal(*db_), 80);  // the duplicates' offsets still advance
}

TEST_F(ProjectionConsumerTest, GivenStoppedConsumer_WhenRestarted_ThenResumesAtStoredOffsets) {
  ProduceEvents(/*streams=*/8, 1, 5);
  CountingProjector first_projector;
  auto first = StartConsumer(first_projector);
  ASSERT_TRUE(WaitUntil([&] { return first->stats().applied == 40; }));
  first->Stop();
  EXPECT_EQ(StoredOffsetTotal(*db_), 40);
  // Kafka got the same offsets, after the RocksDB batches.
  std::map<int32_t, int64_t> committed = CommittedOffsets(bootstrap_);
  auto stored = storage::ViewStore(*db_).ReadCheckpoint(kGroup);
  ASSERT_THAT(stored, IsOk());
  for (const auto& [tp, offset] : *stored) {
    EXPECT_THAT(committed, Contains(Pair(tp.second, offset)));
    // The record before each stored offset is fingerprinted in the same batch (no ce_id
    // header here: a hash of key and value).
    EXPECT_THAT(Row(ResumeFingerprintKey(kGroup, tp.first, tp.second)), StartsWith("fnv:"))
        << tp.second;
  }

  CountingProjector second_projector;
  auto second = StartConsumer(second_projector);
  ProduceEvents(/*streams=*/8, 6, 8);

  ASSERT_TRUE(WaitUntil([&] { return second->stats().applied == 24; }));
  EXPECT_EQ(second->stats().duplicates_skipped, 0u);
  // Nothing before the stored offsets was even read again, and the record just before each,
  // read to confirm that the log is the same, was not projected again.
  for (const auto& [stream, version] : second_projector.seen()) EXPECT_GT(version, 5) << stream;
  EXPECT_EQ(second_projector.seen().size(), 24u);
  ExpectEachAppliedOnce(8, 8);
}

TEST_F(ProjectionConsumerTest, GivenPoisonRecord_WhenConsumed_ThenDeadLetteredAndPartitionMovesOn) {
  producer_->Produce("s1", "s1:1:p", 2);
  producer_->Produce("s1", "garbage", 2, {{"ce_type", "test.Happened"}, {"ce_id", "e-2"}});
  producer_->Produce("s1", "s1:2:p", 2);
  producer_->Produce("s1", "s1:3:p", 2);
  producer_->Flush();
  CountingProjector projector;

  auto consumer = StartConsumer(projector);

  // Partitions 0, 1 and 3 are empty: caught_up must not wait for them.
  ASSERT_TRUE(WaitUntil([&] { return consumer->caught_up(); }));
  ConsumerStats stats = consumer->stats();
  EXPECT_EQ(stats.applied, 3u);
  EXPECT_EQ(stats.dead_lettered, 1u);
  EXPECT_EQ(Row("count/s1"), "3");
  auto checkpoint = storage::ViewStore(*db_).ReadCheckpoint(kGroup);
  ASSERT_THAT(checkpoint, IsOk());
  EXPECT_THAT(*checkpoint, Contains(Pair(std::pair<std::string, int32_t>(kTopic, 2), 4)));

  std::vector<Record> letters = ReadPartition(bootstrap_, kDeadLetterTopic, 0, 1);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].key, "s1");
  EXPECT_EQ(letters[0].value, "garbage");
  EXPECT_EQ(letters[0].headers["dlq_reason"], kBadValue);
  EXPECT_EQ(letters[0].headers["dlq_topic"], kTopic);
  EXPECT_EQ(letters[0].headers["dlq_partition"], "2");
  EXPECT_EQ(letters[0].headers["dlq_offset"], "1");
  EXPECT_EQ(letters[0].headers["ce_type"], "test.Happened");
  EXPECT_EQ(letters[0].headers["ce_id"], "e-2");
}

TEST_F(ProjectionConsumerTest, GivenCheckpointPastEnd_WhenConsumerStarts_ThenStartsFromEarliest) {
  // As after the embedded broker restarted empty: RocksDB remembers offsets the new log lacks.
  storage::Checkpoint stale;
  for (int32_t p = 0; p < kPartitions; ++p) stale[{kTopic, p}] = 1000;
  ASSERT_THAT(storage::ViewStore(*db_).ApplyWithCheckpoint({}, kGroup, stale), IsOk());
  ProduceEvents(/*streams=*/4, 1, 3);
  CountingProjector projector;

  auto consumer = StartConsumer(projector);

  ASSERT_TRUE(WaitUntil([&] { return consumer->caught_up(); }));
  EXPECT_EQ(consumer->stats().applied, 12u);
  ExpectEachAppliedOnce(4, 3);
  EXPECT_EQ(StoredOffsetTotal(*db_), 12);
}

TEST_F(ProjectionConsumerTest, GivenKafkaOffsetsButEmptyViews_WhenConsumerStarts_ThenRebuilds) {
  ProduceEvents(/*streams=*/4, 1, 3);
  // Kafka's committed offsets say "all done", but RocksDB (e.g. views dropped for a rebuild)
  // has no checkpoint: the views must be rebuilt from the beginning.
  CommitToKafka(bootstrap_, 3);
  CountingProjector projector;

  auto consumer = StartConsumer(projector);

  ASSERT_TRUE(WaitUntil([&] { return consumer->caught_up(); }));
  EXPECT_EQ(consumer->stats().applied, 12u);
  ExpectEachAppliedOnce(4, 3);
}

TEST_F(ProjectionConsumerTest, GivenBatchInProgress_WhenPartitionsRevoked_ThenWrittenFirst) {
  ProduceEvents(/*streams=*/8, 1, 5);
  CountingProjector first_projector;
  ConsumerOptions holding = Options();
  holding.max_batch_wait = absl::Minutes(1);  // only a revocation (or Stop) writes the batch
  auto first = StartConsumer(*db_, first_projector, holding);
  ASSERT_TRUE(WaitUntil([&] { return first_projector.seen().size() == 40; }));
  ASSERT_EQ(first->stats().batches, 0u);

  // A second member (same views) joins: cooperative-sticky revokes half of the partitions.
  CountingProjector second_projector;
  auto second = StartConsumer(second_projector);
  ASSERT_TRUE(WaitUntil([&] { return first->stats().batches >= 1; }));
  EXPECT_EQ(first->stats().applied, 40u);
  ASSERT_TRUE(WaitUntil([&] { return second->caught_up(); }));
  ProduceEvents(/*streams=*/8, 6, 7);
  first->Stop();  // writes its second batch; its partitions move to `second`

  ASSERT_TRUE(WaitUntil([&] {
    for (int s = 0; s < 8; ++s) {
      if (Count(s) != "7") return false;
    }
    return true;
  }));
  ExpectEachAppliedOnce(8, 7);
  EXPECT_EQ(first->stats().applied + second->stats().applied, 56u);
  EXPECT_EQ(first->stats().duplicates_skipped + second->stats().duplicates_skipped, 0u);
  // The new member resumed at the revoked partitions' written offsets.
  for (const auto& [stream, version] : second_projector.seen()) EXPECT_GT(version, 5) << stream;
}

TEST_F(ProjectionConsumerTest, GivenRunningConsumer_WhenBrokerRestartsEmpty_ThenReadsNewLog) {
  ProduceEvents(/*streams=*/8, 1, 5);  // 10 records per partition
  CountingProjector projector;
  auto consumer = StartConsumer(projector);
  ASSERT_TRUE(WaitUntil([&] { return consumer->stats().applied == 40; }));

  ASSERT_THAT(broker_->RestartEmpty(), IsOk());
  for (int s = 10; s < 14; ++s) {  // 2 records per partition: the fetch positions are past them
    for (int64_t v = 1; v <= 2; ++v) producer_->ProduceEvent(s, v);
  }
  producer_->Flush();

  // The fetch positions reset to earliest at once (~0.5 s). The deadline is below session
  // timeout + rejoin (~7 s): the rejoin would also recover, through the assignment-time check,
  // but only after the views had been stale for that long.
  ASSERT_TRUE(WaitUntil([&] { return consumer->stats().applied == 48; }, absl::Seconds(3)));
  for (int s = 10; s < 14; ++s) EXPECT_EQ(Count(s), "2");
  ExpectEachAppliedOnce(8, 5);
}

TEST_F(ProjectionConsumerTest,
       GivenStoppedConsumer_WhenBrokerRestartsEmptyAndOtherRecordsPassItsOffsets_ThenAllApplied) {
  // s0..s9, 5 versions each: 15, 15, 10 and 10 records in partitions 0..3.
  ProduceEvents(/*streams=*/10, 1, 5, /*first=*/0, /*with_ce_id=*/true);
  CountingProjector first_projector;
  auto first = StartConsumer(first_projector);
  ASSERT_TRUE(WaitUntil([&] { return first->stats().applied == 50; }));
  first->Stop();
  ASSERT_EQ(StoredOffsetTotal(*db_), 50);

  // The broker loses everything while the consumer is away, and other records (as relays
  // republishing their history would produce) fill the new log beyond every stored offset:
  // 20 records per partition, none of them the one applied at the stored offset - 1.
  ASSERT_THAT(broker_->RestartEmpty(), IsOk());
  ProduceEvents(/*streams=*/16, 1, 5, /*first=*/20, /*with_ce_id=*/true);

  CountingProjector second_projector;
  auto second = StartConsumer(second_projector);
  ASSERT_TRUE(WaitUntil([&] { return second->stats().applied == 80; }))
      << "applied " << second->stats().applied << " of the new log's 80 records";
  ASSERT_TRUE(WaitUntil([&] { return second->caught_up(); }));
  ConsumerStats stats = second->stats();
  EXPECT_EQ(stats.applied, 80u);
  EXPECT_EQ(stats.duplicates_skipped, 0u);
  EXPECT_EQ(stats.gaps_skipped, 0u);
  ExpectEachAppliedOnce(16, 5, nullptr, /*first=*/20);
  ExpectEachAppliedOnce(10, 5);  // the views from the old log are untouched
  EXPECT_EQ(StoredOffsetTotal(*db_), 80);
  EXPECT_EQ(Row(ResumeFingerprintKey(kGroup, kTopic, 0)), "id:s32@5");  // last of partition 0
}

TEST_F(ProjectionConsumerTest, GivenVersionGap_WhenMissingVersionsFollow_ThenAppliedInOrder) {
  // As after a broker loss: v4 reached the new broker before the republication of v3 and v4.
  for (int64_t version : {1, 2, 4, 3, 4}) producer_->ProduceEvent(1, version);
  producer_->Flush();
  CountingProjector projector;

  auto consumer = StartConsumer(projector);

  ASSERT_TRUE(WaitUntil([&] { return consumer->caught_up(); }));
  ConsumerStats stats = consumer->stats();
  EXPECT_EQ(stats.applied, 4u);
  EXPECT_EQ(stats.gaps_skipped, 1u);
  EXPECT_EQ(stats.duplicates_skipped, 0u);
  EXPECT_EQ(stats.dead_lettered, 0u);
  EXPECT_EQ(Row("trail/s1"), "1,2,3,4");
  ExpectEachAppliedOnce(/*streams=*/1, /*versions=*/4, nullptr, /*first=*/1);
}

TEST_F(ProjectionConsumerTest, GivenVersionGapsAllowed_WhenVersionsSkipped_ThenAppliedAsTheyCome) {
  // A topic whose retention removed v1 and v2, and a late v3.
  for (int64_t version : {4, 6, 3}) producer_->ProduceEvent(1, version);
  producer_->Flush();
  CountingProjector projector;
  ConsumerOptions options = Options();
  options.allow_version_gaps = true;

  auto consumer = StartConsumer(*db_, projector, options);

  ASSERT_TRUE(WaitUntil([&] { return consumer->caught_up(); }));
  ConsumerStats stats = consumer->stats();
  EXPECT_EQ(stats.applied, 2u);
  EXPECT_EQ(stats.gaps_skipped, 0u);
  EXPECT_EQ(stats.duplicates_skipped, 1u);
  EXPECT_EQ(Row("trail/s1"), "4,6");
}

TEST(ProjectionConsumerOptionsTest, GivenBadOptions_WhenStarted_ThenInvalidArgument) {
  TempDir dir;
  auto db = storage::RocksDb::Open({.path = dir.Sub("db")});
  ASSERT_THAT(db, IsOk());
  CountingProjector projector;
  ConsumerOptions good{.bootstrap_servers = "127.0.0.1:1",
                       .group_id = "g",
                       .topics = {"t"},
                       .dead_letter_topic = "t.dlq"};
  std::vector<std::pair<std::string, std::function<void(ConsumerOptions&)>>> cases = {
      {"no group", [](ConsumerOptions& o) { o.group_id.clear(); }},
      {"no topics", [](ConsumerOptions& o) { o.topics.clear(); }},
      {"no dead-letter topic", [](ConsumerOptions& o) { o.dead_letter_topic.clear(); }},
      {"dead letters to itself", [](ConsumerOptions& o) { o.dead_letter_topic = "t"; }},
      {"empty batch", [](ConsumerOptions& o) { o.max_batch = 0; }},
      {"managed setting",
       [](ConsumerOptions& o) {
         o.kafka_config = {{"enable.auto.commit", "true"}};
       }},
      {"unknown setting",
       [](ConsumerOptions& o) {
         o.kafka_config = {{"no.such", "1"}};
       }},
      // Fails late in rd_kafka_new(), after the JSON-logging interceptor ran: this used to
      // crash the process (see es::runtime::AbandonConfAfterFailedNew).
      {"unreadable TLS key",
       [](ConsumerOptions& o) {
         o.kafka_config = {{"security.protocol", "ssl"},
                           {"ssl.certificate.location", "/nonexistent/user.crt"},
                           {"ssl.key.location", "/nonexistent/user.key"}};
       }},
  };
  for (auto& [name, mutate] : cases) {
    ConsumerOptions options = good;
    mutate(options);
    ProjectionConsumer consumer(**db, projector, options);
    EXPECT_THAT(consumer.Start(), StatusIs(absl::StatusCode::kInvalidArgument)) << name;
  }
  ProjectionConsumer consumer(**db, projector, good);
  EXPECT_THAT(consumer.Start(), IsOk());
  EXPECT_THAT(consumer.Start(), StatusIs(absl::StatusCode::kFailedPrecondition));
  consumer.Stop();
  consumer.Stop();
}

}  // namespace
}  // namespace es::projection
