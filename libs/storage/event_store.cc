#include "libs/storage/event_store.h"

#include <algorithm>
#include <future>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "libs/runtime/log.h"
#include "libs/storage/sorted_batch.h"
#include "rocksdb/write_batch.h"

namespace es::storage {
namespace {

// State of a stream or key as seen by the group being committed, so that two appends to one
// stream in the same group are checked against each other, not only against the database.
struct GroupOverlay {
  std::unordered_map<std::string, int64_t> head_versions;
  std::unordered_map<std::string, eventing::v1::IdempotencyRecord> idempotency;
};

// The one row of the outbox family: the sequence through which everything was delivered.
// Legacy per-entry rows have 8-byte keys, so this key cannot collide with them.
constexpr char kDeliveredCursorKey[] = "delivered_through";

}  // namespace

std::string EventStore::EventKey(const std::string& stream_id, int64_t version) {
  std::string key = stream_id;
  key.push_back('\0');
  key += EncodeBigEndian64(static_cast<uint64_t>(version));
  return key;
}

EventStore::EventStore(RocksDb& db, EventStoreOptions options) : db_(db), options_(options) {
  // Continue the global sequence after the last logged event.
  std::unique_ptr<rocksdb::Iterator> it(
      db_.db()->NewIterator(rocksdb::ReadOptions(), db_.handle(Family::kLog)));
  it->SeekToLast();
  if (it->Valid()) next_sequence_ = DecodeBigEndian64(it->key().ToStringView()) + 1;
  last_sequence_.store(next_sequence_ - 1);
  if (absl::Status loaded = LoadDeliveredCursor(); !loaded.ok()) {
    // Without a cursor the relay would start from the beginning: duplicates, never loss.
    runtime::Log(runtime::LogLevel::kError, "storage",
                 "cannot read the outbox cursor; publishing the whole log again",
                 {{"reason", std::string(loaded.message())}});
  }
  writer_ = std::thread([this] { WriterLoop(); });
}

absl::Status EventStore::LoadDeliveredCursor() {
  rocksdb::ColumnFamilyHandle* outbox = db_.handle(Family::kOutbox);
  std::string value;
  rocksdb::Status status =
      db_.db()->Get(rocksdb::ReadOptions(), outbox, kDeliveredCursorKey, &value);
  if (status.ok()) {
    delivered_through_.store(DecodeBigEndian64(value));
    return absl::OkStatus();
  }
  if (!status.IsNotFound()) return FromRocks(status, "read outbox cursor");
  // No cursor: a new store, or one written by a version that kept one outbox row per
  // undelivered entry (8-byte keys) and deleted it on delivery. The lowest row left is then
  // the first undelivered entry; with no rows left everything was delivered.
  uint64_t delivered = last_sequence_.load();
  std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(rocksdb::ReadOptions(), outbox));
  it->SeekToFirst();
  if (!it->status().ok()) return FromRocks(it->status(), "read legacy outbox");
  const bool legacy_rows = it->Valid() && it->key().size() == 8;
  if (legacy_rows) delivered = DecodeBigEndian64(it->key().ToStringView()) - 1;
  rocksdb::WriteBatch batch;
  if (legacy_rows) {
    batch.DeleteRange(outbox, std::string(8, '\0'), std::string(8, '\xff') + '\xff');
  }
  batch.Put(outbox, kDeliveredCursorKey, EncodeBigEndian64(delivered));
  if (absl::Status written = db_.Write(batch); !written.ok()) return written;
  delivered_through_.store(delivered);
  return absl::OkStatus();
}

absl::Status EventStore::WriteDeliveredCursor(uint64_t sequence, bool sync) {
  rocksdb::WriteBatch batch;
  batch.Put(db_.handle(Family::kOutbox), kDeliveredCursorKey, EncodeBigEndian64(sequence));
  return db_.Write(batch, sync);
}

EventStore::~EventStore() { Shutdown(); }

void EventStore::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ && !writer_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
}

void EventStore::SetOutboxListener(std::function<void()> listener) {
  std::lock_guard<std::mutex> lock(mutex_);
  outbox_listener_ = std::move(listener);
}

void EventStore::SetFeedListener(std::function<void()> listener) {
  std::lock_guard<std::mutex> lock(mutex_);
  feed_listener_ = std::move(listener);
}

void EventStore::AppendAsync(AppendRequest request, AppendCallback done) {
  if (request.stream_id.empty() || request.stream_id.find('\0') != std::string::npos) {
    done(absl::InvalidArgumentError("stream_id: must be non-empty and contain no NUL"));
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!stopping_) {
      queue_.push_back(Pending{std::move(request), std::move(done)});
      wake_.notify_one();
      return;
    }
  }
  // Unavailable, not a precondition: the caller should retry (after a restart), and a consumer
  // must not treat its reaction as done.
  done(absl::UnavailableError("event store: shutting down"));
}

