#include "services/referral/server.h"

#include "absl/strings/str_cat.h"
#include "libs/eventing/pseudonym.h"
#include "libs/host/run_until_signalled.h"
#include "libs/host/service_host.h"
#include "libs/runtime/log.h"
#include "services/referral/api/referral_grpc_service.h"
#include "services/referral/app/referral_service.h"
#include "services/referral/domain/referral_decider.h"

namespace referral {

// Members are declared in start-up order; destruction runs in reverse.
struct ReferralServer::Parts {
  Config config;
  es::SystemClock system_clock;
  const es::Clock* clock = nullptr;
  std::optional<pathways::ServiceBasics> basics;  // zone, calendar, pseudonymizer
  std::unique_ptr<domain::ReferralDecider> decider;
  std::unique_ptr<es::host::ServiceHost> host;
  std::unique_ptr<app::ReferralService> service;
  std::unique_ptr<api::ReferralGrpcService> grpc_service;
  bool shut_down = false;
};

absl::StatusOr<std::unique_ptr<ReferralServer>> ReferralServer::Start(const Config& config,
                                                                      const es::Clock* clock) {
  auto parts = std::make_unique<Parts>();
  parts->config = config;
  parts->clock = clock != nullptr ? clock : &parts->system_clock;
  const pathways::ServiceConfig& sc = config.service;
  absl::StatusOr<pathways::ServiceBasics> basics = sc.Basics();
  if (!basics.ok()) return basics.status();
  parts->basics.emplace(std::move(*basics));
  parts->decider = std::make_unique<domain::ReferralDecider>(
      parts->basics->calendar, parts->basics->zone,
      domain::ReferralPolicy{.assessment_working_days = config.assessment_working_days});

  absl::StatusOr<std::unique_ptr<es::host::ServiceHost>> host =
      es::host::ServiceHost::Open(sc.HostOptions("referral"));
  if (!host.ok()) return host.status();
  parts->host = std::move(*host);
  parts->service = std::make_unique<app::ReferralService>(
      parts->host->store(), parts->host->views(), *parts->decider, parts->basics->pseudonymizer,
      *parts->clock, app::ReferralServiceOptions{.topic = config.topic});
  parts->grpc_service = std::make_unique<api::ReferralGrpcService>(*parts->service, *parts->clock);
  if (absl::Status s = parts->host->StartGrpc(
          sc.grpc_listen, {{parts->grpc_service.get(), v1::ReferralService::service_full_name()}});
      !s.ok()) {
    return s;
  }
  parts->host->SetServing(true);
  parts->host->log().Info("serving", {{"grpc_port", std::to_string(parts->host->port())},
                                      {"data_dir", sc.data_dir},
                                      {"topic", config.topic}});
  return std::unique_ptr<ReferralServer>(new ReferralServer(std::move(parts)));
}

ReferralServer::ReferralServer(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

ReferralServer::~ReferralServer() { Shutdown(); }

int ReferralServer::port() const { return parts_->host->port(); }

void ReferralServer::Shutdown() {
  if (parts_ == nullptr || parts_->shut_down) return;
  parts_->shut_down = true;
  parts_->host->StopTakingCalls();
  parts_->host->FinishShutdown();
}

int RunUntilSignalled(const Config& config) {
  return es::host::RunUntilSignalled<ReferralServer>(config, "referral");
}

}  // namespace referral
