#pragma once

// Projects Kafka records into a service's RocksDB views, exactly once per event.
//
// One ProjectionConsumer owns one librdkafka consumer (a member of `group_id`), a small
// idempotent producer for the dead-letter topic, and the thread that runs both. Records are
// projected by a pure, service-specific Projector; their view writes, an "applied version" row
// per stream and the next offsets of the batch's partitions go into ONE RocksDB batch
// (ViewStore::ApplyWithCheckpoint). On (re)assignment a partition resumes at the offset stored
// in RocksDB, so Kafka's committed offsets are informational only (lag monitoring).
//
// A stored offset only means something in the log it was read from. When the embedded broker
// restarts empty and the relays publish the whole history again, offset N of the new log holds
// other records, and resuming there would skip the new log's records before N for good. So each
// partition's checkpoint carries a fingerprint of the record just before it (its ce_id header,
// else a hash of key and value), written in the same batch. On assignment with a stored offset
// N > 0 the consumer starts at N - 1 and compares: the same record there means the same log,
// and reading goes on at N without projecting it again; another record, none (N - 1 removed by
// retention) or no stored fingerprint means another log, and the partition is read again from
// its earliest offset, where the per-stream version check skips what was applied already.
//
// Versions are applied contiguously per stream: a record is applied only if its version is the
// stream's applied version + 1. The relay can put records that reached a new broker before it
// noticed the loss ahead of the republished history (a consumer may see v21..v25, then
// v1..v25); applying v21 on top of v18 and then dropping v19..v20 as duplicates would leave the
// views without them. A record beyond the next version is skipped as a gap (ConsumerStats::
// gaps_skipped) and applied when the re-publication delivers the versions before it. Consumers
// of topics whose history retention may truncate set ConsumerOptions::allow_version_gaps.
//
// Logs are JSON lines (es::runtime::Log, component "projection.consumer"; librdkafka's own lines
// too) and name topics, partitions, offsets and versions, never record keys or values.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/storage/rocks_db.h"
#include "libs/storage/view_write.h"

namespace es::projection {

// One Kafka record as handed to a Projector. A null key, value or header value arrives as an
// empty string.
struct ConsumedRecord {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;  // in record order
};

// Reads view rows as they will be after the writes already decided in the current batch.
// Implementations handed to a Projector are valid only during that Project() call.
class ViewReader {
 public:
  virtual ~ViewReader() = default;
  // The row's value, nullopt if absent (or deleted earlier in the batch). A non-OK status is a
  // storage failure; the consumer notices it whatever the Projector then returns, and retries
  // the record later instead of dead-lettering it.
  virtual absl::StatusOr<std::optional<std::string>> Get(const std::string& key) const = 0;
};

// What one record does to the views.
struct Projection {
  // The event's stream. Must be non-empty and unique across every topic this consumer reads
  // (qualify it, e.g. "referral/<id>", if two topics may share ids).
  std::string stream_id;
  // The event's version in that stream (>= 1). Producers number each stream 1, 2, 3, ... and
  // publish every version. A record whose version is <= the highest version already applied for
  // the stream is a duplicate and changes nothing; one above applied + 1 is a gap and is
  // skipped too (see ConsumerOptions::allow_version_gaps).
  int64_t version = 0;
  // Rows to write. Keys starting with '\x01' are reserved for the consumer's own rows.
  std::vector<storage::ViewWrite> writes;
};

// Service-specific: decode the record and compute view writes (a policy may also issue its
// reaction here, idempotently, before returning). kUnavailable means "not now": the same record
// is retried with backoff. Any other non-OK status (undecodable, unknown type, inconsistent)
// sends the record to the dead-letter topic.
// Called on the consumer's thread only; need not be thread-safe.
class Projector {
 public:
  virtual ~Projector() = default;
  virtual absl::StatusOr<Projection> Project(const ConsumedRecord& record,
                                             const ViewReader& views) = 0;
};

struct ConsumerOptions {
  std::string bootstrap_servers;
  std::string group_id;  // also the checkpoint name in RocksDB; must not contain '\0'
  std::vector<std::string> topics;
  std::string dead_letter_topic;  // must not be one of `topics`
  size_t max_batch = 1000;        // records per RocksDB batch
  // Longest a consumed record waits for its batch to fill before the batch is written.
  absl::Duration max_batch_wait = absl::Milliseconds(20);
  // false (default): a record whose version is above its stream's applied version + 1 is
  // skipped (a gap: earlier versions are missing and will come with a re-publication, as after
  // a broker loss); the stream's later records wait for them, since a view built over a gap
  // would be wrong. The price: a record that is dead-lettered (so never applied) holds back
  // every later version of its stream, counted in gaps_skipped, until the projector is fixed
  // and the stream's records are read again (rebuild the views).
  // true: any version above the applied one is applied, and versions skipped over are later
  // dropped as duplicates. For topics whose history retention may truncate (no re-publication
  // can fill the gap), and for consumers that tolerate missing events.
  bool allow_version_gaps = false;
  // Extra librdkafka settings (e.g. session.timeout.ms in tests, security.* in production).
  // Consumer-only settings (group.*, session.*, heartbeat.*, fetch.*, queued.*, ...) go to the
  // consumer only; the rest go to both the consumer and the dead-letter producer. Settings the
  // consumer manages itself (see the .cc) are rejected.
  std::vector<std::pair<std::string, std::string>> kafka_config = {};
};

struct ConsumerStats {
  uint64_t applied = 0;             // records whose writes were stored
  uint64_t duplicates_skipped = 0;  // records at or below their stream's applied version
  uint64_t dead_lettered = 0;       // records the projector rejected, delivered to the DLQ
  uint64_t batches = 0;             // RocksDB batches written
  bool caught_up = false;           // see ProjectionConsumer::caught_up()
  // Records beyond their stream's applied version + 1, skipped (allow_version_gaps = false).
  uint64_t gaps_skipped = 0;
};

// The view key holding the highest version of `stream_id` applied by consumer group
// `group_id` (8 bytes, big-endian). Written in the same batch as the view rows.
std::string AppliedVersionKey(const std::string& group_id, const std::string& stream_id);

// The view key holding the fingerprint of the record at offset `next_offset - 1` of one
// partition, where next_offset is the offset stored for it by consumer group `group_id`.
// Written in the same batch as the offset.
std::string ResumeFingerprintKey(const std::string& group_id, const std::string& topic,
                                 int32_t partition);

// Owns one librdkafka consumer, one dead-letter producer and the thread that polls them.
// Thread-safe: every public method may be called from any thread. `db` and `projector` must
// outlive this object; the projector is called on the consumer's thread only.
//
// Delivery: a record's view writes are stored at most once (per-stream version check) and at
// least once (offsets advance only with the writes; a replaced log is read again from its
// start). The projector sees duplicates and gaps too (the consumer learns a record's stream and
// version from Project()), so a projector with side effects makes them idempotent. Dead-letter
// records are delivered at least once: they are acknowledged by the broker before the offsets
// that pass them are stored.
// While RocksDB or the dead-letter topic fails, the consumer retries with backoff and does not
// move on.
class ProjectionConsumer {
 public:
  ProjectionConsumer(storage::RocksDb& db, Projector& projector, ConsumerOptions options);
  ~ProjectionConsumer();  // calls Stop()

