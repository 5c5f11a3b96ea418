// The event store on a disk that fills up: appends fail with kUnavailable and write nothing,
// reads keep working, and appends succeed again by themselves once the disk has room.

#include <unistd.h>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/storage/event_store.h"
#include "libs/storage/view_store.h"
#include "tests/support/small_disk.h"
#include "tests/support/status_matchers.h"

namespace es::storage {
namespace {

using ::es::testing::IsOk;
using ::es::testing::SmallDisk;

constexpr size_t kPayloadBytes = 64 * 1024;

AppendRequest Request(const std::string& stream, int64_t expected) {
  AppendRequest request;
  request.stream_id = stream;
  request.expected_version = expected;
  eventing::v1::StoredEvent event;
  event.set_event_id(stream + "-" + std::to_string(expected + 1));
  event.set_stream_id(stream);
  event.set_stream_version(expected + 1);
  event.set_type("test.Happened");
  event.set_topic("test.events.v1");
  event.set_payload(std::string(kPayloadBytes, 'p'));
  request.events.push_back(std::move(event));
  request.state = "state@" + std::to_string(expected + 1);
  request.view_writes.push_back({"view/" + stream, request.state});
  return request;
}

class DiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "mounting a small tmpfs needs root";
    ASSERT_TRUE(disk_.mounted()) << "cannot mount a tmpfs: " << disk_.error();
    Open();
  }
  void Open() {
    // A small memtable, so that the write-ahead log's preallocation and the flushes fit the
    // small disk and the disk fills up after a few hundred appends.
    auto db = RocksDb::Open({.path = disk_.Sub("db"), .write_buffer_bytes = 1 << 20});
    ASSERT_THAT(db, IsOk());
    db_ = std::move(*db);
    store_ = std::make_unique<EventStore>(*db_);
  }
  void Close() {
    store_.reset();
    db_.reset();
  }
  // Appends to `stream` until one append fails; returns the failure, counting the successes.
  absl::Status AppendUntilFailure(const std::string& stream, int64_t& version) {
    for (int i = 0; i < 2000; ++i) {
      absl::StatusOr<AppendResult> result = store_->Append(Request(stream, version));
      if (!result.ok()) return result.status();
      version = result->version;
    }
    return absl::OkStatus();
  }

  SmallDisk disk_{48};
  std::unique_ptr<RocksDb> db_;
  std::unique_ptr<EventStore> store_;
};

TEST_F(DiskFullTest, GivenFullDisk_WhenAppending_ThenUnavailableNothingHalfWrittenAndRecovers) {
  int64_t version = 0;
  for (int i = 0; i < 5; ++i) {
    auto result = store_->Append(Request("s", version));
    ASSERT_THAT(result, IsOk());
    version = result->version;
  }

  // When the disk is full,
  ASSERT_GT(disk_.Fill(), 0u);
  absl::Status failure = AppendUntilFailure("s", version);

  // then appends fail as unavailable (retry later), not as a bug or a conflict,
  EXPECT_EQ(failure.code(), absl::StatusCode::kUnavailable) << failure;
  // (counted for the operators' metrics)
  EXPECT_GE(store_->stats().appends_failed_storage, 1u);
  EXPECT_EQ(store_->stats().appends_committed, static_cast<uint64_t>(version));
  // further appends keep failing the same way while it stays full,
  EXPECT_EQ(store_->Append(Request("s", version)).status().code(), absl::StatusCode::kUnavailable);
  // and what was committed is still readable, with nothing of the failed appends in it.
  auto head = store_->ReadHead("s");
  ASSERT_THAT(head, IsOk());
  ASSERT_TRUE(head->has_value());
  EXPECT_EQ((*head)->version(), version);
  EXPECT_EQ(static_cast<int64_t>(store_->ReadStream("s")->size()), version);

  // Once there is room again, appends succeed without a restart (RocksDB's own recovery
  // checks for free space every few seconds; until it is done, appends stay unavailable),
  disk_.Free();
  absl::StatusOr<AppendResult> after = absl::UnavailableError("not tried");
  for (absl::Time give_up = absl::Now() + absl::Seconds(30); !after.ok() && absl::Now() < give_up;
       absl::SleepFor(absl::Milliseconds(100))) {
    after = store_->Append(Request("s", version));
    if (!after.ok()) {
      ASSERT_EQ(after.status().code(), absl::StatusCode::kUnavailable) << after.status();
    }
  }
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(after->version, version + 1);
  version = after->version;

  // and after a restart every committed event is there exactly once, in the log as well.
  Close();
  Open();
  EXPECT_EQ((*store_->ReadHead("s"))->version(), version);
  auto events = store_->ReadStream("s");
  ASSERT_THAT(events, IsOk());
  ASSERT_EQ(static_cast<int64_t>(events->size()), version);
  for (int64_t i = 0; i < version; ++i) EXPECT_EQ((*events)[i].stream_version(), i + 1);
  auto log = store_->ReadLog(0, 100'000);
  ASSERT_THAT(log, IsOk());
  EXPECT_EQ(static_cast<int64_t>(log->size()), version);
  auto row = ViewStore(*db_).Get("view/s");
  ASSERT_THAT(row, IsOk());
  EXPECT_EQ(row->value_or(""), "state@" + std::to_string(version));
}

}  // namespace
}  // namespace es::storage
