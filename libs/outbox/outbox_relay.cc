#include "libs/outbox/outbox_relay.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "libs/outbox/cloud_event.h"
#include "libs/runtime/log.h"
#include "libs/runtime/rdkafka_log.h"

namespace es::outbox {
namespace {

constexpr size_t kReadBatch = 1000;     // outbox entries read per ReadOutbox call
constexpr size_t kRemoveBatch = 1000;   // removals that force a RocksDB write
constexpr int kReportPollMs = 10;       // rd_kafka_poll wait while records are in flight
constexpr int64_t kRemoveEveryMs = 50;  // longest a delivered entry waits for its removal
constexpr int64_t kIdleWakeMs = 1000;   // idle wake-up, to serve librdkafka callbacks
constexpr int64_t kMinBackoffMs = 100;
constexpr int64_t kMaxBackoffMs = 5000;
constexpr int kMaxQueryTimeoutMs = 1000;  // watermark / metadata queries of the watcher

constexpr char kLogComponent[] = "outbox.relay";

// JSON lines like every other component's. Callers pass librdkafka error texts, topics,
// partitions, offsets and sequence numbers only: never keys or payloads.
void RelayLog(runtime::LogLevel level, std::string_view message) {
  runtime::Log(level, kLogComponent, message);
}

bool IsPurge(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT;
}

std::string ConfValue(const rd_kafka_conf_t* conf, const char* name) {
  char value[64];
  size_t size = sizeof(value);
  if (rd_kafka_conf_get(conf, name, value, &size) != RD_KAFKA_CONF_OK) return "";
  return value;
}

}  // namespace

class OutboxRelay::Impl {
 public:
  Impl(storage::EventStore& store, RelayOptions options)
      : store_(store), options_(std::move(options)) {}
  ~Impl() {
    Stop();
    if (conf_template_ != nullptr) rd_kafka_conf_destroy(conf_template_);
  }

  absl::Status Start();
  void Notify();
  absl::Status Flush(absl::Duration timeout);
  void Stop();
  RelayStats stats() const;

 private:
  // What became of an entry that was produced.
  enum class Slot : uint8_t { kInFlight, kDelivered, kFailed };

  using Offsets = std::map<std::string, std::vector<int64_t>, std::less<>>;

  absl::StatusOr<rd_kafka_conf_t*> BuildConf();
  rd_kafka_conf_t* NewProducerConf();  // a copy of conf_template_ with the callbacks set
  absl::StatusOr<rd_kafka_t*> NewWatcher();
  void Run();
  // The watcher thread: compares watermarks with `published_offsets_`, with its own handle, so
  // that its blocking queries never hold up delivery reports.
  void Watch();
  bool LostRecords(const Offsets& offsets, uint64_t generation);

  // Everything below runs on the relay thread only (librdkafka callbacks included: they are
  // served by rd_kafka_poll() on that thread).
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);
  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  void HandleDelivery(const rd_kafka_message_t& message);
  void NoteDeliveredOffset(const char* topic, int32_t partition, int64_t offset);
  bool CreateProducer();
  void DiscardProducer();
  void CheckFatal();
  void RecoverFromLoss();
  void PublishOffsets();
  void Rewind();
  bool CanProduce(absl::Time now) const;
  void ProduceMore();
  rd_kafka_resp_err_t Produce(const storage::OutboxEntry& entry);
  void RemoveDelivered(bool force);
  bool Idle() const;
  bool HasWorkNow(absl::Time now) const;
  void Backoff();

  storage::EventStore& store_;
  const RelayOptions options_;

  std::mutex lifecycle_mu_;  // serialises Start() and Stop()
  std::thread thread_;
  std::thread watcher_thread_;
  rd_kafka_conf_t* conf_template_ = nullptr;  // set by Start(); copied for every producer

  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t flush_requested_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t flush_confirmed_ ABSL_GUARDED_BY(mu_) = 0;
  // Handed from the relay to the watcher. A generation is the time between two recoveries from
  // loss; a report about an older generation is stale and ignored.
  Offsets published_offsets_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t loss_reported_ ABSL_GUARDED_BY(mu_) = 0;  // generation the watcher found lossy

  // Written by the relay thread, read by stats() from anywhere.
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> delivery_failures_{0};
  std::atomic<uint64_t> requeues_after_loss_{0};
  std::atomic<uint64_t> backlog_{0};
  std::atomic<bool> broker_reachable_{false};

