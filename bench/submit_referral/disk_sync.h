#pragma once

// Synced writes: RocksDB batches with WriteOptions::sync against a plain file appended to and
// fdatasync'ed in the same directory. With several writers both share syncs the same way: the
// first waiting writer writes everyone's records and syncs once for all (group commit), which is
// what RocksDB's write path does, so the file figure is the ceiling for the RocksDB one.

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace bench {

struct SyncOptions {
  std::string dir;  // existing directory; both measurements write in it
  int writers = 1;  // threads writing concurrently
  absl::Duration warmup = absl::Milliseconds(500);
  absl::Duration measure = absl::Seconds(3);
};

// Synced WriteBatch commits per second. Each batch holds five puts (about 1.1 KB) shaped like one
// event-store append: event, stream head, log entry, outbox entry, idempotency record.
absl::StatusOr<double> RocksDbSyncedBatchWrites(const SyncOptions& options);

enum class FileWrites {
  kAppend,     // the file grows: each fdatasync also commits the new size (a journal commit)
  kOverwrite,  // a preallocated region is overwritten: fdatasync flushes data only
};

// Records of the same size as the batches, written and made durable with fdatasync, per second.
absl::StatusOr<double> FileSyncedWrites(const SyncOptions& options, FileWrites mode);

}  // namespace bench
