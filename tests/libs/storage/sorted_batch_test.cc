#include "libs/storage/sorted_batch.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/write_batch.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace es::storage {
namespace {

using ::es::testing::IsOk;
using ::es::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::Pair;

// What a WriteBatch hands to the memtables, in order: (family id, "put key=value" / "del key").
class Recorder : public rocksdb::WriteBatch::Handler {
 public:
  rocksdb::Status PutCF(uint32_t family, const rocksdb::Slice& key,
                        const rocksdb::Slice& value) override {
    entries.emplace_back(family, key.ToString() + "=" + value.ToString());
    return rocksdb::Status::OK();
  }
  rocksdb::Status DeleteCF(uint32_t family, const rocksdb::Slice& key) override {
    entries.emplace_back(family, "del " + key.ToString());
    return rocksdb::Status::OK();
  }
  std::vector<std::pair<uint32_t, std::string>> entries;
};

class SortedBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = RocksDb::Open({.path = dir_.Sub("db")});
    ASSERT_THAT(db, IsOk());
    db_ = std::move(*db);
  }
  uint32_t Id(Family family) const { return db_->handle(family)->GetID(); }

  TempDir dir_;
  std::unique_ptr<RocksDb> db_;
};

TEST_F(SortedBatchTest, GivenEntriesOfTwoCommandsMixed_WhenWritten_ThenSortedPerFamily) {
  SortedBatch sorted;
  sorted.Put(Family::kViews, "rw/b", "1");
  sorted.Put(Family::kStreams, "s-9", "head9");
  sorted.Put(Family::kViews, "rl/b", "1");
  sorted.Put(Family::kViews, "rw/a", "2");
  sorted.Put(Family::kStreams, "s-1", "head1");
  sorted.Delete(Family::kViews, "rl/a");

  rocksdb::WriteBatch batch;
  sorted.WriteTo(*db_, batch);
  Recorder recorder;
  ASSERT_TRUE(batch.Iterate(&recorder).ok());

  EXPECT_THAT(
      recorder.entries,
      ElementsAre(Pair(Id(Family::kStreams), "s-1=head1"), Pair(Id(Family::kStreams), "s-9=head9"),
                  Pair(Id(Family::kViews), "del rl/a"), Pair(Id(Family::kViews), "rl/b=1"),
                  Pair(Id(Family::kViews), "rw/a=2"), Pair(Id(Family::kViews), "rw/b=1")));
}

TEST_F(SortedBatchTest, GivenOneKeyWrittenSeveralTimes_WhenCommitted_ThenTheLastWriteWins) {
  SortedBatch sorted;
  sorted.Put(Family::kViews, "row", "first");
  sorted.Put(Family::kViews, "other", "x");
  sorted.Delete(Family::kViews, "row");
  sorted.Put(Family::kViews, "gone", "y");
  sorted.Put(Family::kViews, "row", "last");
  sorted.Put(Family::kViews, "gone-later", "z");
  sorted.Delete(Family::kViews, "gone");

  rocksdb::WriteBatch batch;
  sorted.WriteTo(*db_, batch);
  ASSERT_THAT(db_->Write(batch), IsOk());

  std::string value;
  ASSERT_TRUE(db_->db()->Get({}, db_->handle(Family::kViews), "row", &value).ok());
  EXPECT_EQ(value, "last");
  EXPECT_TRUE(db_->db()->Get({}, db_->handle(Family::kViews), "gone", &value).IsNotFound());
  ASSERT_TRUE(db_->db()->Get({}, db_->handle(Family::kViews), "gone-later", &value).ok());
  EXPECT_EQ(value, "z");
}

}  // namespace
}  // namespace es::storage