  // Relay thread only.
  rd_kafka_t* producer_ = nullptr;
  std::map<uint64_t, Slot> window_;  // produced entries not yet removed, by sequence
  size_t unreported_ = 0;            // entries of window_ in kInFlight
  uint64_t cursor_ = 0;              // highest sequence produced; the next read starts after it
  uint64_t confirmed_through_ = 0;   // every entry up to here is delivered
  size_t removable_ = 0;             // delivered through confirmed_through_, not yet removed
  absl::Time last_removal_ = absl::InfinitePast();
  bool read_more_ = true;         // the outbox may hold entries after cursor_
  bool failure_pending_ = false;  // an entry of window_ failed: rewind once all reported
  bool probing_ = false;          // after a failure: one entry at a time until one succeeds
  bool fatal_ = false;            // the producer raised a fatal error
  bool loss_suspected_ = false;   // the broker lost records we had delivered
  bool requeue_pending_ = false;  // RequeueAllForPublication() still has to succeed
  Offsets delivered_offsets_;     // highest offset delivered per partition (-1: none)
  bool offsets_changed_ = false;  // since the last PublishOffsets()
  absl::Time retry_at_ = absl::InfinitePast();
  int64_t backoff_ms_ = kMinBackoffMs;

  // Watcher thread only (after Start()).
  rd_kafka_t* watcher_ = nullptr;
  std::string cluster_id_;           // of the cluster the published offsets belong to
  uint64_t cluster_generation_ = 0;  // generation cluster_id_ was seen in
};

absl::StatusOr<rd_kafka_conf_t*> OutboxRelay::Impl::BuildConf() {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  auto set = [&](const std::string& name, const std::string& value) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof(errstr)) ==
        RD_KAFKA_CONF_OK) {
      return absl::OkStatus();
    }
    return absl::InvalidArgumentError(absl::StrCat("kafka_config ", name, ": ", errstr));
  };
  std::vector<std::pair<std::string, std::string>> settings = {
      {"bootstrap.servers", options_.bootstrap_servers},
      {"client.id", options_.client_id},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      // Up to 20 ms for a batch to fill: under load, fewer and larger produce requests (fewer
      // wake-ups of librdkafka's broker threads and the broker's) for a delay no reader of
      // these events notices. Measured with bench/run submit_referral against 5 ms.
      {"linger.ms", "20"},
      // The Java client's partitioner: a key lands on the same partition whichever client
      // (librdkafka, Kafka Streams, Connect) produces it.
      {"partitioner", "murmur2_random"},
  };
  settings.insert(settings.end(), options_.kafka_config.begin(), options_.kafka_config.end());
  for (const auto& [name, value] : settings) {
    absl::Status status = set(name, value);
    if (!status.ok()) {
      rd_kafka_conf_destroy(conf);
      return status;
    }
  }
  // The outbox contract (no loss, no duplicates from the producer's own retries, order per
  // partition) rests on these two; an override would silently weaken it.
  if (ConfValue(conf, "enable.idempotence") != "true" || ConfValue(conf, "acks") != "-1") {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(
        "kafka_config: the relay requires enable.idempotence=true and acks=all");
  }
  // Carried over to every copy: the producers and the watcher's handle.
  runtime::UseJsonLogging(conf, kLogComponent);
  return conf;
}

rd_kafka_conf_t* OutboxRelay::Impl::NewProducerConf() {
  rd_kafka_conf_t* conf = rd_kafka_conf_dup(conf_template_);
  rd_kafka_conf_set_opaque(conf, this);
  rd_kafka_conf_set_dr_msg_cb(conf, &Impl::OnDelivery);
  rd_kafka_conf_set_error_cb(conf, &Impl::OnError);
  return conf;
}

absl::StatusOr<rd_kafka_t*> OutboxRelay::Impl::NewWatcher() {
  rd_kafka_conf_t* conf = rd_kafka_conf_dup(conf_template_);
  char errstr[512];
  // Never produces, so no producer id; errors are the relay producer's to report.
  if (rd_kafka_conf_set(conf, "enable.idempotence", "false", errstr, sizeof(errstr)) !=
      RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(absl::StrCat("kafka_config: ", errstr));
  }
  rd_kafka_conf_set_error_cb(conf, [](rd_kafka_t*, int, const char*, void*) {});
  rd_kafka_t* watcher = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (watcher == nullptr) {
    runtime::AbandonConfAfterFailedNew(conf);
    return absl::InvalidArgumentError(absl::StrCat("kafka_config: ", errstr));
  }
  return watcher;
}

