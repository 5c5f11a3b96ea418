#pragma once

// The outbox relay: publishes the event store's outbox to Kafka, in order, and removes an entry
// only after Kafka has acknowledged it.
//
// Contract:
// - Idempotent producer with acks=all. Records are produced in outbox (sequence) order, so the
//   records of one key reach their partition in the order their events were committed. Each
//   record is a CloudEvents binary-mode record (cloud_event.h); its Kafka timestamp is the
//   produce time, the event's time is in ce_time.
// - An outbox entry is removed only after its successful delivery report, and only once every
//   entry before it has been delivered too (removal advances over a delivered prefix, in
//   batched RocksDB writes). When a delivery fails (timeout, broker error, fatal idempotent
//   producer error), the relay waits for the reports still outstanding and then publishes again
//   from the lowest undelivered sequence, one entry at a time until one succeeds; a fatal
//   producer error (rd_kafka_fatal_error) also replaces the producer. Later records of the same
//   key are published again after the failed one: duplicates are possible, loss is not, and a
//   consumer that skips versions it cannot apply yet sees every stream complete and in order.
// - Loss on the broker (e.g. the embedded broker restarted empty) is detected from the highest
//   offset delivered per (topic, partition): a delivery report at or below it, a partition end
//   offset at or below it, or a new cluster id (both checked every `loss_check_interval`). The
//   relay then puts every stored event back into the outbox
//   (EventStore::RequeueAllForPublication) and publishes everything again from the start.
//   Records that reached the new broker before the loss was noticed stay ahead of that
//   republication. Consumers deduplicate by stream version.
// - Never blocks the store: Notify() only signals; all Kafka and outbox I/O happens on the
//   relay's background thread, which also serves the delivery reports (rd_kafka_poll). A second
//   thread runs the periodic end-offset check with its own client handle, because those
//   queries block for up to a second while the broker is unreachable. While the broker is down,
//   commands keep appending and the outbox grows; it drains when the broker is back.
// - An entry Kafka refuses for good (e.g. larger than the broker accepts) is retried with
//   back-off and holds back the entries after it; stats().delivery_failures keeps growing.
// - The delivered offsets live in memory: a loss that happens while the relay is not running
//   is not detected. Nothing else may requeue the outbox while the relay runs.
// - Logs are JSON lines (es::runtime::Log, component "outbox.relay"; librdkafka's own lines
//   too, for the producer and the loss-check handle) and carry no keys and no payloads.
//
// Thread-safe: every method may be called from any thread. The store must outlive the relay,
// and the outbox listener that calls Notify() must be cleared before the relay is destroyed.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "libs/storage/event_store.h"

namespace es::outbox {

struct RelayOptions {
  std::string bootstrap_servers;  // "host:port,..."; required
  std::string client_id = "pathways";
  size_t max_in_flight = 20000;                           // entries produced, not yet removed
  absl::Duration loss_check_interval = absl::Seconds(2);  // how often to compare watermarks
  // Extra librdkafka settings, applied after the relay's defaults (linger.ms=20,
  // partitioner=murmur2_random, the Java client's choice, so every client maps a key to the same
  // partition). They may not weaken enable.idempotence=true or acks=all.
  std::vector<std::pair<std::string, std::string>> kafka_config;
};

struct RelayStats {
  uint64_t delivered = 0;            // records acknowledged by Kafka (re-publications included)
  uint64_t delivery_failures = 0;    // records Kafka or the producer reported as failed
  uint64_t requeues_after_loss = 0;  // times the broker was found to have lost records
  // Outbox entries the relay has read and not yet removed. The outbox may hold more than this
  // while the relay's window (max_in_flight) is full.
  uint64_t backlog = 0;
  bool broker_reachable = false;  // outcome of the latest contact with the cluster
};

class OutboxRelay {
 public:
  // `store` must outlive the relay. Nothing starts before Start().
  OutboxRelay(storage::EventStore& store, RelayOptions options);
  ~OutboxRelay();  // Stop()
  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  // Creates the producer and starts the background thread, which publishes what the outbox
  // already holds. kInvalidArgument for bad options or librdkafka settings (nothing started),
  // kFailedPrecondition when already started or stopped.
  absl::Status Start();

  // Signals that new outbox entries exist. Never blocks: safe to call from the store's writer
  // thread (EventStore::SetOutboxListener) or from anywhere else, before or after Start().
  void Notify();

  // Waits until the outbox is empty (everything committed before the call has been delivered
  // and removed). kDeadlineExceeded when `timeout` passes first, kFailedPrecondition when the
  // relay is not running. Publication continues either way.
  absl::Status Flush(absl::Duration timeout);

  // Stops the thread and closes the producer without waiting for outstanding deliveries:
  // whatever was not acknowledged stays in the outbox (and may be published again by the next
  // relay). Flush() first for a graceful drain. Idempotent.
  void Stop();

  RelayStats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace es::outbox
