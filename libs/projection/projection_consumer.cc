#include "libs/projection/projection_consumer.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/eventing/status_macros.h"
#include "libs/runtime/log.h"
#include "libs/runtime/rdkafka_log.h"
#include "libs/storage/view_store.h"

namespace es::projection {
namespace {

using TopicPartition = std::pair<std::string, int32_t>;
// Pending view rows of the batch, latest value per key (nullopt = deleted).
using RowMap = absl::flat_hash_map<std::string, std::optional<std::string>>;

// After Stop(), how long a batch may still wait for a failing RocksDB or dead-letter topic
// before it is dropped unwritten.
constexpr absl::Duration kStopGrace = absl::Seconds(5);
constexpr absl::Duration kMinBackoff = absl::Milliseconds(50);
constexpr absl::Duration kMaxBackoff = absl::Seconds(5);
// Longest poll while no batch is open: bounds how late Stop() is noticed.
constexpr int kIdlePollMs = 100;
// Watermark queries made while partitions are being assigned share this budget, so a broker
// outage delays the assignment by at most this much.
constexpr absl::Duration kAssignQueryBudget = absl::Seconds(5);
constexpr absl::Duration kTargetRetryInterval = absl::Seconds(1);
// The same consumer error is logged at most once per interval (a down broker repeats it).
constexpr absl::Duration kErrorLogInterval = absl::Seconds(10);
// How long re-positioning a partition whose log was replaced may wait for librdkafka.
constexpr int kSeekTimeoutMs = 1000;
constexpr char kLogComponent[] = "projection.consumer";

// Set by the consumer itself: overriding any of these would break its guarantees.
constexpr const char* kManagedSettings[] = {"bootstrap.servers",  "group.id",
                                            "enable.auto.commit", "enable.auto.offset.store",
                                            "auto.offset.reset",  "partition.assignment.strategy",
                                            "enable.idempotence", "enable.partition.eof"};

// librdkafka warns about consumer settings given to a producer, so these stay on the consumer.
constexpr const char* kConsumerOnlyPrefixes[] = {"group.",
                                                 "session.timeout.ms",
                                                 "heartbeat.interval.ms",
                                                 "fetch.",
                                                 "queued.",
                                                 "max.poll.interval.ms",
                                                 "auto.commit.",
                                                 "check.crcs",
                                                 "isolation.level",
                                                 "coordinator.",
                                                 "offset.",
                                                 "consume.callback."};

bool IsManagedSetting(const std::string& name) {
  return std::any_of(std::begin(kManagedSettings), std::end(kManagedSettings),
                     [&](const char* managed) { return name == managed; });
}

bool IsConsumerOnlySetting(const std::string& name) {
  return std::any_of(std::begin(kConsumerOnlyPrefixes), std::end(kConsumerOnlyPrefixes),
                     [&](const char* prefix) { return name.starts_with(prefix); });
}

// Callers pass topics, partitions, offsets and versions at most: never record keys or values,
// and never a projector's status message (it may quote the record).
void ConsumerLog(runtime::LogLevel level, const std::string& group, std::string_view message,
                 std::vector<runtime::LogField> fields = {}) {
  fields.insert(fields.begin(), runtime::LogField("group", group));
  runtime::Log(level, kLogComponent, message, fields);
}

std::string Where(const TopicPartition& tp) {
  return absl::StrCat("topic=", tp.first, " partition=", tp.second);
}

absl::Status ValidateOptions(const ConsumerOptions& options) {
  if (options.bootstrap_servers.empty()) {
    return absl::InvalidArgumentError("bootstrap_servers: must be set");
  }
  if (options.group_id.empty() || options.group_id.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("group_id: must be set and contain no NUL byte");
  }
  if (options.topics.empty()) return absl::InvalidArgumentError("topics: must not be empty");
  for (const std::string& topic : options.topics) {
    if (topic.empty()) return absl::InvalidArgumentError("topics: names must not be empty");
  }
  if (options.dead_letter_topic.empty()) {
    return absl::InvalidArgumentError("dead_letter_topic: must be set");
  }
  if (std::find(options.topics.begin(), options.topics.end(), options.dead_letter_topic) !=
      options.topics.end()) {
    // A record rejected from the dead-letter topic would be dead-lettered to itself forever.
    return absl::InvalidArgumentError("dead_letter_topic: must not be one of topics");
  }
  if (options.max_batch == 0) return absl::InvalidArgumentError("max_batch: must be >= 1");
  if (options.max_batch_wait < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("max_batch_wait: must not be negative");
  }
  return absl::OkStatus();
}

absl::Status SetConfig(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof(errstr)) !=
      RD_KAFKA_CONF_OK) {
    return absl::InvalidArgumentError(absl::StrCat("kafka_config: ", name, ": ", errstr));
  }
  return absl::OkStatus();
}

// Checks a projector's result: these are projector bugs, so the record is dead-lettered.
absl::Status ValidateProjection(const Projection& projection) {
  if (projection.stream_id.empty()) {
    return absl::InternalError("projector returned an empty stream_id");
  }
  if (projection.version < 1) return absl::InternalError("projector returned a version < 1");
  for (const storage::ViewWrite& write : projection.writes) {
    if (!write.key.empty() && write.key[0] == '\x01') {
      return absl::InternalError("projector wrote a reserved view key");
    }
  }
  return absl::OkStatus();
}

// The batch's pending rows over the stored ones. Remembers the first storage failure so that
// the consumer can tell "RocksDB failed" (retry) from "the projector rejected the record"
// (dead-letter), whatever status the projector chose to return.
class OverlayReader final : public ViewReader {
 public:
  OverlayReader(const storage::ViewStore& store, const RowMap& pending)
      : store_(store), pending_(pending) {}

  absl::StatusOr<std::optional<std::string>> Get(const std::string& key) const override {
    auto it = pending_.find(key);
    if (it != pending_.end()) return it->second;
    absl::StatusOr<std::optional<std::string>> row = store_.Get(key);
    if (!row.ok() && storage_error_.ok()) storage_error_ = row.status();
    return row;
  }

