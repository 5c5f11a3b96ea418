#include "libs/storage/rocks_db.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "libs/runtime/log.h"
#include "libs/storage/rocksdb_log.h"
#include "rocksdb/cache.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/table.h"

namespace es::storage {
namespace {

constexpr const char* kFamilyNames[] = {"events",      "streams", "log",    "outbox",
                                        "idempotency", "views",   "offsets"};
constexpr size_t kFamilyCount = sizeof(kFamilyNames) / sizeof(kFamilyNames[0]);

// Options per column family, shaped by how each is used on the command path.
rocksdb::ColumnFamilyOptions FamilyOptions(Family family, const RocksDbOptions& options,
                                           const std::shared_ptr<rocksdb::Cache>& block_cache) {
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = block_cache;
  table.cache_index_and_filter_blocks = true;
  rocksdb::ColumnFamilyOptions family_options;
  family_options.write_buffer_size = options.write_buffer_bytes;
  family_options.max_write_buffer_number = 2;
  // No compression for the two levels that every byte passes through first (the memtable
  // flush writes level 0, the first compaction level 1): compressing them cost the busy
  // referral server ~4% of its CPU in snappy, for data that is soon rewritten anyway. The
  // deeper levels, where the data stays, are compressed (RocksDB's tuning guide does the same).
  family_options.compression_per_level = {rocksdb::kNoCompression,     rocksdb::kNoCompression,
                                          rocksdb::kSnappyCompression, rocksdb::kSnappyCompression,
                                          rocksdb::kSnappyCompression, rocksdb::kSnappyCompression,
                                          rocksdb::kSnappyCompression};

  switch (family) {
    case Family::kStreams:
    case Family::kIdempotency:
      // Every command looks up its stream head and idempotency key, and for a new referral or
      // a first-time key the answer is "absent". Without filters a miss walks the whole memtable
      // skiplist (a cache miss per level) and every level's index: bloom filters in the
      // memtable and the tables answer most misses from a few bits.
      table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
      table.whole_key_filtering = true;
      family_options.memtable_whole_key_filtering = true;
      family_options.memtable_prefix_bloom_size_ratio = 0.05;
      break;
    case Family::kLog:
    case Family::kOutbox:
      // Keys are increasing sequence numbers: an insert hint (all keys share the 4 leading zero
      // bytes of the big-endian sequence) lets the memtable append next to the previous key
      // instead of searching the skiplist from the top.
      family_options.memtable_insert_with_hint_prefix_extractor.reset(
          rocksdb::NewFixedPrefixTransform(4));
      break;
    default:
      break;
  }
  family_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return family_options;
}

}  // namespace

absl::Status FromRocks(const rocksdb::Status& status, std::string_view what) {
  if (status.ok()) return absl::OkStatus();
  std::string message = absl::StrCat(std::string(what), ": ", status.ToString());
  if (status.IsIOError() || status.IsBusy() || status.IsTimedOut() || status.IsTryAgain() ||
      status.IsIncomplete() || status.IsNoSpace()) {
    return absl::UnavailableError(message);
  }
  if (status.IsCorruption()) return absl::DataLossError(message);
  if (status.IsNotFound()) return absl::NotFoundError(message);
  return absl::InternalError(message);
}

std::string EncodeBigEndian64(uint64_t value) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  return out;
}

uint64_t DecodeBigEndian64(std::string_view bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < 8 && i < bytes.size(); ++i) {
    value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  }
  return value;
}

absl::StatusOr<std::unique_ptr<RocksDb>> RocksDb::Open(const RocksDbOptions& options) {
  if (options.path.empty()) return absl::InvalidArgumentError("data directory: must be set");
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  // Two cores: one background job for flushes and one for compactions is enough.
  db_options.max_background_jobs = 2;
  // Many writers waiting on one fsync: let RocksDB's write group collect them.
  db_options.enable_pipelined_write = false;
  db_options.info_log = NewJsonRocksDbLogger();
  if (options.env != nullptr) db_options.env = options.env.get();

  std::shared_ptr<rocksdb::Cache> block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName,
                           FamilyOptions(Family::kViews, options, block_cache));
  for (size_t i = 0; i < kFamilyCount; ++i) {
    descriptors.emplace_back(kFamilyNames[i],
                             FamilyOptions(static_cast<Family>(i), options, block_cache));
  }

  std::unique_ptr<RocksDb> result(new RocksDb(options));
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status status = rocksdb::DB::Open(db_options, options.path, descriptors, &handles, &raw);
  if (!status.ok()) {
    return absl::UnavailableError(absl::StrCat("open data directory: ", status.ToString()));
  }
  result->db_.reset(raw);
  result->handles_ = std::move(handles);
  return result;
}

RocksDb::~RocksDb() {
  if (!db_) return;
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
  }
  db_->Close().PermitUncheckedError();
}

rocksdb::ColumnFamilyHandle* RocksDb::handle(Family family) const {
  // handles_[0] is the default family; ours follow in enum order.
  size_t index = static_cast<size_t>(family) + 1;
  static_assert(kFamilyCount == static_cast<size_t>(Family::kOffsets) + 1);
  return handles_[index];
}

void RocksDb::Unrecoverable(std::string_view reason) {
  if (options_.on_unrecoverable) {
    options_.on_unrecoverable(std::string(reason));
    return;
  }
  // Crash-only: a process that can never write again must not keep answering UNAVAILABLE
  // while its health says SERVING. The restart reopens the database and replays the WAL; what
  // was acknowledged is durable, what was refused was never acknowledged.
  runtime::Log(runtime::LogLevel::kError, "storage",
               "storage failed and cannot resume: exiting so that a restart reopens it",
               {{"reason", std::string(reason)}});
  std::_Exit(74);  // EX_IOERR
}

absl::Status RocksDb::Write(rocksdb::WriteBatch& batch) { return Write(batch, options_.sync_wal); }

absl::Status RocksDb::Write(rocksdb::WriteBatch& batch, bool sync) {
  if (write_failed_.load(std::memory_order_acquire)) {
    // After a failed write (disk full, I/O error) RocksDB refuses every write until it is
    // resumed. Resume flushes the memtables to a new WAL; while the disk is still full it fails
    // again, cheaply, and the caller gets kUnavailable as before.
    rocksdb::Status resumed = db_->Resume();
    if (resumed.severity() >= rocksdb::Status::Severity::kFatalError) {
      // RocksDB refuses to resume after this kind of error (e.g. an I/O error on the
      // write-ahead log): only reopening the database recovers, which a restart does.
      Unrecoverable(std::string(FromRocks(resumed, "storage failed").message()));
    }
    if (!resumed.ok()) return FromRocks(resumed, "resume writing after a storage failure");
    write_failed_.store(false, std::memory_order_release);
  }
  rocksdb::WriteOptions write_options;
  write_options.sync = sync;
  rocksdb::Status status = db_->Write(write_options, &batch);
  if (!status.ok() && !status.IsInvalidArgument()) {
    write_failed_.store(true, std::memory_order_release);
  }
  return FromRocks(status, "write batch");
}

}  // namespace es::storage