absl::Status OutboxRelay::Impl::Start() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (started_) return absl::FailedPreconditionError("outbox relay: already started");
  }
  if (options_.bootstrap_servers.empty()) {
    return absl::InvalidArgumentError("bootstrap_servers: must not be empty");
  }
  if (options_.max_in_flight == 0) {
    return absl::InvalidArgumentError("max_in_flight: must be at least 1");
  }
  if (options_.loss_check_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("loss_check_interval: must be positive");
  }
  absl::StatusOr<rd_kafka_conf_t*> conf = BuildConf();
  if (!conf.ok()) return conf.status();
  conf_template_ = *conf;
  // The first producer is made here so that settings rd_kafka_new() rejects (conflicts that
  // rd_kafka_conf_set() cannot see) fail Start() instead of the background thread.
  rd_kafka_conf_t* first = NewProducerConf();
  char errstr[512];
  producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, first, errstr, sizeof(errstr));
  if (producer_ == nullptr) {
    runtime::AbandonConfAfterFailedNew(first);
    rd_kafka_conf_destroy(conf_template_);
    conf_template_ = nullptr;
    return absl::InvalidArgumentError(absl::StrCat("kafka_config: ", errstr));
  }
  absl::StatusOr<rd_kafka_t*> watcher = NewWatcher();
  if (!watcher.ok()) {
    rd_kafka_destroy(producer_);
    producer_ = nullptr;
    rd_kafka_conf_destroy(conf_template_);
    conf_template_ = nullptr;
    return watcher.status();
  }
  watcher_ = *watcher;
  {
    absl::MutexLock lock(&mu_);
    started_ = true;
    running_ = true;
  }
  thread_ = std::thread([this] { Run(); });
  watcher_thread_ = std::thread([this] { Watch(); });
  return absl::OkStatus();
}

void OutboxRelay::Impl::Notify() {
  absl::MutexLock lock(&mu_);
  notified_ = true;
}

absl::Status OutboxRelay::Impl::Flush(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  if (!running_ || stopping_) return absl::FailedPreconditionError("outbox relay: not running");
  // Also a notification: an Append() may return before the store has called its outbox
  // listener, and the caller flushing right after it expects that event to be included.
  const uint64_t ticket = ++flush_requested_;
  notified_ = true;
  auto done = [this, ticket]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return flush_confirmed_ >= ticket || stopping_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  if (flush_confirmed_ >= ticket) return absl::OkStatus();
  if (stopping_) return absl::FailedPreconditionError("outbox relay: stopped while flushing");
  return absl::DeadlineExceededError(
      absl::StrCat("outbox relay: outbox not empty after ", absl::FormatDuration(timeout), "; ",
                   backlog_.load(), " entries read and not yet removed"));
}

void OutboxRelay::Impl::Stop() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (!running_) return;
    stopping_ = true;
  }
  thread_.join();
  watcher_thread_.join();
  rd_kafka_destroy(watcher_);
  watcher_ = nullptr;
  absl::MutexLock lock(&mu_);
  running_ = false;
}

RelayStats OutboxRelay::Impl::stats() const {
  RelayStats stats;
  stats.delivered = delivered_.load();
  stats.delivery_failures = delivery_failures_.load();
  stats.requeues_after_loss = requeues_after_loss_.load();
  stats.backlog = backlog_.load();
  stats.broker_reachable = broker_reachable_.load();
  return stats;
}