  const absl::Status& storage_error() const { return storage_error_; }

 private:
  const storage::ViewStore& store_;
  const RowMap& pending_;
  mutable absl::Status storage_error_;
};

enum class Delivery { kPending, kDelivered, kFailed };

struct DeadLetter {
  ConsumedRecord record;
  std::string reason;
  Delivery delivery = Delivery::kPending;
};

// Everything decided since the last RocksDB write.
struct Batch {
  RowMap rows;
  storage::Checkpoint next_offsets;
  // Per partition in next_offsets: the fingerprint of the record at next offset - 1.
  std::map<TopicPartition, std::string> fingerprints;
  std::vector<DeadLetter> dead_letters;
  size_t records = 0;
  uint64_t applied = 0;
  uint64_t duplicates = 0;
  uint64_t gaps = 0;
  absl::Time first_record_at;

  bool empty() const { return records == 0; }
};

struct Watermarks {
  int64_t low = 0;
  int64_t high = 0;
};

// A partition assigned one record before its stored offset, waiting for that record.
struct ResumeCheck {
  int64_t offset = 0;                            // stored offset - 1
  std::string fingerprint;                       // stored with the offset
  int64_t earliest = RD_KAFKA_OFFSET_BEGINNING;  // where to read from if the record differs
};

uint64_t Fnv1a64(std::string_view bytes, uint64_t hash) {
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

// What identifies a record well enough to tell whether an offset still holds it: its CloudEvents
// id (the same for every publication of an event, different for every other event), else a
// stable hash of key and value (std::hash and absl::Hash may differ between processes).
std::string RecordFingerprint(const ConsumedRecord& record) {
  for (const auto& [name, value] : record.headers) {
    if (name == "ce_id" && !value.empty()) return absl::StrCat("id:", value);
  }
  // The key's length goes in first, so that ("ab", "c") and ("a", "bc") differ.
  uint64_t hash = Fnv1a64(storage::EncodeBigEndian64(record.key.size()), 0xcbf29ce484222325ULL);
  hash = Fnv1a64(record.key, hash);
  hash = Fnv1a64(record.value, hash);
  return absl::StrCat("fnv:", absl::Hex(hash, absl::kZeroPad16), ":", record.value.size());
}

}  // namespace

std::string AppliedVersionKey(const std::string& group_id, const std::string& stream_id) {
  // '\0' after the group keeps ("a/b", "c") and ("a", "b/c") apart; group ids contain no NUL.
  std::string key = absl::StrCat("\x01", "applied/", group_id);
  key.push_back('\0');
  key += stream_id;
  return key;
}

std::string ResumeFingerprintKey(const std::string& group_id, const std::string& topic,
                                 int32_t partition) {
  // Laid out like AppliedVersionKey; topics contain no NUL either.
  std::string key = absl::StrCat("\x01", "fp/", group_id);
  key.push_back('\0');
  key += topic;
  key.push_back('\0');
  key += storage::EncodeBigEndian64(static_cast<uint64_t>(partition));
  return key;
}

// The consumer thread's state. Apart from construction and Init() (on the caller of Start(),
// before the thread exists) every member is touched only by the consumer thread, including the
// librdkafka callbacks, which run inside its poll, flush and close calls.
class ProjectionConsumer::Loop {
 public:
  explicit Loop(ProjectionConsumer& owner) : owner_(owner), views_(owner.db_) {}
  ~Loop() { DestroyClients(); }

  absl::Status Init();
  void Run();

 private:
  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque);
  static void OnCommit(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                       rd_kafka_topic_partition_list_t* offsets, void* opaque);
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);

  const std::string& group() const { return owner_.options_.group_id; }
  absl::Status CreateProducer();
  void DestroyClients();

  void Assign(rd_kafka_topic_partition_list_t* partitions, bool cooperative);
  void Revoke(rd_kafka_topic_partition_list_t* partitions, bool cooperative);
  std::optional<Watermarks> QueryWatermarks(const TopicPartition& tp, absl::Time deadline);

  // Reads the stored offsets of the group and, for the `partitions` that have one, the
  // fingerprints stored with them; retries while RocksDB fails. False if Stop() came first.
  bool ReadResumePoints(const rd_kafka_topic_partition_list_t& partitions,
                        storage::Checkpoint* offsets,
                        std::map<TopicPartition, std::string>* fingerprints);
  // Settles a partition's pending ResumeCheck with its first record; false if the record was
  // consumed by the check (it is the one applied last, or the partition was rewound).
  bool CheckResumePoint(const ConsumedRecord& record);

  void HandleMessage(const rd_kafka_message_t& message);
  void HandleConsumerError(const rd_kafka_message_t& message);
  // Decides the record into the batch, retrying while RocksDB fails; false if the batch was
  // given up because Stop() was called meanwhile.
  bool ProcessRecord(const ConsumedRecord& record);
  // One attempt; a non-OK status is a storage failure and leaves the batch unchanged.
  absl::Status DecideRecord(const ConsumedRecord& record);
  void AddDeadLetter(const ConsumedRecord& record, const absl::Status& reason);
  void ProduceDeadLetter(size_t index);
  bool DeliverDeadLetters();
  bool FlushBatch(bool commit_to_kafka);
  void CommitToKafka(const storage::Checkpoint& offsets);
  void AbandonBatch();

  void UpdateCaughtUp();
  void RetryUnknownTargets();
  bool WaitToRetry(absl::Duration& backoff);
  bool PastStopGrace();

  ProjectionConsumer& owner_;
  storage::ViewStore views_;
  rd_kafka_t* consumer_ = nullptr;
  rd_kafka_t* producer_ = nullptr;

  Batch batch_;
  bool abandoned_ = false;
  std::optional<absl::Time> stop_deadline_;

  std::set<TopicPartition> assigned_;
  // Next offset whose effects are stored, per assigned partition (when known).
  std::map<TopicPartition, int64_t> positions_;
  // Assigned partitions whose first record has yet to confirm that they are still the log
  // their stored offset was read from.
  std::map<TopicPartition, ResumeCheck> resume_checks_;
  // Caught-up tracking: start-up partitions not yet caught up, with their end offset then,
  // and those whose end offset could not be queried yet.
  bool startup_assignment_seen_ = false;
  std::map<TopicPartition, int64_t> startup_targets_;
  std::set<TopicPartition> startup_unknown_;
  absl::Time next_target_retry_ = absl::InfinitePast();

  rd_kafka_resp_err_t last_logged_error_ = RD_KAFKA_RESP_ERR_NO_ERROR;
  absl::Time last_logged_error_at_ = absl::InfinitePast();
};

