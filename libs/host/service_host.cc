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
  return host;
}

ServiceHost::~ServiceHost() {
  StopTakingCalls();
  FinishShutdown();
}

absl::Status ServiceHost::StartGrpc(const std::string& address,
                                    const std::vector<rpc::GrpcServer::NamedService>& services) {
  absl::StatusOr<std::unique_ptr<rpc::GrpcServer>> server =
      rpc::GrpcServer::Start(address, services);
  if (!server.ok()) return server.status();
  grpc_ = std::move(*server);
  grpc_->SetServing(false);
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
