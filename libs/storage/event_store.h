#pragma once

// The event store of one service, on RocksDB.
//
// Append writes a stream's new events, its new head state, the service's own view rows, the
// log (= outbox) entries and the idempotency record in ONE WriteBatch, after checking the
// expected version. A single writer thread collects whatever appends are waiting and commits
// them as one synced batch (group commit): one fsync serves every concurrent command.
//
// The outbox is the tail of the log: every event gets a log row (its commit sequence), and the
// outbox is the log rows after the "delivered through" cursor, which the relay moves forward
// only over entries Kafka has acknowledged. One row per event serves both the commit-order log
// and the outbox, and a delivered prefix is removed by one small write instead of a delete per
// entry. Entries just committed are also kept in memory for a while, so that the relay, which
// normally reads them a few milliseconds later, need not read them back from RocksDB.
//
// Thread-safe. Append callbacks run on the writer thread and must not block.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "eventing/v1/store.pb.h"
#include "libs/storage/rocks_db.h"
#include "libs/storage/view_write.h"

namespace es::storage {

struct AppendRequest {
  std::string stream_id;                          // no '\0'
  int64_t expected_version = 0;                   // head version the decision saw; 0 = new
  std::vector<eventing::v1::StoredEvent> events;  // versions expected_version+1, +2, ...
  std::string state;                              // head state after the events
  std::vector<ViewWrite> view_writes;             // the service's own view rows
  std::string idempotency_key;                    // empty: none
  std::string fingerprint;                        // of the command, checked on key reuse
  // Feed rows: each is written to the views as <prefix><commit sequence, big-endian 8 bytes>,
  // the sequence of this append's last event. Keys thus follow commit order exactly, which a
  // reader tailing a feed relies on (no key ever appears behind one it has already passed).
  std::vector<std::pair<std::string, std::string>> feed_rows;  // (prefix, value)
};

struct AppendResult {
  std::string stream_id;
  int64_t version = 0;
  bool replayed = false;  // the idempotency key was already applied; nothing was written
};

using AppendCallback = std::function<void(absl::StatusOr<AppendResult>)>;

struct EventStoreStats {
  uint64_t appends_committed = 0;  // appends made durable (replays of a used key not counted)
  uint64_t events_committed = 0;
  uint64_t groups_committed = 0;        // synced batches: appends_committed / groups = group size
  uint64_t appends_failed_storage = 0;  // appends refused because the write failed (disk, I/O)
  uint64_t appends_conflicted = 0;      // expected-version conflicts (kAborted)
};

struct OutboxEntry {
  uint64_t sequence = 0;
  eventing::v1::StoredEvent event;
};

struct EventStoreOptions {
  size_t max_group_size = 512;  // appends committed together at most
  // Committed outbox entries kept in memory for the relay; older ones are read from RocksDB.
  size_t recent_outbox_entries = 8192;
};

class EventStore {
 public:
  EventStore(RocksDb& db, EventStoreOptions options = {});
  ~EventStore();  // commits what is queued, then stops the writer
  EventStore(const EventStore&) = delete;
  EventStore& operator=(const EventStore&) = delete;

  // Queues an append; `done` gets the result once it is durable, or:
  // kAborted (expected version is not the head), kAlreadyExists (idempotency key used by a
  // different command), kUnavailable (storage failed; nothing was written),
  // kUnavailable also when the store is shutting down; kInvalidArgument (malformed request).
  void AppendAsync(AppendRequest request, AppendCallback done);
  absl::StatusOr<AppendResult> Append(AppendRequest request);  // blocking form

  // nullopt when the stream does not exist.
  absl::StatusOr<std::optional<eventing::v1::StreamHead>> ReadHead(const std::string& stream_id);
  absl::StatusOr<std::vector<eventing::v1::StoredEvent>> ReadStream(const std::string& stream_id,
                                                                    int64_t from_version = 1);
  absl::StatusOr<std::optional<eventing::v1::IdempotencyRecord>> FindIdempotency(
      const std::string& key);

  // Outbox, in commit order: entries after `after_sequence` and after the delivered cursor.
  absl::StatusOr<std::vector<OutboxEntry>> ReadOutbox(uint64_t after_sequence, size_t limit);
  // Removes every entry up to and including `sequence` from the outbox (moves the delivered
  // cursor forward; a lower sequence than the cursor's changes nothing). The caller must have
  // seen every one of them delivered.
  absl::Status MarkOutboxDelivered(uint64_t sequence);
  // The delivered cursor: every entry up to here has left the outbox.
  uint64_t OutboxDeliveredThrough() const;
  // Puts every event ever committed back into the outbox (for a broker that lost its data).
  // Returns how many entries the outbox holds afterwards.
  absl::StatusOr<uint64_t> RequeueAllForPublication();
  // The sequence of the last committed event (0: none).
  uint64_t LastSequence() const;
  // Every stored event in commit order, from `after_sequence`, for rebuilding views.
  absl::StatusOr<std::vector<OutboxEntry>> ReadLog(uint64_t after_sequence, size_t limit);

  // Stored events in stream order (all of a stream's events together, by version), starting
  // after `after_key` (an EventKey; empty = from the first), at most `limit`. For rebuilds.
  absl::StatusOr<std::vector<eventing::v1::StoredEvent>> ScanEvents(const std::string& after_key,
                                                                    size_t limit);

  // Called on the writer thread after each commit that added outbox entries. Set before use.
  void SetOutboxListener(std::function<void()> listener);
  // Called on the writer thread after each commit that wrote feed rows. Set before use.
  void SetFeedListener(std::function<void()> listener);

  EventStoreStats stats() const;

  // Stops taking appends; the queued ones are committed first.
  void Shutdown();

  static std::string EventKey(const std::string& stream_id, int64_t version);

 private:
  struct Pending {
    AppendRequest request;
    AppendCallback done;
  };
  void WriterLoop();
  void CommitGroup(std::vector<Pending>& group);
  absl::Status LoadDeliveredCursor();
  absl::Status WriteDeliveredCursor(uint64_t sequence, bool sync);
  // Moves the events of the group's committed appends to recent_outbox_.
  void KeepRecent(std::vector<Pending>& group, const std::vector<uint64_t>& first_sequences);
  // Serves ReadOutbox from recent_outbox_ when it holds the entry after `after`.
  bool TakeRecent(uint64_t after, size_t limit, std::vector<OutboxEntry>& out);

  RocksDb& db_;
  const EventStoreOptions options_;
  uint64_t next_sequence_ = 1;  // owned by the writer thread after construction
  std::atomic<uint64_t> last_sequence_{0};
  std::atomic<uint64_t> delivered_through_{0};
  std::mutex delivered_mutex_;  // orders cursor writes

  std::mutex recent_mutex_;
  std::deque<OutboxEntry> recent_outbox_;  // guarded by recent_mutex_; ascending sequences

  std::atomic<uint64_t> appends_committed_{0};
  std::atomic<uint64_t> events_committed_{0};
  std::atomic<uint64_t> groups_committed_{0};
  std::atomic<uint64_t> appends_failed_storage_{0};
  std::atomic<uint64_t> appends_conflicted_{0};

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;              // guarded by mutex_
  bool stopping_ = false;                  // guarded by mutex_
  std::function<void()> outbox_listener_;  // guarded by mutex_
  std::function<void()> feed_listener_;    // guarded by mutex_
  std::thread writer_;
};

}  // namespace es::storage