absl::Status ProjectionConsumer::Loop::Init() {
  const ConsumerOptions& options = owner_.options_;
  for (const auto& [name, value] : options.kafka_config) {
    if (IsManagedSetting(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("kafka_config: ", name, " is set by the projection consumer"));
    }
  }

  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto configure = [&]() -> absl::Status {
    ES_RETURN_IF_ERROR(SetConfig(conf, "client.id", "projection-" + group()));
    // Without this, fetching pauses ~1 s whenever 100k messages are queued (facts.md);
    // memory stays bounded by queued.max.messages.kbytes.
    ES_RETURN_IF_ERROR(SetConfig(conf, "queued.min.messages", "1000000"));
    for (const auto& [name, value] : options.kafka_config) {
      ES_RETURN_IF_ERROR(SetConfig(conf, name, value));
    }
    ES_RETURN_IF_ERROR(SetConfig(conf, "bootstrap.servers", options.bootstrap_servers));
    ES_RETURN_IF_ERROR(SetConfig(conf, "group.id", options.group_id));
    // Incremental rebalances: partitions that stay put keep flowing, and the revoke callback
    // can still commit (the eager protocol fails commits there with REBALANCE_IN_PROGRESS).
    ES_RETURN_IF_ERROR(SetConfig(conf, "partition.assignment.strategy", "cooperative-sticky"));
    // RocksDB holds the real offsets; Kafka only gets explicit commits after each batch.
    ES_RETURN_IF_ERROR(SetConfig(conf, "enable.auto.commit", "false"));
    ES_RETURN_IF_ERROR(SetConfig(conf, "enable.auto.offset.store", "false"));
    // A fetch position past the end (the broker restarted empty while we ran) restarts the
    // partition at its beginning instead of failing; duplicates are then skipped by version.
    ES_RETURN_IF_ERROR(SetConfig(conf, "auto.offset.reset", "earliest"));
    ES_RETURN_IF_ERROR(SetConfig(conf, "enable.partition.eof", "false"));
    return absl::OkStatus();
  };
  if (absl::Status status = configure(); !status.ok()) {
    rd_kafka_conf_destroy(conf);
    return status;
  }
  runtime::UseJsonLogging(conf, kLogComponent);
  rd_kafka_conf_set_rebalance_cb(conf, &Loop::OnRebalance);
  rd_kafka_conf_set_offset_commit_cb(conf, &Loop::OnCommit);
  rd_kafka_conf_set_opaque(conf, this);

  char errstr[512];
  consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  if (consumer_ == nullptr) {
    es::runtime::AbandonConfAfterFailedNew(conf);
    // Settings only rd_kafka_new() checks (TLS files, conflicts): the configuration's fault.
    return absl::InvalidArgumentError(
        absl::StrCat("kafka_config: creating Kafka consumer: ", errstr));
  }
  // One queue for everything (messages, rebalances, errors, commit results), served by
  // rd_kafka_consumer_poll on the consumer thread.
  rd_kafka_poll_set_consumer(consumer_);

  ES_RETURN_IF_ERROR(CreateProducer());

  rd_kafka_topic_partition_list_t* topics =
      rd_kafka_topic_partition_list_new(static_cast<int>(options.topics.size()));
  for (const std::string& topic : options.topics) {
    rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  }
  rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer_, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InvalidArgumentError(absl::StrCat("subscribing: ", rd_kafka_err2str(err)));
  }
  return absl::OkStatus();
}

absl::Status ProjectionConsumer::Loop::CreateProducer() {
  const ConsumerOptions& options = owner_.options_;
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto configure = [&]() -> absl::Status {
    ES_RETURN_IF_ERROR(SetConfig(conf, "client.id", "projection-dlq-" + group()));
    // Dead letters are rare and the batch waits for them: send at once.
    ES_RETURN_IF_ERROR(SetConfig(conf, "linger.ms", "0"));
    for (const auto& [name, value] : options.kafka_config) {
      if (!IsConsumerOnlySetting(name)) ES_RETURN_IF_ERROR(SetConfig(conf, name, value));
    }
    ES_RETURN_IF_ERROR(SetConfig(conf, "bootstrap.servers", options.bootstrap_servers));
    // Retries inside librdkafka then neither duplicate nor reorder dead letters.
    ES_RETURN_IF_ERROR(SetConfig(conf, "enable.idempotence", "true"));
    return absl::OkStatus();
  };
  if (absl::Status status = configure(); !status.ok()) {
    rd_kafka_conf_destroy(conf);
    return status;
  }
  runtime::UseJsonLogging(conf, kLogComponent);
  rd_kafka_conf_set_dr_msg_cb(conf, &Loop::OnDelivery);
  rd_kafka_conf_set_opaque(conf, this);
  char errstr[512];
  producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (producer_ == nullptr) {
    es::runtime::AbandonConfAfterFailedNew(conf);
    return absl::InvalidArgumentError(
        absl::StrCat("kafka_config: creating dead-letter producer: ", errstr));
  }
  return absl::OkStatus();
}