absl::StatusOr<AppendResult> EventStore::Append(AppendRequest request) {
  std::promise<absl::StatusOr<AppendResult>> promise;
  auto future = promise.get_future();
  AppendAsync(std::move(request),
              [&promise](absl::StatusOr<AppendResult> result) { promise.set_value(result); });
  return future.get();
}

void EventStore::WriterLoop() {
  std::vector<Pending> group;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      while (!queue_.empty() && group.size() < options_.max_group_size) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    CommitGroup(group);
    group.clear();
  }
}

void EventStore::CommitGroup(std::vector<Pending>& group) {
  SortedBatch sorted;
  GroupOverlay overlay;
  std::vector<absl::StatusOr<AppendResult>> results;
  results.reserve(group.size());
  // Per append, the sequence of its first event; 0 for an append that writes nothing.
  std::vector<uint64_t> first_sequences(group.size(), 0);
  const uint64_t first_sequence = next_sequence_;
  uint64_t sequence = next_sequence_;
  bool outbox_grew = false;
  bool feed_grew = false;

  for (size_t index = 0; index < group.size(); ++index) {
    AppendRequest& request = group[index].request;

    // Idempotency: a key already applied answers with its first result and writes nothing.
    if (!request.idempotency_key.empty()) {
      std::optional<eventing::v1::IdempotencyRecord> seen;
      if (auto it = overlay.idempotency.find(request.idempotency_key);
          it != overlay.idempotency.end()) {
        seen = it->second;
      } else {
        absl::StatusOr<std::optional<eventing::v1::IdempotencyRecord>> found =
            FindIdempotency(request.idempotency_key);
        if (!found.ok()) {
          results.push_back(found.status());
          continue;
        }
        seen = *found;
      }
      if (seen.has_value()) {
        if (seen->fingerprint() != request.fingerprint) {
          results.push_back(
              absl::AlreadyExistsError("idempotency_key: already used for a different command"));
        } else {
          results.push_back(AppendResult{seen->stream_id(), seen->version(), true});
        }
        continue;
      }
    }

    // Optimistic concurrency: the decision must have seen the current head.
    int64_t head_version = 0;
    if (auto it = overlay.head_versions.find(request.stream_id);
        it != overlay.head_versions.end()) {
      head_version = it->second;
    } else {
      absl::StatusOr<std::optional<eventing::v1::StreamHead>> head = ReadHead(request.stream_id);
      if (!head.ok()) {
        results.push_back(head.status());
        continue;
      }
      if (head->has_value()) head_version = (*head)->version();
    }
    if (head_version != request.expected_version) {
      appends_conflicted_.fetch_add(1, std::memory_order_relaxed);
      results.push_back(absl::AbortedError(
          absl::StrCat("stream ", request.stream_id, ": expected version ",
                       request.expected_version, " but it is at ", head_version)));
      continue;
    }
    bool versions_ok = true;
    for (size_t i = 0; i < request.events.size(); ++i) {
      if (request.events[i].stream_version() != request.expected_version + int64_t(i) + 1 ||
          request.events[i].stream_id() != request.stream_id) {
        versions_ok = false;
      }
    }
    if (!versions_ok || request.events.empty()) {
      results.push_back(absl::InvalidArgumentError(
          "events: must be non-empty and numbered expected_version+1, +2, ... on this stream"));
      continue;
    }

    const int64_t new_version = request.expected_version + int64_t(request.events.size());
    first_sequences[index] = sequence;
    for (const eventing::v1::StoredEvent& event : request.events) {
      std::string key = EventKey(request.stream_id, event.stream_version());
      sorted.Put(Family::kEvents, key, event.SerializeAsString());
      // The log row is also the event's outbox entry (see the header).
      sorted.Put(Family::kLog, EncodeBigEndian64(sequence++), std::move(key));
      outbox_grew = true;
    }
    eventing::v1::StreamHead head;
    head.set_version(new_version);
    head.set_state(std::move(request.state));
    sorted.Put(Family::kStreams, request.stream_id, head.SerializeAsString());
    for (auto& [prefix, value] : request.feed_rows) {
      sorted.Put(Family::kViews, prefix + EncodeBigEndian64(sequence - 1), std::move(value));
      feed_grew = true;
    }
    for (ViewWrite& write : request.view_writes) {
      if (write.value.has_value()) {
        sorted.Put(Family::kViews, std::move(write.key), std::move(*write.value));
      } else {
        sorted.Delete(Family::kViews, std::move(write.key));
      }
    }
    if (!request.idempotency_key.empty()) {
      eventing::v1::IdempotencyRecord record;
      record.set_stream_id(request.stream_id);
      record.set_version(new_version);
      record.set_fingerprint(request.fingerprint);
      sorted.Put(Family::kIdempotency, request.idempotency_key, record.SerializeAsString());
      overlay.idempotency[request.idempotency_key] = record;
    }
    overlay.head_versions[request.stream_id] = new_version;
    results.push_back(AppendResult{request.stream_id, new_version, false});
  }

  if (sorted.Count() > 0) {
    rocksdb::WriteBatch batch;
    sorted.WriteTo(db_, batch);
    absl::Status written = db_.Write(batch);
    if (!written.ok()) {
      // Nothing of the group is stored: every append that would have written fails alike,
      // and the sequence numbers are reused by the next group.
      uint64_t refused = 0;
      for (auto& result : results) {
        if (result.ok() && !result->replayed) {
          result = written;
          ++refused;
        }
      }
      appends_failed_storage_.fetch_add(refused, std::memory_order_relaxed);
      sequence = first_sequence;
      outbox_grew = false;
      feed_grew = false;
    } else {
      last_sequence_.store(sequence - 1, std::memory_order_release);
      KeepRecent(group, first_sequences);
      uint64_t appended = 0;
      for (const auto& result : results) appended += result.ok() && !result->replayed ? 1 : 0;
      appends_committed_.fetch_add(appended, std::memory_order_relaxed);
      events_committed_.fetch_add(sequence - first_sequence, std::memory_order_relaxed);
      groups_committed_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  next_sequence_ = sequence;

  for (size_t i = 0; i < group.size(); ++i) group[i].done(std::move(results[i]));

  std::function<void()> outbox_listener;
  std::function<void()> feed_listener;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (outbox_grew) outbox_listener = outbox_listener_;
    if (feed_grew) feed_listener = feed_listener_;
  }
  if (outbox_listener) outbox_listener();
  if (feed_listener) feed_listener();
}

EventStoreStats EventStore::stats() const {
  return EventStoreStats{appends_committed_.load(std::memory_order_relaxed),
                         events_committed_.load(std::memory_order_relaxed),
                         groups_committed_.load(std::memory_order_relaxed),
                         appends_failed_storage_.load(std::memory_order_relaxed),
                         appends_conflicted_.load(std::memory_order_relaxed)};
}

absl::StatusOr<std::optional<eventing::v1::StreamHead>> EventStore::ReadHead(
    const std::string& stream_id) {
  std::string value;
  rocksdb::Status status =
      db_.db()->Get(rocksdb::ReadOptions(), db_.handle(Family::kStreams), stream_id, &value);
  if (status.IsNotFound()) return std::nullopt;
  if (!status.ok()) return FromRocks(status, "read stream head");
  eventing::v1::StreamHead head;
  if (!head.ParseFromString(value)) return absl::DataLossError("stream head: cannot be decoded");
  return head;
}

absl::StatusOr<std::vector<eventing::v1::StoredEvent>> EventStore::ReadStream(
    const std::string& stream_id, int64_t from_version) {
  std::vector<eventing::v1::StoredEvent> events;
  std::string prefix = stream_id;
  prefix.push_back('\0');
  std::unique_ptr<rocksdb::Iterator> it(
      db_.db()->NewIterator(rocksdb::ReadOptions(), db_.handle(Family::kEvents)));
  for (it->Seek(EventKey(stream_id, from_version)); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    eventing::v1::StoredEvent event;
    if (!event.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("stored event: cannot be decoded");
    }
    events.push_back(std::move(event));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "read stream");
  return events;
}

absl::StatusOr<std::vector<eventing::v1::StoredEvent>> EventStore::ScanEvents(
    const std::string& after_key, size_t limit) {
  std::vector<eventing::v1::StoredEvent> events;
  std::unique_ptr<rocksdb::Iterator> it(
      db_.db()->NewIterator(rocksdb::ReadOptions(), db_.handle(Family::kEvents)));
  if (after_key.empty()) {
    it->SeekToFirst();
  } else {
    it->Seek(after_key);
    if (it->Valid() && it->key() == after_key) it->Next();
  }
  for (; it->Valid() && events.size() < limit; it->Next()) {
    eventing::v1::StoredEvent event;
    if (!event.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("stored event: cannot be decoded");
    }
    events.push_back(std::move(event));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan events");
  return events;
}

absl::StatusOr<std::optional<eventing::v1::IdempotencyRecord>> EventStore::FindIdempotency(
    const std::string& key) {
  std::string value;
  rocksdb::Status status =
      db_.db()->Get(rocksdb::ReadOptions(), db_.handle(Family::kIdempotency), key, &value);
  if (status.IsNotFound()) return std::nullopt;
  if (!status.ok()) return FromRocks(status, "read idempotency record");
  eventing::v1::IdempotencyRecord record;
  if (!record.ParseFromString(value)) {
    return absl::DataLossError("idempotency record: cannot be decoded");
  }
  return record;
}

absl::StatusOr<std::vector<OutboxEntry>> EventStore::ReadLog(uint64_t after, size_t limit) {
  std::vector<OutboxEntry> entries;
  std::vector<std::string> keys;
  std::unique_ptr<rocksdb::Iterator> it(
      db_.db()->NewIterator(rocksdb::ReadOptions(), db_.handle(Family::kLog)));
  for (it->Seek(EncodeBigEndian64(after + 1)); it->Valid() && entries.size() < limit; it->Next()) {
    OutboxEntry entry;
    entry.sequence = DecodeBigEndian64(it->key().ToStringView());
    entries.push_back(std::move(entry));
    keys.push_back(it->value().ToString());
  }
  if (!it->status().ok()) return FromRocks(it->status(), "read log");
  if (keys.empty()) return entries;

  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<std::string> values;
  std::vector<rocksdb::ColumnFamilyHandle*> families(keys.size(), db_.handle(Family::kEvents));
  std::vector<rocksdb::Status> statuses =
      db_.db()->MultiGet(rocksdb::ReadOptions(), families, slices, &values);
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!statuses[i].ok()) return FromRocks(statuses[i], "read logged event");
    if (!entries[i].event.ParseFromString(values[i])) {
      return absl::DataLossError("logged event: cannot be decoded");
    }
  }
  return entries;
}

