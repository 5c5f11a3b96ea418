#include "libs/storage/event_store.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/storage/view_store.h"
#include "rocksdb/write_batch.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace es::storage {
namespace {

using ::es::testing::IsOk;
using ::es::testing::StatusIs;
using ::es::testing::TempDir;

eventing::v1::StoredEvent Event(const std::string& stream, int64_t version) {
  eventing::v1::StoredEvent event;
  event.set_event_id(stream + "-" + std::to_string(version));
  event.set_stream_id(stream);
  event.set_stream_version(version);
  event.set_type("test.Happened");
  event.set_topic("test.events.v1");
  event.set_partition_key("key-" + stream);
  event.set_payload(std::string(100, 'x'));
  return event;
}

AppendRequest Request(const std::string& stream, int64_t expected, int count = 1) {
  AppendRequest request;
  request.stream_id = stream;
  request.expected_version = expected;
  for (int i = 1; i <= count; ++i) request.events.push_back(Event(stream, expected + i));
  request.state = "state@" + std::to_string(expected + count);
  request.view_writes.push_back({"view/" + stream, request.state});
  return request;
}

class EventStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = RocksDb::Open({.path = dir_.Sub("db")});
    ASSERT_THAT(db, IsOk());
    db_ = std::move(*db);
    store_ = std::make_unique<EventStore>(*db_);
  }
  void Reopen() {
    store_.reset();
    db_.reset();
    SetUp();
  }
  TempDir dir_;
  std::unique_ptr<RocksDb> db_;
  std::unique_ptr<EventStore> store_;
};

TEST_F(EventStoreTest, GivenNewStream_WhenAppended_ThenEventsHeadViewAndOutboxAreStored) {
  auto result = store_->Append(Request("s1", 0, 2));
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->version, 2);

  auto events = store_->ReadStream("s1");
  ASSERT_THAT(events, IsOk());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[1].stream_version(), 2);
  auto head = store_->ReadHead("s1");
  ASSERT_THAT(head, IsOk());
  ASSERT_TRUE(head->has_value());
  EXPECT_EQ((*head)->state(), "state@2");
  ViewStore views(*db_);
  auto row = views.Get("view/s1");
  ASSERT_THAT(row, IsOk());
  EXPECT_EQ(row->value_or(""), "state@2");
  auto outbox = store_->ReadOutbox(0, 10);
  ASSERT_THAT(outbox, IsOk());
  ASSERT_EQ(outbox->size(), 2u);
  EXPECT_EQ((*outbox)[0].event.event_id(), "s1-1");
  EXPECT_LT((*outbox)[0].sequence, (*outbox)[1].sequence);
}

TEST_F(EventStoreTest, GivenStreamAtVersion1_WhenAppendExpectsVersion0_ThenAborted) {
  ASSERT_THAT(store_->Append(Request("s1", 0)), IsOk());
  EXPECT_THAT(store_->Append(Request("s1", 0)), StatusIs(absl::StatusCode::kAborted));
  auto events = store_->ReadStream("s1");
  ASSERT_THAT(events, IsOk());
  EXPECT_EQ(events->size(), 1u);
}