void ProjectionConsumer::Loop::DestroyClients() {
  if (consumer_ != nullptr) {
    rd_kafka_destroy(consumer_);
    consumer_ = nullptr;
  }
  if (producer_ != nullptr) {
    // Only reached with dead letters outstanding when a batch was abandoned at Stop(); those
    // records are read again from the stored offsets next time.
    rd_kafka_purge(producer_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(producer_);
    producer_ = nullptr;
  }
}

void ProjectionConsumer::Loop::Run() {
  const ConsumerOptions& options = owner_.options_;
  while (!owner_.stop_requested_.load(std::memory_order_acquire)) {
    int timeout_ms = kIdlePollMs;
    if (!batch_.empty()) {
      int64_t left =
          absl::ToInt64Milliseconds(batch_.first_record_at + options.max_batch_wait - absl::Now());
      timeout_ms = static_cast<int>(std::clamp<int64_t>(left, 0, kIdlePollMs));
    }
    rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer_, timeout_ms);
    if (message != nullptr) {
      HandleMessage(*message);
      rd_kafka_message_destroy(message);
    }
    if (abandoned_) break;
    if (!batch_.empty() && (batch_.records >= options.max_batch ||
                            absl::Now() >= batch_.first_record_at + options.max_batch_wait)) {
      if (!FlushBatch(/*commit_to_kafka=*/true)) break;
    }
    if (producer_ != nullptr) rd_kafka_poll(producer_, 0);  // serves its error and log events
    RetryUnknownTargets();
  }
  if (!abandoned_ && !FlushBatch(/*commit_to_kafka=*/true)) AbandonBatch();
  // Leaving the group runs the revoke callback here, which finds the batch already written.
  rd_kafka_resp_err_t err = rd_kafka_consumer_close(consumer_);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    ConsumerLog(runtime::LogLevel::kWarning, group(),
                absl::StrCat("closing consumer: ", rd_kafka_err2str(err)));
  }
  DestroyClients();
}

void ProjectionConsumer::Loop::OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                           rd_kafka_topic_partition_list_t* partitions,
                                           void* opaque) {
  auto* loop = static_cast<Loop*>(opaque);
  const char* protocol = rd_kafka_rebalance_protocol(rk);
  bool cooperative = protocol != nullptr && std::strcmp(protocol, "COOPERATIVE") == 0;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    loop->Assign(partitions, cooperative);
  } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    loop->Revoke(partitions, cooperative);
  } else {
    ConsumerLog(runtime::LogLevel::kError, loop->group(),
                absl::StrCat("rebalance failed: ", rd_kafka_err2str(err)));
    loop->Revoke(partitions, /*cooperative=*/false);
  }
}

std::optional<Watermarks> ProjectionConsumer::Loop::QueryWatermarks(const TopicPartition& tp,
                                                                    absl::Time deadline) {
  int64_t budget_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
  if (budget_ms <= 0) return std::nullopt;
  Watermarks marks;
  rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
      consumer_, tp.first.c_str(), tp.second, &marks.low, &marks.high,
      static_cast<int>(std::min<int64_t>(budget_ms, INT32_MAX)));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    ConsumerLog(runtime::LogLevel::kWarning, group(),
                absl::StrCat("querying watermarks of ", Where(tp), ": ", rd_kafka_err2str(err)));
    return std::nullopt;
  }
  return marks;
}

bool ProjectionConsumer::Loop::ReadResumePoints(
    const rd_kafka_topic_partition_list_t& partitions, storage::Checkpoint* offsets,
    std::map<TopicPartition, std::string>* fingerprints) {
  absl::Duration backoff = kMinBackoff;
  for (;;) {
    absl::Status status = [&]() -> absl::Status {
      ES_ASSIGN_OR_RETURN(*offsets, views_.ReadCheckpoint(group()));
      fingerprints->clear();
      for (int i = 0; i < partitions.cnt; ++i) {
        TopicPartition tp{partitions.elems[i].topic, partitions.elems[i].partition};
        if (!offsets->contains(tp)) continue;
        ES_ASSIGN_OR_RETURN(std::optional<std::string> fingerprint,
                            views_.Get(ResumeFingerprintKey(group(), tp.first, tp.second)));
        if (fingerprint.has_value()) (*fingerprints)[tp] = *std::move(fingerprint);
      }
      return absl::OkStatus();
    }();
    if (status.ok()) return true;
    ConsumerLog(runtime::LogLevel::kWarning, group(),
                absl::StrCat("reading checkpoint: ", status.ToString()));
    if (!WaitToRetry(backoff)) return false;
  }
}