void OutboxRelay::Impl::Run() {
  for (;;) {
    uint64_t flush_ticket = 0;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
      if (notified_) {
        notified_ = false;
        read_more_ = true;
      }
      if (loss_reported_ == generation_) loss_suspected_ = true;
      flush_ticket = flush_requested_;
    }

    if (producer_ == nullptr && absl::Now() >= retry_at_ && !CreateProducer()) Backoff();
    if (producer_ != nullptr) {
      rd_kafka_poll(producer_, 0);  // delivery reports and errors that are already in
      CheckFatal();
    }
    if (loss_suspected_ || requeue_pending_) RecoverFromLoss();
    if (failure_pending_ && unreported_ == 0 && !loss_suspected_) Rewind();
    if (CanProduce(absl::Now())) ProduceMore();
    // Waiting for delivery reports inside rd_kafka_poll() is what paces this loop while
    // records are in flight; Notify() is then seen within kReportPollMs.
    if (producer_ != nullptr && unreported_ > 0) rd_kafka_poll(producer_, kReportPollMs);
    RemoveDelivered(/*force=*/false);
    PublishOffsets();

    backlog_.store(window_.size() + removable_);
    const bool idle = Idle();
    if (idle) {
      absl::MutexLock lock(&mu_);
      flush_confirmed_ = std::max(flush_confirmed_, flush_ticket);
    }
    const absl::Time now = absl::Now();
    if (unreported_ == 0 && !HasWorkNow(now)) {
      absl::Time deadline = now + absl::Milliseconds(kIdleWakeMs);
      if (retry_at_ > now) deadline = std::min(deadline, retry_at_);
      absl::MutexLock lock(&mu_);
      auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return notified_ || stopping_; };
      mu_.AwaitWithDeadline(absl::Condition(&woken), deadline);
    }
  }
  // Stopping: what was acknowledged is removed, everything else stays in the outbox.
  DiscardProducer();
  RemoveDelivered(/*force=*/true);
  backlog_.store(window_.size() + removable_);
}

void OutboxRelay::Impl::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  static_cast<Impl*>(opaque)->HandleDelivery(*message);
}

void OutboxRelay::Impl::OnError(rd_kafka_t*, int err, const char* reason, void* opaque) {
  Impl* self = static_cast<Impl*>(opaque);
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) self->broker_reachable_ = false;
  if (code == RD_KAFKA_RESP_ERR__FATAL) self->fatal_ = true;
  // Transport errors repeat for every reconnect attempt while a broker is down; the
  // all-brokers-down error (once per outage) says the same without flooding the log.
  if (code != RD_KAFKA_RESP_ERR__TRANSPORT) {
    RelayLog(
        code == RD_KAFKA_RESP_ERR__FATAL ? runtime::LogLevel::kError : runtime::LogLevel::kWarning,
        absl::StrCat("kafka error ", rd_kafka_err2name(code), ": ", reason));
  }
}

void OutboxRelay::Impl::HandleDelivery(const rd_kafka_message_t& message) {
  const uint64_t sequence = reinterpret_cast<uintptr_t>(message._private);
  auto it = window_.find(sequence);
  // Reports of entries the relay has already given up on (never expected, but harmless).
  if (it == window_.end() || it->second != Slot::kInFlight) return;
  --unreported_;
  if (message.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    it->second = Slot::kDelivered;
    ++delivered_;
    broker_reachable_ = true;
    probing_ = false;
    backoff_ms_ = kMinBackoffMs;
    NoteDeliveredOffset(rd_kafka_topic_name(message.rkt), message.partition, message.offset);
    return;
  }
  it->second = Slot::kFailed;
  if (message.err == RD_KAFKA_RESP_ERR__FATAL) fatal_ = true;
  if (IsPurge(message.err)) {
    failure_pending_ = true;
    return;  // the relay purged it itself; not a delivery failure
  }
  ++delivery_failures_;
  if (!failure_pending_) {
    failure_pending_ = true;
    Backoff();
    RelayLog(runtime::LogLevel::kWarning,
             absl::StrCat("delivery of outbox entry ", sequence, " failed (",
                          rd_kafka_err2name(message.err),
                          "); publishing again from the first undelivered entry"));
  }
}

void OutboxRelay::Impl::NoteDeliveredOffset(const char* topic, int32_t partition, int64_t offset) {
  if (partition < 0 || offset < 0) return;
  auto it = delivered_offsets_.find(std::string_view(topic));
  if (it == delivered_offsets_.end()) {
    it = delivered_offsets_.emplace(topic, std::vector<int64_t>()).first;
  }
  std::vector<int64_t>& offsets = it->second;
  if (offsets.size() <= static_cast<size_t>(partition)) offsets.resize(partition + 1, -1);
  // Offsets of a partition only grow and every record gets its own, so a record acknowledged
  // at or below one acknowledged before means the partition's log was reset under us.
  if (offset <= offsets[partition]) {
    if (!loss_suspected_) {
      RelayLog(runtime::LogLevel::kWarning,
               absl::StrCat(topic, "[", partition, "] acknowledged offset ", offset,
                            " after offset ", offsets[partition], ": the broker lost records"));
    }
    loss_suspected_ = true;
    return;
  }
  offsets[partition] = offset;
  offsets_changed_ = true;
}

