// The event store when the disk fails a write-ahead-log write (an I/O error, not a full disk):
// the append fails as kUnavailable and writes nothing; RocksDB cannot resume from such an error,
// so the store reports it unrecoverable (a service exits and its restart reopens the database).

#include <atomic>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/storage/event_store.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace es::storage {
namespace {

using ::es::testing::IsOk;
using ::es::testing::TempDir;

// Fails appends and syncs of write-ahead-log files (*.log) while `failing` is set.
class FlakyWalFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit FlakyWalFileSystem(std::shared_ptr<rocksdb::FileSystem> target)
      : rocksdb::FileSystemWrapper(std::move(target)) {}
  const char* Name() const override { return "FlakyWalFileSystem"; }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* debug) override {
    rocksdb::IOStatus s = target()->NewWritableFile(name, options, result, debug);
    if (s.ok() && name.size() > 4 && name.compare(name.size() - 4, 4, ".log") == 0) {
      *result = std::make_unique<File>(std::move(*result), failing);
    }
    return s;
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& name, const std::string& old_name,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* debug) override {
    rocksdb::IOStatus s = target()->ReuseWritableFile(name, old_name, options, result, debug);
    if (s.ok()) *result = std::make_unique<File>(std::move(*result), failing);
    return s;
  }

  std::atomic<bool> failing{false};

 private:
  class File : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile> file, std::atomic<bool>& failing)
        : rocksdb::FSWritableFileOwnerWrapper(std::move(file)), failing_(failing) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* debug) override {
      if (failing_) return rocksdb::IOStatus::IOError("injected: device error");
      return FSWritableFileOwnerWrapper::Append(data, options, debug);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             const rocksdb::DataVerificationInfo& info,
                             rocksdb::IODebugContext* debug) override {
      if (failing_) return rocksdb::IOStatus::IOError("injected: device error");
      return FSWritableFileOwnerWrapper::Append(data, options, info, debug);
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* debug) override {
      if (failing_) return rocksdb::IOStatus::IOError("injected: device error");
      return FSWritableFileOwnerWrapper::Sync(options, debug);
    }

   private:
    std::atomic<bool>& failing_;
  };
};

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
  event.set_payload("payload");
  request.events.push_back(std::move(event));
  request.state = "state@" + std::to_string(expected + 1);
  return request;
}

TEST(WriteFailureTest, GivenWalWriteFails_ThenUnavailableNothingWrittenAndUnrecoverableReported) {
  TempDir dir;
  auto fs = std::make_shared<FlakyWalFileSystem>(rocksdb::FileSystem::Default());
  std::shared_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  std::atomic<int> unrecoverable{0};
  RocksDbOptions options{.path = dir.Sub("db"), .env = env};
  options.on_unrecoverable = [&](const std::string&) { ++unrecoverable; };
  auto db = RocksDb::Open(options);
  ASSERT_THAT(db, IsOk());
  auto store = std::make_unique<EventStore>(**db);
  ASSERT_THAT(store->Append(Request("s", 0)), IsOk());

  // The device fails a write-ahead-log write: the append is refused and nothing is written.
  fs->failing = true;
  absl::StatusOr<AppendResult> failed = store->Append(Request("s", 1));
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable) << failed.status();
  EXPECT_EQ((*store->ReadHead("s"))->version(), 1);
  EXPECT_EQ(unrecoverable.load(), 0);

  // RocksDB does not resume from that even once the device works: the next write reports the
  // store unrecoverable (in a service: exit, and the restart reopens the database).
  fs->failing = false;
  absl::StatusOr<AppendResult> next = store->Append(Request("s", 1));
  EXPECT_EQ(next.status().code(), absl::StatusCode::kUnavailable) << next.status();
  EXPECT_EQ(unrecoverable.load(), 1);

  // Reopened, as after that restart: what was acknowledged is there, the refused append is not,
  // and writing works again.
  store.reset();
  db->reset();
  auto reopened = RocksDb::Open({.path = dir.Sub("db"), .env = env});
  ASSERT_THAT(reopened, IsOk());
  EventStore again(**reopened);
  EXPECT_EQ((*again.ReadHead("s"))->version(), 1);
  EXPECT_EQ(again.ReadLog(0, 10)->size(), 1u);
  absl::StatusOr<AppendResult> after = again.Append(Request("s", 1));
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(after->version, 2);
}

TEST(WriteFailureDeathTest, GivenUnrecoverableStorageAndNoHandler_ThenProcessExitsWithCode74) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        TempDir dir;
        auto fs = std::make_shared<FlakyWalFileSystem>(rocksdb::FileSystem::Default());
        std::shared_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
        auto db = RocksDb::Open({.path = dir.Sub("db"), .env = env});
        if (!db.ok()) std::exit(1);
        EventStore store(**db);
        fs->failing = true;
        (void)store.Append(Request("s", 0));
        fs->failing = false;
        (void)store.Append(Request("s", 0));
        std::exit(0);  // not reached when the store exits as it should
      },
      ::testing::ExitedWithCode(74), "cannot resume");
}

}  // namespace
}  // namespace es::storage