void ProjectionConsumer::Loop::Assign(rd_kafka_topic_partition_list_t* partitions,
                                      bool cooperative) {
  storage::Checkpoint checkpoint;
  std::map<TopicPartition, std::string> fingerprints;
  // Stopping: leave the partitions unassigned; the consumer is about to close anyway.
  if (!ReadResumePoints(*partitions, &checkpoint, &fingerprints)) return;

  // Start-up is the first assignment with partitions in it: under cooperative-sticky a member
  // joining a group that already has members is first assigned nothing (the partitions are
  // revoked elsewhere first), and that says nothing about how current the views are.
  const bool startup = !startup_assignment_seen_ && partitions->cnt > 0;
  if (startup) startup_assignment_seen_ = true;
  const absl::Time query_deadline = absl::Now() + kAssignQueryBudget;
  for (int i = 0; i < partitions->cnt; ++i) {
    rd_kafka_topic_partition_t& partition = partitions->elems[i];
    TopicPartition tp{partition.topic, partition.partition};
    auto stored = checkpoint.find(tp);
    std::optional<Watermarks> marks = QueryWatermarks(tp, query_deadline);
    // Start offsets are always explicit. OFFSET_INVALID would resume from Kafka's committed
    // offset when RocksDB has none, so a rebuilt (emptied) view store would silently skip
    // everything before it; OFFSET_BEGINNING costs an extra offset lookup that delays the
    // partition by 0.5-1 s on the mock.
    const int64_t earliest = marks.has_value() ? marks->low : RD_KAFKA_OFFSET_BEGINNING;
    int64_t start = earliest;
    // Where the effects of this partition's records are stored up to (see positions_).
    int64_t position = earliest;
    std::string from = "earliest";
    if (stored != checkpoint.end()) {
      const int64_t next = stored->second;
      auto fingerprint = fingerprints.find(tp);
      if (marks.has_value() && (next > marks->high || next < marks->low)) {
        // Past the end: the broker lost its log (the embedded broker restarted empty) and the
        // data is being published again. Before the start: retention removed it. Either way
        // the stored offset no longer points into this log.
        from = absl::StrCat("earliest (stored offset ", next, " is outside [", marks->low, ", ",
                            marks->high, "])");
      } else if (next == 0) {
        start = position = 0;
        from = "checkpoint";
      } else if (fingerprint == fingerprints.end()) {
        // Written before checkpoints carried fingerprints: nothing tells whether this is
        // still the same log, and reading it again only costs time.
        from = absl::StrCat("earliest (no fingerprint stored with offset ", next, ")");
      } else if (marks.has_value() && next - 1 < marks->low) {
        // The record to compare with is gone, so the log cannot be confirmed; its earliest
        // offset is the stored one anyway.
        from = absl::StrCat("earliest (offset ", next - 1, " to verify is gone)");
      } else {
        start = next - 1;
        // Unknown until the check: caught_up must not count a log that may be another one.
        position = RD_KAFKA_OFFSET_INVALID;
        resume_checks_[tp] = ResumeCheck{
            .offset = next - 1, .fingerprint = fingerprint->second, .earliest = earliest};
        from = "checkpoint (verifying the record before it)";
      }
    }
    partition.offset = start;
    assigned_.insert(tp);
    if (position >= 0) positions_[tp] = position;
    if (startup) {
      if (marks.has_value()) {
        startup_targets_[tp] = marks->high;
      } else {
        startup_unknown_.insert(tp);
      }
    }
    ConsumerLog(runtime::LogLevel::kInfo, group(),
                absl::StrCat("assigned ", Where(tp), " at offset ", start, " from ", from));
  }

  if (cooperative) {
    if (rd_kafka_error_t* error = rd_kafka_incremental_assign(consumer_, partitions)) {
      ConsumerLog(runtime::LogLevel::kError, group(),
                  absl::StrCat("incremental assign: ", rd_kafka_error_string(error)));
      rd_kafka_error_destroy(error);
    }
  } else {
    rd_kafka_resp_err_t err = rd_kafka_assign(consumer_, partitions);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      ConsumerLog(runtime::LogLevel::kError, group(),
                  absl::StrCat("assign: ", rd_kafka_err2str(err)));
    }
  }
  UpdateCaughtUp();
}

void ProjectionConsumer::Loop::Revoke(rd_kafka_topic_partition_list_t* partitions,
                                      bool cooperative) {
  // Write what was consumed before anyone else may own these partitions, so the next owner
  // resumes exactly after it. Lost partitions (session timed out) may already be owned
  // elsewhere; the rows are still written (the version check keeps that harmless), but Kafka
  // would refuse the commit.
  const bool lost = rd_kafka_assignment_lost(consumer_) != 0;
  if (!abandoned_ && !FlushBatch(/*commit_to_kafka=*/!lost)) AbandonBatch();

  for (int i = 0; partitions != nullptr && i < partitions->cnt; ++i) {
    TopicPartition tp{partitions->elems[i].topic, partitions->elems[i].partition};
    assigned_.erase(tp);
    positions_.erase(tp);
    resume_checks_.erase(tp);
    // A cooperative revocation moves the partition to another member: it no longer holds up
    // caught_up. A lost one, or an eager revocation, may well come back here.
    if (cooperative && !lost) {
      startup_targets_.erase(tp);
      startup_unknown_.erase(tp);
    }
    ConsumerLog(runtime::LogLevel::kInfo, group(),
                absl::StrCat(lost ? "lost " : "revoked ", Where(tp)));
  }
  if (cooperative && partitions != nullptr) {
    if (rd_kafka_error_t* error = rd_kafka_incremental_unassign(consumer_, partitions)) {
      ConsumerLog(runtime::LogLevel::kError, group(),
                  absl::StrCat("incremental unassign: ", rd_kafka_error_string(error)));
      rd_kafka_error_destroy(error);
    }
  } else {
    assigned_.clear();
    positions_.clear();
    resume_checks_.clear();
    rd_kafka_resp_err_t err = rd_kafka_assign(consumer_, nullptr);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      ConsumerLog(runtime::LogLevel::kError, group(),
                  absl::StrCat("unassign: ", rd_kafka_err2str(err)));
    }
  }
  UpdateCaughtUp();
}

void ProjectionConsumer::Loop::OnCommit(rd_kafka_t* /*rk*/, rd_kafka_resp_err_t err,
                                        rd_kafka_topic_partition_list_t* /*offsets*/,
                                        void* opaque) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;
  auto* loop = static_cast<Loop*>(opaque);
  ConsumerLog(runtime::LogLevel::kWarning, loop->group(),
              absl::StrCat("committing offsets to Kafka (RocksDB keeps the real ones): ",
                           rd_kafka_err2str(err)));
}

void ProjectionConsumer::Loop::HandleMessage(const rd_kafka_message_t& message) {
  if (message.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    HandleConsumerError(message);
    return;
  }
  ConsumedRecord record;
  record.topic = rd_kafka_topic_name(message.rkt);
  record.partition = message.partition;
  record.offset = message.offset;
  if (message.key != nullptr) {
    record.key.assign(static_cast<const char*>(message.key), message.key_len);
  }
  if (message.payload != nullptr) {
    record.value.assign(static_cast<const char*>(message.payload), message.len);
  }
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(&message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name;
    const void* value;
    size_t size;
    for (size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      record.headers.emplace_back(name, value == nullptr
                                            ? std::string()
                                            : std::string(static_cast<const char*>(value), size));
    }
  }
  if (!CheckResumePoint(record)) return;
  if (batch_.empty()) batch_.first_record_at = absl::Now();
  if (!ProcessRecord(record)) AbandonBatch();
}