bool OutboxRelay::Impl::CreateProducer() {
  rd_kafka_conf_t* conf = NewProducerConf();
  char errstr[512];
  producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (producer_ == nullptr) {
    runtime::AbandonConfAfterFailedNew(conf);
    RelayLog(runtime::LogLevel::kError, absl::StrCat("cannot create the producer: ", errstr));
    return false;
  }
  fatal_ = false;
  return true;
}

void OutboxRelay::Impl::DiscardProducer() {
  if (producer_ != nullptr) {
    // Purging fails every queued and in-flight record; serving the reports records the ones
    // that were acknowledged before, so they can still be removed.
    rd_kafka_purge(producer_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(producer_, 0);
    rd_kafka_destroy(producer_);
    producer_ = nullptr;
  }
  for (auto& [sequence, slot] : window_) {
    if (slot == Slot::kInFlight) {
      slot = Slot::kFailed;
      failure_pending_ = true;
    }
  }
  unreported_ = 0;
}

void OutboxRelay::Impl::CheckFatal() {
  char reason[512] = "";
  const rd_kafka_resp_err_t err = rd_kafka_fatal_error(producer_, reason, sizeof(reason));
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR && !fatal_) return;
  // A fatal idempotence error (e.g. a restarted broker that does not know our producer id)
  // leaves this producer unusable for good; a new one starts a new producer id.
  RelayLog(runtime::LogLevel::kWarning,
           absl::StrCat("fatal producer error ", rd_kafka_err2name(err), ": ", reason,
                        "; replacing the producer"));
  DiscardProducer();
  Backoff();
}

void OutboxRelay::Impl::RecoverFromLoss() {
  if (loss_suspected_) {
    // Nothing of the old window may be removed any more: the requeue below puts everything
    // back, and a late removal would delete an entry the broker no longer holds.
    DiscardProducer();
    window_.clear();
    removable_ = 0;
    failure_pending_ = false;
    probing_ = false;
    delivered_offsets_.clear();
    offsets_changed_ = false;
    loss_suspected_ = false;
    requeue_pending_ = true;
    ++requeues_after_loss_;
    absl::MutexLock lock(&mu_);
    published_offsets_.clear();
    ++generation_;
  }
  if (absl::Now() < retry_at_) return;
  absl::StatusOr<uint64_t> requeued = store_.RequeueAllForPublication();
  if (!requeued.ok()) {
    RelayLog(runtime::LogLevel::kError, absl::StrCat("cannot requeue the event log: ",
                                                     std::string(requeued.status().message())));
    Backoff();
    return;
  }
  RelayLog(runtime::LogLevel::kInfo,
           absl::StrCat("publishing all ", *requeued, " stored events again"));
  requeue_pending_ = false;
  cursor_ = 0;
  confirmed_through_ = 0;
  read_more_ = true;
}

void OutboxRelay::Impl::PublishOffsets() {
  if (!offsets_changed_) return;
  offsets_changed_ = false;
  absl::MutexLock lock(&mu_);
  published_offsets_ = delivered_offsets_;
}

void OutboxRelay::Impl::Watch() {
  for (;;) {
    Offsets offsets;
    uint64_t generation = 0;
    {
      absl::MutexLock lock(&mu_);
      auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
      mu_.AwaitWithTimeout(absl::Condition(&stopping), options_.loss_check_interval);
      if (stopping_) return;
      offsets = published_offsets_;
      generation = generation_;
    }
    if (!LostRecords(offsets, generation)) continue;
    absl::MutexLock lock(&mu_);
    if (generation == generation_) {
      loss_reported_ = generation;
      notified_ = true;  // wakes the relay
    }
  }
}

