#pragma once

// One RocksDB database per service, split into column families by purpose, so that views can
// be dropped and rebuilt without touching the event store.
// Thread-safe (RocksDB handles are).

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rocksdb/db.h"

namespace es::storage {

enum class Family {
  kEvents,       // stream_id \0 version(be64)  -> eventing.v1.StoredEvent
  kStreams,      // stream_id                    -> eventing.v1.StreamHead
  kLog,          // seq(be64)                    -> events key (global commit order; the outbox
                 //                                 is the log after the delivered cursor)
  kOutbox,       // "delivered_through"          -> seq(be64): the relay's delivered cursor
                 // (before 2026-12: seq(be64) -> events key per entry; migrated on open)
  kIdempotency,  // idempotency key              -> eventing.v1.IdempotencyRecord
  kViews,        // view rows (layout owned by each service)
  kOffsets,      // consumer checkpoints
};

struct RocksDbOptions {
  std::string path;
  bool sync_wal = true;                     // fsync the WAL before a write returns
  size_t block_cache_bytes = 128ull << 20;  // shared LRU block cache
  size_t write_buffer_bytes = 32ull << 20;  // per column family memtable
  // The Env (file system) RocksDB uses; null: the default. Tests inject I/O faults with it.
  std::shared_ptr<rocksdb::Env> env = nullptr;
  // Called when a write failed in a way RocksDB cannot resume from (e.g. an I/O error on the
  // write-ahead log). Null: log and exit the process with code 74, so that the orchestrator
  // restarts it and the database is reopened. Tests observe it instead.
  std::function<void(const std::string& reason)> on_unrecoverable = nullptr;
};

class RocksDb {
 public:
  // Creates the directory and missing column families. kUnavailable when the directory cannot
  // be opened (locked by another process, unwritable).
  static absl::StatusOr<std::unique_ptr<RocksDb>> Open(const RocksDbOptions& options);
  ~RocksDb();

  rocksdb::DB* db() const { return db_.get(); }
  rocksdb::ColumnFamilyHandle* handle(Family family) const;
  const RocksDbOptions& options() const { return options_; }

  // Writes `batch` atomically, synced when options().sync_wal (or as `sync` says).
  // kUnavailable when storage fails (disk full, I/O error): nothing of the batch is written.
  // The next write first resumes the database, so writing recovers by itself once the disk
  // has room again.
  absl::Status Write(rocksdb::WriteBatch& batch);
  absl::Status Write(rocksdb::WriteBatch& batch, bool sync);

 private:
  RocksDb(RocksDbOptions options) : options_(std::move(options)) {}
  void Unrecoverable(std::string_view reason);
  RocksDbOptions options_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // indexed by Family
  std::unique_ptr<rocksdb::DB> db_;
  std::atomic<bool> write_failed_{false};
};

// Maps a RocksDB status onto the gRPC-compatible absl codes: I/O and busy errors are
// kUnavailable (retry later), corruption kDataLoss, the rest kInternal.
absl::Status FromRocks(const rocksdb::Status& status, std::string_view what);

// Big-endian 64-bit encoding, so byte order equals numeric order in keys.
std::string EncodeBigEndian64(uint64_t value);
uint64_t DecodeBigEndian64(std::string_view bytes);

}  // namespace es::storage