void EventStore::KeepRecent(std::vector<Pending>& group,
                            const std::vector<uint64_t>& first_sequences) {
  if (options_.recent_outbox_entries == 0) return;
  std::lock_guard<std::mutex> lock(recent_mutex_);
  for (size_t i = 0; i < group.size(); ++i) {
    if (first_sequences[i] == 0) continue;
    uint64_t sequence = first_sequences[i];
    // The batch holds serialised copies: the request's events are not needed any more.
    for (eventing::v1::StoredEvent& event : group[i].request.events) {
      recent_outbox_.push_back(OutboxEntry{sequence++, std::move(event)});
    }
  }
  // A relay that falls behind (Kafka down) reads the older entries from RocksDB instead.
  while (recent_outbox_.size() > options_.recent_outbox_entries) recent_outbox_.pop_front();
}

bool EventStore::TakeRecent(uint64_t after, size_t limit, std::vector<OutboxEntry>& out) {
  std::lock_guard<std::mutex> lock(recent_mutex_);
  // Entries at or before `after` were read already (from here or from RocksDB).
  while (!recent_outbox_.empty() && recent_outbox_.front().sequence <= after) {
    recent_outbox_.pop_front();
  }
  if (recent_outbox_.empty() || recent_outbox_.front().sequence != after + 1) return false;
  // Taken, not copied: a relay that must publish them again (a failed delivery, a requeue)
  // asks for sequences this no longer holds and reads them from RocksDB.
  while (!recent_outbox_.empty() && out.size() < limit) {
    out.push_back(std::move(recent_outbox_.front()));
    recent_outbox_.pop_front();
  }
  return true;
}

