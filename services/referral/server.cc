#include "services/referral/server.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "clinical/calendar.h"
#include "libs/eventing/pseudonym.h"
#include "libs/outbox/outbox_relay.h"
#include "libs/rpc/grpc_server.h"
#include "libs/runtime/log.h"
#include "libs/runtime/signals.h"
#include "libs/storage/event_store.h"
#include "libs/storage/rocks_db.h"
#include "libs/storage/view_store.h"
#include "services/referral/api/referral_grpc_service.h"
#include "services/referral/app/referral_service.h"
#include "services/referral/domain/referral_decider.h"

namespace referral {

// Members are declared in start-up order; destruction runs in reverse.
struct ReferralServer::Parts {
  Config config;
  es::runtime::Logger log{"referral.server"};
  es::SystemClock system_clock;
  const es::Clock* clock = nullptr;
  std::unique_ptr<es::storage::RocksDb> db;
  std::unique_ptr<es::storage::EventStore> store;
  std::unique_ptr<es::storage::ViewStore> views;
  std::optional<es::Pseudonymizer> pseudonymizer;
  std::unique_ptr<domain::ReferralDecider> decider;
  std::unique_ptr<app::ReferralService> service;
  std::unique_ptr<es::outbox::OutboxRelay> relay;
  std::unique_ptr<api::ReferralGrpcService> grpc_service;
  std::unique_ptr<es::rpc::GrpcServer> grpc_server;
  bool shut_down = false;
};

namespace {

absl::StatusOr<clinical::Calendar> CalendarFor(const Config& config) {
  clinical::CalendarSpec spec = config.calendar == "DK"
                                    ? clinical::DanishCalendarSpec()
                                    : clinical::NorwegianCalendarSpec(config.saturday_is_working_day);
  return clinical::Calendar::Create(std::move(spec));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ReferralServer>> ReferralServer::Start(const Config& config,
                                                                      const es::Clock* clock) {
  auto parts = std::make_unique<Parts>();
  parts->config = config;
  parts->clock = clock != nullptr ? clock : &parts->system_clock;
  es::runtime::LogLevel level;
  if (es::runtime::ParseLogLevel(config.log_level, &level)) es::runtime::SetMinLogLevel(level);

  absl::TimeZone zone;
  if (!absl::LoadTimeZone(config.time_zone, &zone)) {
    return absl::InvalidArgumentError(absl::StrCat("--time-zone: unknown zone ", config.time_zone));
  }
  absl::StatusOr<clinical::Calendar> calendar = CalendarFor(config);
  if (!calendar.ok()) return calendar.status();
  absl::StatusOr<es::Pseudonymizer> pseudonymizer = es::Pseudonymizer::Create(config.pseudonym_secret);
  if (!pseudonymizer.ok()) return pseudonymizer.status();
  parts->pseudonymizer.emplace(std::move(*pseudonymizer));

  absl::StatusOr<std::unique_ptr<es::storage::RocksDb>> db = es::storage::RocksDb::Open(
      {.path = config.data_dir,
       .sync_wal = config.sync_wal,
       .block_cache_bytes = static_cast<size_t>(config.block_cache_mb) << 20,
       .write_buffer_bytes = static_cast<size_t>(config.write_buffer_mb) << 20});
  if (!db.ok()) return db.status();
  parts->db = std::move(*db);
  parts->store = std::make_unique<es::storage::EventStore>(*parts->db);
  parts->views = std::make_unique<es::storage::ViewStore>(*parts->db);
  parts->decider = std::make_unique<domain::ReferralDecider>(
      std::move(*calendar), zone,
      domain::ReferralPolicy{.assessment_working_days = config.assessment_working_days});
  parts->service = std::make_unique<app::ReferralService>(
      *parts->store, *parts->views, *parts->decider, *parts->pseudonymizer, *parts->clock,
      app::ReferralServiceOptions{.topic = config.topic});

  es::outbox::RelayOptions relay_options;
  relay_options.bootstrap_servers = config.kafka_bootstrap;
  relay_options.client_id = "pathways-referral";
  relay_options.kafka_config = config.kafka_options;
  parts->relay = std::make_unique<es::outbox::OutboxRelay>(*parts->store, relay_options);
  if (absl::Status s = parts->relay->Start(); !s.ok()) return s;
  es::outbox::OutboxRelay* relay = parts->relay.get();
  parts->store->SetOutboxListener([relay] { relay->Notify(); });
  relay->Notify();  // publish what a previous run left in the outbox

  parts->grpc_service = std::make_unique<api::ReferralGrpcService>(*parts->service, *parts->clock);
  absl::StatusOr<std::unique_ptr<es::rpc::GrpcServer>> server =
      es::rpc::GrpcServer::Start(
          config.grpc_listen,
          {{parts->grpc_service.get(), v1::ReferralService::service_full_name()}});
  if (!server.ok()) return server.status();
  parts->grpc_server = std::move(*server);
  parts->grpc_server->SetServing(true);
  parts->log.Info("serving", {{"grpc_port", std::to_string(parts->grpc_server->port())},
                              {"data_dir", config.data_dir},
                              {"topic", config.topic}});
  return std::unique_ptr<ReferralServer>(new ReferralServer(std::move(parts)));
}

ReferralServer::ReferralServer(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

ReferralServer::~ReferralServer() { Shutdown(); }

int ReferralServer::port() const { return parts_->grpc_server->port(); }

void ReferralServer::Shutdown() {
  if (parts_ == nullptr || parts_->shut_down) return;
  parts_->shut_down = true;
  const absl::Duration drain = absl::Seconds(parts_->config.drain_timeout_seconds);
  parts_->log.Info("draining");
  parts_->grpc_server->Shutdown(drain);  // NOT_SERVING, then calls in flight finish
  parts_->store->Shutdown();             // queued appends are committed
  absl::Status flushed = parts_->relay->Flush(drain);
  if (!flushed.ok()) {
    // Nothing is lost: undelivered entries stay in the outbox for the next start.
    parts_->log.Warning("outbox not fully published before stop",
                        {{"reason", std::string(flushed.message())}});
  }
  parts_->relay->Stop();
  parts_->grpc_server.reset();
  parts_->grpc_service.reset();
  parts_->relay.reset();
  parts_->store.reset();
  parts_->views.reset();
  parts_->db.reset();  // closes RocksDB
  parts_->log.Info("stopped");
}

int RunUntilSignalled(const Config& config) {
  es::runtime::Logger log("referral.main");
  absl::StatusOr<std::unique_ptr<ReferralServer>> server = ReferralServer::Start(config);
  if (!server.ok()) {
    log.Error("start failed", {{"reason", std::string(server.status().message())}});
    return 1;
  }
  int signal_number = es::runtime::WaitForTerminationSignal();
  log.Info("signal received", {{"signal", std::to_string(signal_number)}});
  (*server)->Shutdown();
  return 0;
}

}  // namespace referral