TEST_F(EventStoreTest, GivenManyConcurrentAppendsOnOneVersion_ThenExactlyOneWins) {
  ASSERT_THAT(store_->Append(Request("shared", 0)), IsOk());
  constexpr int kWriters = 16;
  std::atomic<int> won{0}, aborted{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&] {
      auto result = store_->Append(Request("shared", 1));
      if (result.ok()) {
        ++won;
      } else if (result.status().code() == absl::StatusCode::kAborted) {
        ++aborted;
      } else {
        ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(aborted.load(), kWriters - 1);
  EXPECT_EQ(other.load(), 0);
  auto head = store_->ReadHead("shared");
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ((*head)->version(), 2);
  const EventStoreStats stats = store_->stats();
  EXPECT_EQ(stats.appends_committed, 2u);
  EXPECT_EQ(stats.events_committed, 2u);
  EXPECT_EQ(stats.appends_conflicted, uint64_t{kWriters - 1});
  EXPECT_GE(stats.groups_committed, 2u);
  EXPECT_EQ(stats.appends_failed_storage, 0u);
}

TEST_F(EventStoreTest, GivenAppliedKey_WhenSameCommandRetried_ThenReplayedAndNothingWritten) {
  AppendRequest first = Request("s1", 0);
  first.idempotency_key = "k1";
  first.fingerprint = "f1";
  ASSERT_THAT(store_->Append(first), IsOk());

  AppendRequest retry = Request("s1", 1);  // decided again against the newer head
  retry.idempotency_key = "k1";
  retry.fingerprint = "f1";
  auto result = store_->Append(retry);
  ASSERT_THAT(result, IsOk());
  EXPECT_TRUE(result->replayed);
  EXPECT_EQ(result->version, 1);
  EXPECT_EQ(store_->ReadStream("s1")->size(), 1u);

  AppendRequest other = Request("s1", 1);
  other.idempotency_key = "k1";
  other.fingerprint = "different";
  EXPECT_THAT(store_->Append(other), StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST_F(EventStoreTest, GivenBadVersions_WhenAppended_ThenInvalidArgument) {
  AppendRequest request = Request("s1", 0);
  request.events[0].set_stream_version(5);
  EXPECT_THAT(store_->Append(request), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(EventStoreTest, GivenOutboxEntriesRemoved_WhenRequeued_ThenAllEventsAreBackInOrder) {
  ASSERT_THAT(store_->Append(Request("a", 0, 2)), IsOk());
  ASSERT_THAT(store_->Append(Request("b", 0, 1)), IsOk());
  auto outbox = store_->ReadOutbox(0, 10);
  ASSERT_THAT(outbox, IsOk());
  ASSERT_EQ(outbox->size(), 3u);
  ASSERT_THAT(store_->MarkOutboxDelivered(outbox->back().sequence), IsOk());
  EXPECT_TRUE(store_->ReadOutbox(0, 10)->empty());

  auto requeued = store_->RequeueAllForPublication();
  ASSERT_THAT(requeued, IsOk());
  EXPECT_EQ(*requeued, 3u);
  auto again = store_->ReadOutbox(0, 10);
  ASSERT_THAT(again, IsOk());
  ASSERT_EQ(again->size(), 3u);
  EXPECT_EQ((*again)[0].event.event_id(), "a-1");
  EXPECT_EQ((*again)[2].event.event_id(), "b-1");
}

std::vector<std::string> EventIds(const std::vector<OutboxEntry>& entries) {
  std::vector<std::string> ids;
  for (const OutboxEntry& entry : entries) ids.push_back(entry.event.event_id());
  return ids;
}

TEST_F(EventStoreTest, GivenDeliveredPrefix_WhenReopened_ThenOutboxStartsAfterIt) {
  ASSERT_THAT(store_->Append(Request("a", 0, 2)), IsOk());
  ASSERT_THAT(store_->Append(Request("b", 0, 2)), IsOk());
  auto outbox = store_->ReadOutbox(0, 10);
  ASSERT_THAT(outbox, IsOk());
  ASSERT_EQ(outbox->size(), 4u);
  ASSERT_THAT(store_->MarkOutboxDelivered((*outbox)[1].sequence), IsOk());
  // An older mark never moves the cursor back.
  ASSERT_THAT(store_->MarkOutboxDelivered((*outbox)[0].sequence), IsOk());

  Reopen();

  EXPECT_EQ(store_->OutboxDeliveredThrough(), (*outbox)[1].sequence);
  auto rest = store_->ReadOutbox(0, 10);
  ASSERT_THAT(rest, IsOk());
  EXPECT_THAT(EventIds(*rest), ::testing::ElementsAre("b-1", "b-2"));
  // The log itself keeps every event.
  auto log = store_->ReadLog(0, 10);
  ASSERT_THAT(log, IsOk());
  EXPECT_EQ(log->size(), 4u);
}

TEST_F(EventStoreTest, GivenEntriesTakenFromMemory_WhenReadAgain_ThenTheyComeFromRocksDb) {
  ASSERT_THAT(store_->Append(Request("a", 0, 3)), IsOk());
  auto first = store_->ReadOutbox(0, 10);  // served from the entries kept in memory
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(EventIds(*first), ::testing::ElementsAre("a-1", "a-2", "a-3"));
  // A relay that rewinds (a failed delivery) asks again for what it already took.
  auto again = store_->ReadOutbox(0, 10);
  ASSERT_THAT(again, IsOk());
  EXPECT_THAT(EventIds(*again), ::testing::ElementsAre("a-1", "a-2", "a-3"));
  for (size_t i = 0; i < again->size(); ++i) {
    EXPECT_EQ((*again)[i].sequence, (*first)[i].sequence);
    EXPECT_EQ((*again)[i].event.SerializeAsString(), (*first)[i].event.SerializeAsString());
  }
  auto tail = store_->ReadOutbox((*first)[0].sequence, 1);
  ASSERT_THAT(tail, IsOk());
  EXPECT_THAT(EventIds(*tail), ::testing::ElementsAre("a-2"));
}

TEST_F(EventStoreTest, GivenMoreEntriesThanKeptInMemory_WhenRead_ThenNoneIsMissingOrRepeated) {
  store_.reset();
  store_ = std::make_unique<EventStore>(*db_, EventStoreOptions{.recent_outbox_entries = 3});
  for (const char* stream : {"a", "b", "c", "d"}) {
    ASSERT_THAT(store_->Append(Request(stream, 0, 2)), IsOk());
  }
  std::vector<std::string> read;
  uint64_t after = 0;
  for (size_t limit : {1, 2, 4, 10}) {
    auto entries = store_->ReadOutbox(after, limit);
    ASSERT_THAT(entries, IsOk());
    for (const OutboxEntry& entry : *entries) {
      EXPECT_EQ(entry.sequence, after + 1);
      after = entry.sequence;
      read.push_back(entry.event.event_id());
    }
  }
  EXPECT_THAT(read, ::testing::ElementsAre("a-1", "a-2", "b-1", "b-2", "c-1", "c-2", "d-1", "d-2"));
}

TEST(EventStoreLegacyOutboxTest, GivenOutboxRowsOfTheOldLayout_WhenOpened_ThenUndeliveredStay) {
  TempDir dir;
  {
    auto db = RocksDb::Open({.path = dir.Sub("db")});
    ASSERT_THAT(db, IsOk());
    {
      EventStore store(**db);
      for (const char* stream : {"a", "b", "c"})
        ASSERT_THAT(store.Append(Request(stream, 0)), IsOk());
    }
    // What an older version left behind: the cursor row absent, one outbox row per
    // undelivered entry (sequences 2 and 3: "a-1" was delivered and removed).
    rocksdb::WriteBatch batch;
    rocksdb::ColumnFamilyHandle* outbox = (*db)->handle(Family::kOutbox);
    batch.Delete(outbox, "delivered_through");
    batch.Put(outbox, EncodeBigEndian64(2), EventStore::EventKey("b", 1));
    batch.Put(outbox, EncodeBigEndian64(3), EventStore::EventKey("c", 1));
    ASSERT_THAT((*db)->Write(batch), IsOk());
  }
  auto db = RocksDb::Open({.path = dir.Sub("db")});
  ASSERT_THAT(db, IsOk());
  EventStore store(**db);
  EXPECT_EQ(store.OutboxDeliveredThrough(), 1u);
  auto outbox = store.ReadOutbox(0, 10);
  ASSERT_THAT(outbox, IsOk());
  EXPECT_THAT(EventIds(*outbox), ::testing::ElementsAre("b-1", "c-1"));
}

TEST(EventStoreLegacyOutboxTest, GivenEmptyOutboxOfTheOldLayout_WhenOpened_ThenAllWasDelivered) {
  TempDir dir;
  {
    auto db = RocksDb::Open({.path = dir.Sub("db")});
    ASSERT_THAT(db, IsOk());
    {
      EventStore store(**db);
      ASSERT_THAT(store.Append(Request("a", 0, 2)), IsOk());
    }
    rocksdb::WriteBatch batch;
    batch.Delete((*db)->handle(Family::kOutbox), "delivered_through");
    ASSERT_THAT((*db)->Write(batch), IsOk());
  }
  auto db = RocksDb::Open({.path = dir.Sub("db")});
  ASSERT_THAT(db, IsOk());
  EventStore store(**db);
  EXPECT_EQ(store.OutboxDeliveredThrough(), 2u);
  auto outbox = store.ReadOutbox(0, 10);
  ASSERT_THAT(outbox, IsOk());
  EXPECT_TRUE(outbox->empty());
}

TEST_F(EventStoreTest, GivenFeedRows_WhenAppendsCommit_ThenFeedKeysFollowCommitOrder) {
  std::vector<std::string> order;
  for (const char* stream : {"b", "a", "c"}) {
    AppendRequest request = Request(stream, 0, 2);
    request.feed_rows.push_back({"feed/x/", stream});
    ASSERT_THAT(store_->Append(request), IsOk());
    order.push_back(stream);
  }
  ViewStore views(*db_);
  auto rows = views.Scan("feed/x/", "", 10);
  ASSERT_THAT(rows, IsOk());
  ASSERT_EQ(rows->size(), 3u);
  for (size_t i = 0; i < rows->size(); ++i) {
    EXPECT_EQ((*rows)[i].value, order[i]);
    // The key ends with the sequence of the append's last event: 2, 4, 6.
    EXPECT_EQ(DecodeBigEndian64((*rows)[i].key.substr(7)), 2 * (i + 1));
  }
}

TEST_F(EventStoreTest, GivenReopenedStore_WhenAppending_ThenSequenceContinues) {
  ASSERT_THAT(store_->Append(Request("a", 0, 2)), IsOk());
  Reopen();
  ASSERT_THAT(store_->Append(Request("b", 0)), IsOk());
  auto log = store_->ReadLog(0, 10);
  ASSERT_THAT(log, IsOk());
  ASSERT_EQ(log->size(), 3u);
  EXPECT_EQ((*log)[2].sequence, 3u);
}

// A child process appends as fast as it can and is killed with SIGKILL mid-stream. Every stream
// must then be whole: head version == number of events == number of log rows for it, and each
// head's view row matches the head, i.e. no batch was half applied.
TEST(EventStoreCrashTest, GivenProcessKilledDuringWrites_WhenReopened_ThenNoHalfWrittenBatch) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto db = RocksDb::Open({.path = path});
    if (!db.ok()) _exit(3);
    EventStore store(**db);
    std::vector<std::thread> writers;
    for (int w = 0; w < 4; ++w) {
      writers.emplace_back([&store, w] {
        for (int64_t v = 0;; v += 3) {
          for (int s = 0; s < 8; ++s) {
            std::string stream = "w" + std::to_string(w) + "-s" + std::to_string(s);
            if (!store.Append(Request(stream, v, 3)).ok()) _exit(4);
          }
        }
      });
    }
    for (auto& t : writers) t.join();
    _exit(0);
  }
  // Let it write for a while, then kill it without warning.
  usleep(400 * 1000);
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with " << WEXITSTATUS(status);

  auto db = RocksDb::Open({.path = path});
  ASSERT_THAT(db, IsOk());
  EventStore store(**db);
  ViewStore views(**db);
  auto log = store.ReadLog(0, 10'000'000);
  ASSERT_THAT(log, IsOk());
  ASSERT_GT(log->size(), 0u) << "the child wrote nothing before it was killed";
  std::map<std::string, int64_t> logged;
  for (const auto& entry : *log) ++logged[entry.event.stream_id()];
  for (int w = 0; w < 4; ++w) {
    for (int s = 0; s < 8; ++s) {
      std::string stream = "w" + std::to_string(w) + "-s" + std::to_string(s);
      auto head = store.ReadHead(stream);
      ASSERT_THAT(head, IsOk());
      int64_t version = head->has_value() ? (*head)->version() : 0;
      EXPECT_EQ(version % 3, 0) << stream;
      EXPECT_EQ(static_cast<int64_t>(store.ReadStream(stream)->size()), version) << stream;
      EXPECT_EQ(logged[stream], version) << stream;
      auto row = views.Get("view/" + stream);
      ASSERT_THAT(row, IsOk());
      if (version > 0) {
        EXPECT_EQ(row->value_or(""), "state@" + std::to_string(version)) << stream;
      }
    }
  }
}

}  // namespace
}  // namespace es::storage