bool OutboxRelay::Impl::LostRecords(const Offsets& offsets, uint64_t generation) {
  const int timeout_ms = static_cast<int>(std::clamp<int64_t>(
      absl::ToInt64Milliseconds(options_.loss_check_interval), 100, kMaxQueryTimeoutMs));

  if (offsets.empty()) {
    // Nothing to compare yet; a metadata round trip still tells whether the cluster answers.
    const rd_kafka_metadata_t* metadata = nullptr;
    const rd_kafka_resp_err_t err = rd_kafka_metadata(watcher_, 0, nullptr, &metadata, timeout_ms);
    if (metadata != nullptr) rd_kafka_metadata_destroy(metadata);
    broker_reachable_ = err == RD_KAFKA_RESP_ERR_NO_ERROR;
    return false;
  }

  // A different cluster id means a new cluster, even once its offsets have passed ours.
  if (char* id = rd_kafka_clusterid(watcher_, timeout_ms); id != nullptr) {
    const std::string current(id);
    rd_kafka_mem_free(watcher_, id);
    if (cluster_generation_ != generation) {
      cluster_id_ = current;
      cluster_generation_ = generation;
    } else if (current != cluster_id_) {
      RelayLog(runtime::LogLevel::kWarning,
               "the Kafka cluster id changed: the broker lost records");
      return true;
    }
  }

  // rd_kafka_offsets_for_times() with OFFSET_END asks for each partition's end offset (the
  // high watermark without transactions) in one request per leader and, unlike
  // rd_kafka_query_watermark_offsets(), honours its timeout: in 2.0.2 the latter waits for an
  // unreachable leader indefinitely (measured: > 90 s), which would also hold up Stop().
  rd_kafka_topic_partition_list_t* ends = rd_kafka_topic_partition_list_new(0);
  for (const auto& [topic, highest] : offsets) {
    for (size_t partition = 0; partition < highest.size(); ++partition) {
      if (highest[partition] < 0) continue;
      rd_kafka_topic_partition_list_add(ends, topic.c_str(), static_cast<int32_t>(partition))
          ->offset = RD_KAFKA_OFFSET_END;
    }
  }
  const rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(watcher_, ends, timeout_ms);
  bool lost = false;
  // No answer proves nothing (the broker may just be down): try again next interval.
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    broker_reachable_ = true;
    for (int i = 0; i < ends->cnt && !lost; ++i) {
      const rd_kafka_topic_partition_t& end = ends->elems[i];
      if (end.err != RD_KAFKA_RESP_ERR_NO_ERROR || end.offset < 0) continue;
      const int64_t delivered = offsets.find(std::string_view(end.topic))->second[end.partition];
      // acks=all: a delivered record stays below the end offset for as long as it exists.
      if (end.offset <= delivered) {
        RelayLog(
            runtime::LogLevel::kWarning,
            absl::StrCat(end.topic, "[", end.partition, "] ends at offset ", end.offset,
                         " but offset ", delivered, " was delivered: the broker lost records"));
        lost = true;
      }
    }
  }
  rd_kafka_topic_partition_list_destroy(ends);
  return lost;
}

void OutboxRelay::Impl::Rewind() {
  // Every report is in. Entries after the first failure are published again even if they
  // were delivered, so that a consumer sees each key's records in order after the gap.
  RemoveDelivered(/*force=*/true);
  window_.clear();
  cursor_ = confirmed_through_;
  failure_pending_ = false;
  probing_ = true;
  read_more_ = true;
}

bool OutboxRelay::Impl::CanProduce(absl::Time now) const {
  if (producer_ == nullptr || !read_more_ || failure_pending_ || loss_suspected_ ||
      requeue_pending_ || now < retry_at_) {
    return false;
  }
  if (probing_) return window_.empty();
  return window_.size() < options_.max_in_flight;
}

void OutboxRelay::Impl::ProduceMore() {
  const size_t limit = probing_ ? 1 : std::min(kReadBatch, options_.max_in_flight - window_.size());
  absl::StatusOr<std::vector<storage::OutboxEntry>> entries = store_.ReadOutbox(cursor_, limit);
  if (!entries.ok()) {
    RelayLog(runtime::LogLevel::kError,
             absl::StrCat("cannot read the outbox: ", std::string(entries.status().message())));
    Backoff();
    return;
  }
  read_more_ = entries->size() == limit;
  for (const storage::OutboxEntry& entry : *entries) {
    const rd_kafka_resp_err_t err = Produce(entry);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      window_.emplace_hint(window_.end(), entry.sequence, Slot::kInFlight);
      ++unreported_;
      cursor_ = entry.sequence;
      continue;
    }
    read_more_ = true;  // the rest of this batch is read again later
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
    // Refused before it reached a broker (unknown topic, too large, fatal producer): it stays
    // in the outbox and holds back the entries after it, with back-off between attempts.
    ++delivery_failures_;
    if (err == RD_KAFKA_RESP_ERR__FATAL) fatal_ = true;
    failure_pending_ = true;
    Backoff();
    RelayLog(runtime::LogLevel::kWarning,
             absl::StrCat("producer refused outbox entry ", entry.sequence, ": ",
                          rd_kafka_err2name(err)));
    break;
  }
}