absl::StatusOr<std::vector<OutboxEntry>> EventStore::ReadOutbox(uint64_t after_sequence,
                                                                size_t limit) {
  const uint64_t after = std::max(after_sequence, delivered_through_.load());
  std::vector<OutboxEntry> entries;
  if (limit == 0 || after >= last_sequence_.load(std::memory_order_acquire)) return entries;
  if (TakeRecent(after, limit, entries)) return entries;
  return ReadLog(after, limit);
}

uint64_t EventStore::OutboxDeliveredThrough() const { return delivered_through_.load(); }

uint64_t EventStore::LastSequence() const { return last_sequence_.load(std::memory_order_acquire); }

absl::Status EventStore::MarkOutboxDelivered(uint64_t sequence) {
  std::lock_guard<std::mutex> lock(delivered_mutex_);
  if (sequence <= delivered_through_.load()) return absl::OkStatus();
  // Not synced: losing this write in a crash only publishes the entries again, which consumers
  // ignore; syncing here would cost an fsync per delivery batch for nothing.
  absl::Status written = WriteDeliveredCursor(sequence, /*sync=*/false);
  if (written.ok()) delivered_through_.store(sequence);
  return written;
}

absl::StatusOr<uint64_t> EventStore::RequeueAllForPublication() {
  std::lock_guard<std::mutex> lock(delivered_mutex_);
  // Synced, so that a crash right after it cannot bring back the old cursor and skip events
  // the broker no longer holds.
  absl::Status written = WriteDeliveredCursor(0, /*sync=*/true);
  if (!written.ok()) return written;
  delivered_through_.store(0);
  return last_sequence_.load(std::memory_order_acquire);
}

}  // namespace es::storage