  ProjectionConsumer(const ProjectionConsumer&) = delete;
  ProjectionConsumer& operator=(const ProjectionConsumer&) = delete;

  // Creates the Kafka clients, subscribes and starts the consumer thread; returns at once (the
  // group join happens in the background). kInvalidArgument for bad options or settings,
  // kFailedPrecondition if called twice (a stopped consumer cannot be restarted: make a new
  // one), kInternal if librdkafka refuses to create a client.
  absl::Status Start();

  // Finishes the current batch (rows + offsets written, dead letters delivered), commits the
  // offsets to Kafka, leaves the group and joins the thread. If RocksDB or the dead-letter
  // topic still fails a few seconds after Stop() was called, the batch is dropped unwritten
  // instead (nothing is lost: its records are read again from the stored offsets next time).
  // Idempotent; a no-op before Start().
  void Stop();

  ConsumerStats stats() const;

  // True once every partition of the first non-empty assignment has been consumed, and its
  // batch stored, up to the end offset it had then (a partition moved to another member before
  // that counts as done). Stays true. A member that is never assigned a partition never
  // catches up: under cooperative-sticky a joining member's first assignment is often empty.
  // Assumes non-transactional producers (a trailing commit marker is never consumed).
  bool caught_up() const { return caught_up_.load(std::memory_order_acquire); }

 private:
  class Loop;  // the consumer thread's state; lives in the .cc

  storage::RocksDb& db_;
  Projector& projector_;
  const ConsumerOptions options_;

  absl::Mutex lifecycle_mu_;
  bool started_ ABSL_GUARDED_BY(lifecycle_mu_) = false;
  std::unique_ptr<Loop> loop_ ABSL_GUARDED_BY(lifecycle_mu_);
  std::thread thread_ ABSL_GUARDED_BY(lifecycle_mu_);

  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> caught_up_{false};
  mutable absl::Mutex stats_mu_;
  ConsumerStats stats_ ABSL_GUARDED_BY(stats_mu_);

  friend class Loop;
};

}  // namespace es::projection