rd_kafka_resp_err_t OutboxRelay::Impl::Produce(const storage::OutboxEntry& entry) {
  const eventing::v1::StoredEvent& event = entry.event;
  const std::vector<std::pair<std::string, std::string>> headers = CloudEventHeaders(event);
  rd_kafka_headers_t* kafka_headers = rd_kafka_headers_new(headers.size());
  for (const auto& [name, value] : headers) {
    rd_kafka_header_add(kafka_headers, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                        static_cast<ssize_t>(value.size()));
  }
  // The record timestamp stays the produce time (librdkafka's default): the event's own time
  // travels in ce_time. Brokers apply time-based retention and
  // message.timestamp.difference.max.ms to record timestamps, so a republication of old events
  // stamped with their event times could be deleted or refused at once.
  const std::string& key = event.partition_key();
  const rd_kafka_resp_err_t err = rd_kafka_producev(
      producer_, RD_KAFKA_V_TOPIC(event.topic().c_str()),
      RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(event.payload().data()), event.payload().size()),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(kafka_headers),
      RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(entry.sequence))),
      RD_KAFKA_V_END);
  // librdkafka owns the headers only once the record is accepted.
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_headers_destroy(kafka_headers);
  return err;
}

void OutboxRelay::Impl::RemoveDelivered(bool force) {
  while (!window_.empty() && window_.begin()->second == Slot::kDelivered) {
    ++removable_;
    confirmed_through_ = window_.begin()->first;
    window_.erase(window_.begin());
  }
  if (removable_ == 0) return;
  // One RocksDB write per batch of reports, not per record; while records keep flowing the
  // write waits for a full batch or kRemoveEveryMs.
  const absl::Time now = absl::Now();
  if (!force && unreported_ > 0 && removable_ < kRemoveBatch &&
      now - last_removal_ < absl::Milliseconds(kRemoveEveryMs)) {
    return;
  }
  absl::Status removed = store_.MarkOutboxDelivered(confirmed_through_);
  if (!removed.ok()) {
    // Kept for the next round; until then the entries could only be published again.
    RelayLog(runtime::LogLevel::kError,
             absl::StrCat("cannot remove delivered entries from the outbox: ",
                          std::string(removed.message())));
    return;
  }
  removable_ = 0;
  last_removal_ = now;
}

bool OutboxRelay::Impl::Idle() const {
  return window_.empty() && removable_ == 0 && !read_more_ && !failure_pending_ &&
         !loss_suspected_ && !requeue_pending_;
}

bool OutboxRelay::Impl::HasWorkNow(absl::Time now) const {
  if (producer_ == nullptr || loss_suspected_ || requeue_pending_) return now >= retry_at_;
  return (failure_pending_ && unreported_ == 0) || CanProduce(now);
}

void OutboxRelay::Impl::Backoff() {
  retry_at_ = absl::Now() + absl::Milliseconds(backoff_ms_);
  backoff_ms_ = std::min(backoff_ms_ * 2, kMaxBackoffMs);
}

OutboxRelay::OutboxRelay(storage::EventStore& store, RelayOptions options)
    : impl_(std::make_unique<Impl>(store, std::move(options))) {}

OutboxRelay::~OutboxRelay() = default;

absl::Status OutboxRelay::Start() { return impl_->Start(); }
void OutboxRelay::Notify() { impl_->Notify(); }
absl::Status OutboxRelay::Flush(absl::Duration timeout) { return impl_->Flush(timeout); }
void OutboxRelay::Stop() { impl_->Stop(); }
RelayStats OutboxRelay::stats() const { return impl_->stats(); }

}  // namespace es::outbox
