#include "libs/host/service_host.h"

namespace es::host {

absl::StatusOr<std::unique_ptr<ServiceHost>> ServiceHost::Open(HostOptions options) {
  std::unique_ptr<ServiceHost> host(new ServiceHost(std::move(options)));
  absl::StatusOr<std::unique_ptr<storage::RocksDb>> db =
      storage::RocksDb::Open(host->options_.storage);
  if (!db.ok()) return db.status();
  host->db_ = std::move(*db);
  host->store_ = std::make_unique<storage::EventStore>(*host->db_);
  host->views_ = std::make_unique<storage::ViewStore>(*host->db_);
  host->relay_ = std::make_unique<outbox::OutboxRelay>(*host->store_, host->options_.relay);
  if (absl::Status s = host->relay_->Start(); !s.ok()) return s;
  outbox::OutboxRelay* relay = host->relay_.get();
  host->store_->SetOutboxListener([relay] { relay->Notify(); });
  relay->Notify();  // publish what a previous run left in the outbox
  host->metrics_ = std::make_unique<metrics::Metrics>();
  host->RegisterMetrics();
  return host;
}

void ServiceHost::AddConsumerMetrics(const std::string& name,
                                     const projection::ProjectionConsumer* consumer) {
  metrics::Metrics& m = *metrics_;
  const metrics::Labels labels = {{"consumer", name}};
  m.AddCounter("pathways_consumer_applied_total", "Kafka records whose view writes were stored",
               labels, [consumer] { return double(consumer->stats().applied); });
  m.AddCounter("pathways_consumer_duplicates_total",
               "Kafka records skipped as already applied (redelivery, republication)", labels,
               [consumer] { return double(consumer->stats().duplicates_skipped); });
  m.AddCounter("pathways_consumer_dead_lettered_total",
               "Kafka records the service could not apply, sent to the dead-letter topic", labels,
               [consumer] { return double(consumer->stats().dead_lettered); });
  m.AddCounter("pathways_consumer_gaps_skipped_total",
               "Kafka records ahead of a missing version of their stream, skipped", labels,
               [consumer] { return double(consumer->stats().gaps_skipped); });
  m.AddGauge("pathways_consumer_caught_up", "1 once the consumer has read to the end of its topics",
             labels, [consumer] { return consumer->stats().caught_up ? 1.0 : 0.0; });
}

void ServiceHost::RegisterMetrics() {
  metrics::Metrics& m = *metrics_;
  storage::EventStore* store = store_.get();
  outbox::OutboxRelay* relay = relay_.get();
  m.AddCounter("pathways_appends_committed_total", "Commands whose events were made durable", {},
               [store] { return double(store->stats().appends_committed); });
  m.AddCounter("pathways_events_committed_total", "Events made durable in the event store", {},
               [store] { return double(store->stats().events_committed); });
  m.AddCounter("pathways_commit_groups_total",
               "Synced RocksDB batches (group commits); appends / groups = group size", {},
               [store] { return double(store->stats().groups_committed); });
  m.AddCounter("pathways_appends_failed_storage_total",
               "Commands refused as UNAVAILABLE because the write failed (disk full, I/O error)",
               {}, [store] { return double(store->stats().appends_failed_storage); });
  m.AddCounter("pathways_appends_conflicted_total",
               "Appends refused by the expected-version check (concurrent commands)", {},
               [store] { return double(store->stats().appends_conflicted); });
  m.AddCounter("pathways_outbox_delivered_total", "Outbox records acknowledged by Kafka", {},
               [relay] { return double(relay->stats().delivered); });
  m.AddCounter("pathways_outbox_delivery_failures_total",
               "Outbox records Kafka or the producer reported as failed", {},
               [relay] { return double(relay->stats().delivery_failures); });
  m.AddCounter("pathways_outbox_requeues_total",
               "Times the broker was found to have lost records and the log was published again",
               {}, [relay] { return double(relay->stats().requeues_after_loss); });
  m.AddGauge("pathways_outbox_backlog", "Outbox entries read by the relay and not yet delivered",
             {}, [relay] { return double(relay->stats().backlog); });
  m.AddGauge("pathways_kafka_reachable", "1 when the latest contact with Kafka succeeded", {},
             [relay] { return relay->stats().broker_reachable ? 1.0 : 0.0; });
  m.AddGauge("pathways_serving", "1 while the service reports SERVING", {},
             [this] { return serving_.load() ? 1.0 : 0.0; });
}

ServiceHost::~ServiceHost() {
  StopTakingCalls();
  FinishShutdown();
}

absl::Status ServiceHost::StartGrpc(const std::string& address,
                                    const std::vector<rpc::GrpcServer::NamedService>& services) {
  absl::StatusOr<std::unique_ptr<rpc::GrpcServer>> server =
      rpc::GrpcServer::Start(address, services, metrics_->GrpcInterceptors());
  if (!server.ok()) return server.status();
  grpc_ = std::move(*server);
  grpc_->SetServing(false);
  // Served only now, the last step of a service's start: a scrape reads the service's parts
  // (consumers), which a start that failed earlier destroys before the host.
  if (!options_.metrics_listen.empty()) {
    if (absl::Status s = metrics_->Serve(options_.metrics_listen); !s.ok()) return s;
    log_.Info("metrics",
              {{"listen", options_.metrics_listen}, {"port", std::to_string(metrics_->port())}});
  }
  return absl::OkStatus();
}

void ServiceHost::SetServing(bool serving) {
  if (grpc_) grpc_->SetServing(serving);
  serving_.store(serving);
}

void ServiceHost::ServeWhenCaughtUp(std::function<bool()> caught_up,
                                    std::vector<runtime::LogField> fields) {
  readiness_ = std::thread([this, caught_up = std::move(caught_up), fields = std::move(fields)] {
    while (!stopping_.load() && !caught_up()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (stopping_.load()) return;
    SetServing(true);
    std::vector<runtime::LogField> all = {{"grpc_port", std::to_string(port())}};
    all.insert(all.end(), fields.begin(), fields.end());
    log_.At(runtime::LogLevel::kInfo, "serving", all);
  });
}

void ServiceHost::StopTakingCalls() {
  if (calls_stopped_) return;
  calls_stopped_ = true;
  stopping_.store(true);
  if (readiness_.joinable()) readiness_.join();
  // Scrapes read the service's workers, which are stopped from here on.
  if (metrics_) metrics_->StopServing();
  log_.Info("draining");
  if (grpc_) grpc_->Shutdown(options_.drain_timeout);  // NOT_SERVING, then calls finish
}

void ServiceHost::FinishShutdown() {
  if (finished_) return;
  finished_ = true;
  StopTakingCalls();
  // The service's own workers (consumers, timers) are stopped by now: commit what is queued.
  if (store_) store_->Shutdown();
  if (relay_) {
    absl::Status flushed = relay_->Flush(options_.drain_timeout);
    if (!flushed.ok()) {
      // Nothing is lost: undelivered entries stay in the outbox for the next start.
      log_.Warning("outbox not fully published before stop",
                   {{"reason", std::string(flushed.message())}});
    }
    relay_->Stop();
  }
  grpc_.reset();
  relay_.reset();
  store_.reset();
  views_.reset();
  db_.reset();  // closes RocksDB
  log_.Info("stopped");
}

}  // namespace es::host