bool ProjectionConsumer::Loop::CheckResumePoint(const ConsumedRecord& record) {
  const TopicPartition tp{record.topic, record.partition};
  auto check = resume_checks_.find(tp);
  if (check == resume_checks_.end()) return true;
  ResumeCheck expected = std::move(check->second);
  resume_checks_.erase(check);
  if (record.offset < expected.offset) {
    // Only auto.offset.reset moves a partition below where it was assigned: the offset was out
    // of range (a new, shorter log), and reading continues from the new log's earliest offset.
    positions_[tp] = record.offset;
    return true;
  }
  if (record.offset == expected.offset && RecordFingerprint(record) == expected.fingerprint) {
    // The record applied last: this is the same log, and reading goes on after it.
    positions_[tp] = record.offset + 1;
    UpdateCaughtUp();
    return false;
  }
  // Another record at that offset, or none (a gap in the offsets): the log was replaced since
  // the checkpoint was stored, and its records before the stored offset were never read.
  ConsumerLog(runtime::LogLevel::kWarning, group(),
              absl::StrCat("the record before the stored offset of ", Where(tp),
                           " is not the one applied there (the broker lost its log?); reading the "
                           "partition again from its earliest offset"),
              {{"topic", tp.first},
               {"partition", absl::StrCat(tp.second)},
               {"offset", absl::StrCat(expected.offset)},
               {"found_offset", absl::StrCat(record.offset)}});
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, tp.first.c_str(), tp.second)->offset = expected.earliest;
  // With a timeout, records already fetched from the old position are never handed out after
  // the seek. A timeout only means the confirmation came late: the seek itself is queued.
  rd_kafka_error_t* error = rd_kafka_seek_partitions(consumer_, list, kSeekTimeoutMs);
  rd_kafka_resp_err_t err = error != nullptr ? rd_kafka_error_code(error) : list->elems[0].err;
  if (error != nullptr) rd_kafka_error_destroy(error);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__TIMED_OUT) {
    // Not expected for an assigned partition. Nothing after the stored offset may be applied
    // before the partition was read from its start, so the check stays and the next record
    // tries again.
    ConsumerLog(runtime::LogLevel::kError, group(),
                absl::StrCat("rewinding ", Where(tp), ": ", rd_kafka_err2str(err)));
    resume_checks_[tp] = std::move(expected);
    return false;
  }
  if (expected.earliest >= 0) {
    positions_[tp] = expected.earliest;
  } else {
    positions_.erase(tp);
  }
  return false;
}

void ProjectionConsumer::Loop::HandleConsumerError(const rd_kafka_message_t& message) {
  if (message.err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
  absl::Time now = absl::Now();
  if (message.err == last_logged_error_ && now - last_logged_error_at_ < kErrorLogInterval) {
    return;
  }
  last_logged_error_ = message.err;
  last_logged_error_at_ = now;
  std::string where;
  if (message.rkt != nullptr) {
    where = absl::StrCat(" (", Where({rd_kafka_topic_name(message.rkt), message.partition}), ")");
  }
  // For error events the payload is librdkafka's error text, not record data.
  ConsumerLog(runtime::LogLevel::kWarning, group(),
              absl::StrCat("consumer error", where, ": ", rd_kafka_message_errstr(&message)));
}

bool ProjectionConsumer::Loop::ProcessRecord(const ConsumedRecord& record) {
  absl::Duration backoff = kMinBackoff;
  for (absl::Status status = DecideRecord(record); !status.ok(); status = DecideRecord(record)) {
    // RocksDB failed: not the record's fault, so neither dead-letter nor skip it. Retry the
    // same record until storage recovers.
    ConsumerLog(runtime::LogLevel::kWarning, group(),
                absl::StrCat("reading views at ", Where({record.topic, record.partition}),
                             " offset ", record.offset, ": ", status.ToString()));
    if (!WaitToRetry(backoff)) return false;
  }
  batch_.next_offsets[{record.topic, record.partition}] = record.offset + 1;
  batch_.fingerprints[{record.topic, record.partition}] = RecordFingerprint(record);
  ++batch_.records;
  return true;
}

absl::Status ProjectionConsumer::Loop::DecideRecord(const ConsumedRecord& record) {
  OverlayReader reader(views_, batch_.rows);
  absl::StatusOr<Projection> projection = owner_.projector_.Project(record, reader);
  // Checked before the projector's own status, which may be a storage error it passed on.
  ES_RETURN_IF_ERROR(reader.storage_error());
  if (!projection.ok()) {
    // Unavailable is the projector saying "not now" (its own store is down or stopping): the
    // record is retried like a storage error, never dead-lettered.
    if (projection.status().code() == absl::StatusCode::kUnavailable) return projection.status();
    AddDeadLetter(record, projection.status());
    return absl::OkStatus();
  }
  if (absl::Status invalid = ValidateProjection(*projection); !invalid.ok()) {
    AddDeadLetter(record, invalid);
    return absl::OkStatus();
  }
  const std::string applied_key = AppliedVersionKey(group(), projection->stream_id);
  ES_ASSIGN_OR_RETURN(std::optional<std::string> applied_row, reader.Get(applied_key));
  int64_t applied_version = 0;
  if (applied_row.has_value()) {
    if (applied_row->size() != 8) return absl::DataLossError("malformed applied-version row");
    applied_version = static_cast<int64_t>(storage::DecodeBigEndian64(*applied_row));
  }
  if (projection->version <= applied_version) {
    ++batch_.duplicates;
    return absl::OkStatus();
  }
  if (projection->version > applied_version + 1 && !owner_.options_.allow_version_gaps) {
    // Versions in between are missing here (e.g. records that reached a new broker before the
    // relay noticed it had lost its log, ahead of the republished history): the
    // re-publication brings them, and this one after them.
    ++batch_.gaps;
    ConsumerLog(runtime::LogLevel::kDebug, group(),
                "version gap: record skipped until the versions before it arrive",
                {{"topic", record.topic},
                 {"partition", absl::StrCat(record.partition)},
                 {"offset", absl::StrCat(record.offset)},
                 {"applied_version", absl::StrCat(applied_version)},
                 {"version", absl::StrCat(projection->version)}});
    return absl::OkStatus();
  }
  for (storage::ViewWrite& write : projection->writes) {
    batch_.rows[std::move(write.key)] = std::move(write.value);
  }
  batch_.rows[applied_key] = storage::EncodeBigEndian64(static_cast<uint64_t>(projection->version));
  ++batch_.applied;
  return absl::OkStatus();
}

void ProjectionConsumer::Loop::AddDeadLetter(const ConsumedRecord& record,
                                             const absl::Status& reason) {
  // The reason itself may quote the record, so only its code is logged.
  ConsumerLog(runtime::LogLevel::kWarning, group(),
              absl::StrCat("dead-lettering ", Where({record.topic, record.partition}), " offset ",
                           record.offset, ": ", absl::StatusCodeToString(reason.code())));
  batch_.dead_letters.push_back(DeadLetter{record, std::string(reason.message())});
  // Produced now, so delivery overlaps with the rest of the batch; FlushBatch waits for it.
  ProduceDeadLetter(batch_.dead_letters.size() - 1);
}

void ProjectionConsumer::Loop::ProduceDeadLetter(size_t index) {
  DeadLetter& letter = batch_.dead_letters[index];
  const ConsumedRecord& record = letter.record;
  if (producer_ == nullptr) {
    letter.delivery = Delivery::kFailed;
    return;
  }
  letter.delivery = Delivery::kPending;
  rd_kafka_headers_t* headers = rd_kafka_headers_new(record.headers.size() + 4);
  auto add = [headers](const std::string& name, const std::string& value) {
    rd_kafka_header_add(headers, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                        static_cast<ssize_t>(value.size()));
  };
  add("dlq_reason", letter.reason);
  add("dlq_topic", record.topic);
  add("dlq_partition", std::to_string(record.partition));
  add("dlq_offset", std::to_string(record.offset));
  for (const auto& [name, value] : record.headers) add(name, value);

  const std::string& topic = owner_.options_.dead_letter_topic;
  rd_kafka_resp_err_t err = rd_kafka_producev(
      producer_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_KEY(record.key.empty() ? nullptr : record.key.data(), record.key.size()),
      RD_KAFKA_V_VALUE(record.value.empty() ? nullptr : const_cast<char*>(record.value.data()),
                       record.value.size()),
      RD_KAFKA_V_HEADERS(headers),
      RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(index))), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_headers_destroy(headers);  // ownership passes to librdkafka only on success
    letter.delivery = Delivery::kFailed;
    ConsumerLog(
        runtime::LogLevel::kWarning, group(),
        absl::StrCat("producing to dead-letter topic ", topic, ": ", rd_kafka_err2str(err)));
  }
}

