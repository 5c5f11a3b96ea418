#pragma once

// What every event-sourced service process owns besides its own parts: the RocksDB database,
// the event store, the view store, the outbox relay and the gRPC server, started and stopped in
// the right order. A service's server.cc builds its domain and adapters on top of a host.
// Not thread-safe: Start/Shutdown are called by the owning thread.

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/metrics/metrics_server.h"
#include "libs/outbox/outbox_relay.h"
#include "libs/projection/projection_consumer.h"
#include "libs/rpc/grpc_server.h"
#include "libs/runtime/log.h"
#include "libs/storage/event_store.h"
#include "libs/storage/rocks_db.h"
#include "libs/storage/view_store.h"

namespace es::host {

struct HostOptions {
  std::string name;  // e.g. "referral" (logs, Kafka client id)
  storage::RocksDbOptions storage;
  outbox::RelayOptions relay;
  absl::Duration drain_timeout = absl::Seconds(10);
  std::string metrics_listen;  // "HOST:PORT" serves Prometheus /metrics; empty: not served
};

class ServiceHost {
 public:
  // Opens the database and starts the relay (publishing what a previous run left behind).
  static absl::StatusOr<std::unique_ptr<ServiceHost>> Open(HostOptions options);
  ~ServiceHost();

  storage::RocksDb& db() { return *db_; }
  storage::EventStore& store() { return *store_; }
  storage::ViewStore& views() { return *views_; }
  outbox::OutboxRelay& relay() { return *relay_; }
  const runtime::Logger& log() const { return log_; }
  // The process's metrics: the host registers the event store's, the relay's and gRPC's; a
  // service adds its own (e.g. its consumers'), whose sources must live until StopTakingCalls.
  metrics::Metrics& metrics() { return *metrics_; }
  int metrics_port() const { return metrics_ ? metrics_->port() : 0; }
  // Applied, duplicate, dead-lettered and gap-skipped records and caught-up state of one of the
  // service's consumers, labelled consumer="<name>". `consumer` must live until StopTakingCalls.
  void AddConsumerMetrics(const std::string& name, const projection::ProjectionConsumer* consumer);

  // Starts gRPC with health (NOT_SERVING until SetServing(true)) and reflection, then
  // /metrics when HostOptions::metrics_listen is set. Must be the service's last start step
  // that can fail: metrics read parts (consumers) registered before it.
  absl::Status StartGrpc(const std::string& address,
                         const std::vector<rpc::GrpcServer::NamedService>& services);
  int port() const { return grpc_ ? grpc_->port() : 0; }
  void SetServing(bool serving);
  // Reports SERVING (and logs "serving" with `fields`) once `caught_up` holds, polled on a
  // thread of the host's: a service whose views follow other services' topics must not answer
  // from half-read views. StopTakingCalls ends the wait.
  void ServeWhenCaughtUp(std::function<bool()> caught_up, std::vector<runtime::LogField> fields);
  bool serving() const { return serving_.load(); }

  // Health NOT_SERVING, then finish calls in flight. The service then stops its own workers
  // (consumers, timers), which may still append, before FinishShutdown commits what is queued,
  // flushes the outbox and closes RocksDB. Both are idempotent.
  void StopTakingCalls();
  void FinishShutdown();

 private:
  void RegisterMetrics();
  explicit ServiceHost(HostOptions options)
      : options_(std::move(options)), log_(options_.name + ".host") {}

  HostOptions options_;
  runtime::Logger log_;
  std::unique_ptr<storage::RocksDb> db_;
  std::unique_ptr<storage::EventStore> store_;
  std::unique_ptr<storage::ViewStore> views_;
  std::unique_ptr<outbox::OutboxRelay> relay_;
  std::unique_ptr<rpc::GrpcServer> grpc_;
  std::unique_ptr<metrics::Metrics> metrics_;
  std::thread readiness_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> serving_{false};
  bool calls_stopped_ = false;
  bool finished_ = false;
};

}  // namespace es::host
