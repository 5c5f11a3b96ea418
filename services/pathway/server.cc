#include "services/pathway/server.h"

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "clinical/catalogue.h"
#include "libs/eventing/pseudonym.h"
#include "libs/host/run_until_signalled.h"
#include "libs/host/service_host.h"
#include "libs/projection/projection_consumer.h"
#include "libs/runtime/log.h"
#include "services/pathway/api/pathway_grpc_service.h"
#include "services/pathway/app/deadline_timer.h"
#include "services/pathway/app/pathway_service.h"
#include "services/pathway/app/view_rebuilder.h"
#include "services/pathway/domain/pathway_decider.h"
#include "services/pathway/policy/referral_policy.h"

namespace pathway {

// Members are declared in start-up order; destruction runs in reverse.
struct PathwayServer::Parts {
  Config config;
  es::SystemClock system_clock;
  const es::Clock* clock = nullptr;
  std::optional<pathways::ServiceBasics> basics;  // zone, calendar, pseudonymizer
  std::optional<clinical::PathwayCatalogue> catalogue;
  std::unique_ptr<domain::PathwayDecider> decider;
  std::unique_ptr<es::host::ServiceHost> host;
  std::unique_ptr<app::PathwayService> service;
  std::unique_ptr<policy::ReferralPolicy> policy;
  std::unique_ptr<es::projection::ProjectionConsumer> consumer;
  std::unique_ptr<app::DeadlineTimer> timer;
  std::unique_ptr<api::PathwayGrpcService> grpc_service;
  bool shut_down = false;
};

absl::StatusOr<std::unique_ptr<PathwayServer>> PathwayServer::Start(const Config& config,
                                                                    const es::Clock* clock) {
  auto parts = std::make_unique<Parts>();
  parts->config = config;
  parts->clock = clock != nullptr ? clock : &parts->system_clock;
  const pathways::ServiceConfig& sc = config.service;
  absl::StatusOr<pathways::ServiceBasics> basics = sc.Basics();
  if (!basics.ok()) return basics.status();
  parts->basics.emplace(std::move(*basics));
  absl::StatusOr<clinical::PathwayCatalogue> catalogue =
      clinical::PathwayCatalogue::LoadDirectories(config.catalogue_dirs);
  if (!catalogue.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("catalogue: ", std::string(catalogue.status().message())));
  }
  parts->catalogue.emplace(std::move(*catalogue));
  parts->decider = std::make_unique<domain::PathwayDecider>(*parts->catalogue);

  absl::StatusOr<std::unique_ptr<es::host::ServiceHost>> host =
      es::host::ServiceHost::Open(sc.HostOptions("pathway"));
  if (!host.ok()) return host.status();
  parts->host = std::move(*host);
  parts->service = std::make_unique<app::PathwayService>(
      parts->host->store(), parts->host->views(), *parts->decider, parts->basics->pseudonymizer,
      *parts->clock, parts->basics->zone, parts->basics->calendar,
      app::PathwayServiceOptions{.topic = config.topic});

  if (config.rebuild_views) {
    absl::StatusOr<app::RebuildStats> rebuilt =
        app::RebuildOwnViews(parts->host->store(), parts->host->views(), *parts->decider);
    if (!rebuilt.ok()) return rebuilt.status();
    parts->host->log().Info("views rebuilt", {{"events", std::to_string(rebuilt->events)},
                                              {"streams", std::to_string(rebuilt->streams)},
                                              {"rows", std::to_string(rebuilt->rows)}});
  }

  parts->policy = std::make_unique<policy::ReferralPolicy>(
      *parts->service,
      policy::ReferralPolicyOptions{.start_date_rule = config.start_date_rule,
                                    .default_setting = config.default_setting == "inpatient"
                                                           ? catalogue::v1::INPATIENT
                                                           : catalogue::v1::OUTPATIENT,
                                    .zone = parts->basics->zone});
  es::projection::ConsumerOptions consumer_options =
      sc.ConsumerOptions(config.consumer_group, {config.referral_topic}, config.dead_letter_topic,
                         config.consumer_kafka_options);
  parts->consumer = std::make_unique<es::projection::ProjectionConsumer>(
      parts->host->db(), *parts->policy, consumer_options);
  if (absl::Status s = parts->consumer->Start(); !s.ok()) return s;
  parts->host->AddConsumerMetrics("referral-policy", parts->consumer.get());

  parts->timer = std::make_unique<app::DeadlineTimer>(*parts->service, parts->host->views(),
                                                      absl::Seconds(config.timer_interval_seconds));
  parts->timer->Start();

  parts->grpc_service = std::make_unique<api::PathwayGrpcService>(*parts->service);
  if (absl::Status s = parts->host->StartGrpc(
          sc.grpc_listen, {{parts->grpc_service.get(), v1::PathwayService::service_full_name()}});
      !s.ok()) {
    return s;
  }
  // Worklists built from a half-read referral topic would mislead: serve once caught up.
  es::projection::ProjectionConsumer* consumer = parts->consumer.get();
  parts->host->ServeWhenCaughtUp([consumer] { return consumer->caught_up(); },
                                 {{"data_dir", sc.data_dir}, {"topic", config.topic}});
  parts->host->log().Info("started; serving once the referral topic is caught up",
                          {{"grpc_port", std::to_string(parts->host->port())}});
  return std::unique_ptr<PathwayServer>(new PathwayServer(std::move(parts)));
}

PathwayServer::PathwayServer(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

PathwayServer::~PathwayServer() { Shutdown(); }

int PathwayServer::port() const { return parts_->host->port(); }
bool PathwayServer::ready() const { return parts_->host->serving(); }
app::PathwayService& PathwayServer::service() { return *parts_->service; }
app::DeadlineTimer& PathwayServer::timer() { return *parts_->timer; }

void PathwayServer::Shutdown() {
  if (parts_ == nullptr || parts_->shut_down) return;
  parts_->shut_down = true;
  parts_->host->StopTakingCalls();
  parts_->timer->Stop();
  parts_->consumer->Stop();  // its last batch and offsets are written
  parts_->host->FinishShutdown();
}

int RunUntilSignalled(const Config& config) {
  return es::host::RunUntilSignalled<PathwayServer>(config, "pathway");
}

}  // namespace pathway