void ProjectionConsumer::Loop::OnDelivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* message,
                                          void* opaque) {
  auto* loop = static_cast<Loop*>(opaque);
  size_t index = static_cast<size_t>(reinterpret_cast<uintptr_t>(message->_private));
  // Reports for an abandoned batch (purged at Stop()) find an empty list.
  if (index >= loop->batch_.dead_letters.size()) return;
  DeadLetter& letter = loop->batch_.dead_letters[index];
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    letter.delivery = Delivery::kDelivered;
    return;
  }
  letter.delivery = Delivery::kFailed;
  ConsumerLog(runtime::LogLevel::kWarning, loop->group(),
              absl::StrCat("dead letter not delivered to ", loop->owner_.options_.dead_letter_topic,
                           ": ", rd_kafka_err2str(message->err)));
}

bool ProjectionConsumer::Loop::DeliverDeadLetters() {
  absl::Duration backoff = kMinBackoff;
  for (;;) {
    bool pending = false;
    bool failed = false;
    for (const DeadLetter& letter : batch_.dead_letters) {
      pending |= letter.delivery == Delivery::kPending;
      failed |= letter.delivery == Delivery::kFailed;
    }
    if (!pending && !failed) return true;
    if (pending) {
      // Serves the delivery reports; librdkafka retries on its own until message.timeout.ms.
      rd_kafka_flush(producer_, kIdlePollMs);
      if (PastStopGrace()) return false;
      continue;
    }
    if (!WaitToRetry(backoff)) return false;
    char reason[256];
    if (producer_ != nullptr &&
        rd_kafka_fatal_error(producer_, reason, sizeof(reason)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      // An idempotent producer that hit a fatal error accepts nothing more: replace it.
      ConsumerLog(runtime::LogLevel::kError, group(),
                  absl::StrCat("dead-letter producer failed fatally: ", reason));
      rd_kafka_purge(producer_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_destroy(producer_);
      producer_ = nullptr;
    }
    if (producer_ == nullptr) {
      if (absl::Status status = CreateProducer(); !status.ok()) {
        ConsumerLog(runtime::LogLevel::kError, group(), status.ToString());
        continue;
      }
    }
    for (size_t i = 0; i < batch_.dead_letters.size(); ++i) {
      if (batch_.dead_letters[i].delivery == Delivery::kFailed) ProduceDeadLetter(i);
    }
  }
}

bool ProjectionConsumer::Loop::FlushBatch(bool commit_to_kafka) {
  if (batch_.empty()) return true;
  // Dead letters first: once the offsets past a rejected record are stored, the record is
  // never read again, so it must already be on the dead-letter topic.
  if (!DeliverDeadLetters()) return false;

  std::vector<storage::ViewWrite> writes;
  writes.reserve(batch_.rows.size());
  for (auto& [key, value] : batch_.rows) writes.push_back({key, std::move(value)});
  // Stored with the offsets, so that the next assignment can tell whether the log is the same.
  for (auto& [tp, fingerprint] : batch_.fingerprints) {
    writes.push_back({ResumeFingerprintKey(group(), tp.first, tp.second), std::move(fingerprint)});
  }
  absl::Duration backoff = kMinBackoff;
  for (;;) {
    absl::Status status = views_.ApplyWithCheckpoint(writes, group(), batch_.next_offsets);
    if (status.ok()) break;
    ConsumerLog(runtime::LogLevel::kWarning, group(),
                absl::StrCat("storing batch: ", status.ToString()));
    if (!WaitToRetry(backoff)) return false;
  }

  {
    absl::MutexLock lock(&owner_.stats_mu_);
    owner_.stats_.applied += batch_.applied;
    owner_.stats_.duplicates_skipped += batch_.duplicates;
    owner_.stats_.gaps_skipped += batch_.gaps;
    owner_.stats_.dead_lettered += batch_.dead_letters.size();
    ++owner_.stats_.batches;
  }
  for (const auto& [tp, next] : batch_.next_offsets) {
    if (assigned_.contains(tp)) positions_[tp] = next;
  }
  UpdateCaughtUp();
  if (commit_to_kafka) CommitToKafka(batch_.next_offsets);
  batch_ = Batch();
  return true;
}

void ProjectionConsumer::Loop::CommitToKafka(const storage::Checkpoint& offsets) {
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
  for (const auto& [tp, next] : offsets) {
    if (!assigned_.contains(tp)) continue;
    rd_kafka_topic_partition_list_add(list, tp.first.c_str(), tp.second)->offset = next;
  }
  if (list->cnt > 0) {
    // Async: the result arrives in OnCommit. Only lag monitoring reads these offsets.
    rd_kafka_resp_err_t err = rd_kafka_commit(consumer_, list, /*async=*/1);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      ConsumerLog(runtime::LogLevel::kWarning, group(),
                  absl::StrCat("committing offsets to Kafka: ", rd_kafka_err2str(err)));
    }
  }
  rd_kafka_topic_partition_list_destroy(list);
}

void ProjectionConsumer::Loop::AbandonBatch() {
  ConsumerLog(runtime::LogLevel::kWarning, group(),
              absl::StrCat("stopping with an unwritten batch of ", batch_.records,
                           " records; they will be read again from the stored offsets"));
  abandoned_ = true;
  batch_ = Batch();
}

void ProjectionConsumer::Loop::UpdateCaughtUp() {
  if (owner_.caught_up_.load(std::memory_order_relaxed)) return;
  if (!startup_assignment_seen_ || !startup_unknown_.empty()) return;
  for (auto it = startup_targets_.begin(); it != startup_targets_.end();) {
    auto position = positions_.find(it->first);
    if (position != positions_.end() && position->second >= it->second) {
      it = startup_targets_.erase(it);
    } else {
      ++it;
    }
  }
  if (startup_targets_.empty()) {
    owner_.caught_up_.store(true, std::memory_order_release);
    ConsumerLog(runtime::LogLevel::kInfo, group(),
                "caught up with the end offsets seen at start-up");
  }
}

void ProjectionConsumer::Loop::RetryUnknownTargets() {
  if (startup_unknown_.empty() || absl::Now() < next_target_retry_) return;
  next_target_retry_ = absl::Now() + kTargetRetryInterval;
  for (auto it = startup_unknown_.begin(); it != startup_unknown_.end();) {
    std::optional<Watermarks> marks = QueryWatermarks(*it, absl::Now() + absl::Seconds(1));
    if (!marks.has_value()) {
      ++it;
      continue;
    }
    // The partition started from its beginning, which is at least `low`.
    positions_.try_emplace(*it, marks->low);
    startup_targets_[*it] = marks->high;
    it = startup_unknown_.erase(it);
  }
  UpdateCaughtUp();
}

bool ProjectionConsumer::Loop::PastStopGrace() {
  if (!owner_.stop_requested_.load(std::memory_order_acquire)) return false;
  absl::Time now = absl::Now();
  if (!stop_deadline_.has_value()) stop_deadline_ = now + kStopGrace;
  return now >= *stop_deadline_;
}

bool ProjectionConsumer::Loop::WaitToRetry(absl::Duration& backoff) {
  absl::Time until = absl::Now() + backoff;
  backoff = std::min(backoff * 2, kMaxBackoff);
  // Sleeps in short steps so that Stop() is noticed.
  while (absl::Now() < until) {
    if (PastStopGrace()) return false;
    absl::SleepFor(std::min(until - absl::Now(), absl::Milliseconds(kIdlePollMs)));
  }
  return !PastStopGrace();
}

ProjectionConsumer::ProjectionConsumer(storage::RocksDb& db, Projector& projector,
                                       ConsumerOptions options)
    : db_(db), projector_(projector), options_(std::move(options)) {}

ProjectionConsumer::~ProjectionConsumer() { Stop(); }

absl::Status ProjectionConsumer::Start() {
  absl::MutexLock lock(&lifecycle_mu_);
  if (started_) return absl::FailedPreconditionError("projection consumer already started");
  ES_RETURN_IF_ERROR(ValidateOptions(options_));
  auto loop = std::make_unique<Loop>(*this);
  ES_RETURN_IF_ERROR(loop->Init());
  started_ = true;
  loop_ = std::move(loop);
  thread_ = std::thread([loop = loop_.get()] { loop->Run(); });
  return absl::OkStatus();
}

void ProjectionConsumer::Stop() {
  absl::MutexLock lock(&lifecycle_mu_);
  if (!thread_.joinable()) return;
  stop_requested_.store(true, std::memory_order_release);
  thread_.join();
  loop_.reset();
}

ConsumerStats ProjectionConsumer::stats() const {
  ConsumerStats stats;
  {
    absl::MutexLock lock(&stats_mu_);
    stats = stats_;
  }
  stats.caught_up = caught_up();
  return stats;
}

}  // namespace es::projection
