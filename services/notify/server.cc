#include "services/notify/server.h"

#include <atomic>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "clinical/catalogue.h"
#include "libs/eventing/pseudonym.h"
#include "libs/host/run_until_signalled.h"
#include "libs/host/service_host.h"
#include "libs/projection/projection_consumer.h"
#include "libs/runtime/log.h"
#include "services/notify/api/feed_notifier.h"
#include "services/notify/api/notify_grpc_service.h"
#include "services/notify/app/dispatcher.h"
#include "services/notify/app/event_reactor.h"
#include "services/notify/app/notify_service.h"
#include "services/notify/channels/file_channel.h"
#include "services/notify/channels/webhook_channel.h"
#include "services/notify/domain/notification_decider.h"
#include "services/pathway/domain/pathway_decider.h"

namespace notify {

// Members are declared in start-up order; destruction runs in reverse.
struct NotifyServer::Parts {
  Config config;
  es::SystemClock system_clock;
  const es::Clock* clock = nullptr;
  std::optional<pathways::ServiceBasics> basics;  // zone, calendar, pseudonymizer
  std::optional<clinical::PathwayCatalogue> catalogue;
  std::unique_ptr<pathway::domain::PathwayDecider> pathway_decider;
  domain::NotificationDecider decider;
  std::unique_ptr<es::host::ServiceHost> host;
  std::unique_ptr<app::NotifyService> service;
  std::unique_ptr<channels::FileChannel> file_channel;
  std::unique_ptr<channels::WebhookChannel> webhook_channel;
  std::unique_ptr<app::Dispatcher> dispatcher;
  std::unique_ptr<app::EventReactor> reactor;
  std::unique_ptr<es::projection::ProjectionConsumer> consumer;
  std::unique_ptr<api::FeedNotifier> notifier;
  std::unique_ptr<api::NotifyGrpcService> grpc_service;
  bool shut_down = false;
};

absl::StatusOr<std::unique_ptr<NotifyServer>> NotifyServer::Start(const Config& config,
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
  parts->pathway_decider = std::make_unique<pathway::domain::PathwayDecider>(*parts->catalogue);

  absl::StatusOr<std::unique_ptr<es::host::ServiceHost>> host =
      es::host::ServiceHost::Open(sc.HostOptions("notify"));
  if (!host.ok()) return host.status();
  parts->host = std::move(*host);
  parts->service = std::make_unique<app::NotifyService>(
      parts->host->store(), parts->host->views(), parts->decider, parts->basics->pseudonymizer,
      *parts->clock, app::NotifyServiceOptions{.topic = config.topic});

  // Channels and the dispatcher.
  std::map<v1::Channel, channels::NotificationChannel*> channel_map;
  parts->file_channel = std::make_unique<channels::FileChannel>(
      channels::FileChannelOptions{.path = config.file_channel_path});
  channel_map[v1::FILE] = parts->file_channel.get();
  if (!config.webhook_url.empty()) {
    channels::WebhookChannelOptions webhook;
    webhook.url = config.webhook_url;
    webhook.timeout = absl::Milliseconds(config.webhook_timeout_ms);
    if (!config.webhook_authorization.empty()) {
      webhook.headers.push_back(absl::StrCat("Authorization: ", config.webhook_authorization));
    }
    absl::StatusOr<std::unique_ptr<channels::WebhookChannel>> channel =
        channels::WebhookChannel::Create(std::move(webhook));
    if (!channel.ok()) return channel.status();
    parts->webhook_channel = std::move(*channel);
    channel_map[v1::WEBHOOK] = parts->webhook_channel.get();
  }
  app::DispatcherOptions dispatch;
  dispatch.max_attempts = config.max_attempts;
  dispatch.first_backoff = absl::Seconds(config.first_backoff_seconds);
  dispatch.max_backoff = absl::Seconds(config.max_backoff_seconds);
  dispatch.poll_interval = absl::Milliseconds(config.dispatch_interval_ms);
  parts->dispatcher =
      std::make_unique<app::Dispatcher>(*parts->service, std::move(channel_map), dispatch);

  // Reactions to pathway and referral events.
  domain::PolicySettings settings;
  settings.reminder_working_days = config.reminder_working_days;
  settings.assessment_reminder_working_days = config.assessment_reminder_working_days;
  settings.appointment_reminder_before = absl::Hours(config.appointment_reminder_hours);
  settings.reminder_hour = config.reminder_hour;
  settings.staff_language = config.staff_language;
  settings.staff_channel = config.staff_channel == "webhook" ? v1::WEBHOOK : v1::FILE;
  parts->reactor = std::make_unique<app::EventReactor>(
      *parts->service, *parts->pathway_decider,
      domain::PolicyContext{parts->basics->calendar, parts->basics->zone, settings},
      app::EventReactorOptions{.pathway_topic = config.pathway_topic,
                               .referral_topic = config.referral_topic});
  es::projection::ConsumerOptions consumer_options =
      sc.ConsumerOptions(config.consumer_group, {config.pathway_topic, config.referral_topic},
                         config.dead_letter_topic, config.consumer_kafka_options);
  parts->consumer = std::make_unique<es::projection::ProjectionConsumer>(
      parts->host->db(), *parts->reactor, consumer_options);
  if (absl::Status s = parts->consumer->Start(); !s.ok()) return s;
  parts->host->AddConsumerMetrics("event-reactor", parts->consumer.get());
  parts->dispatcher->Start();

  // The API, with its watch streams fed by the store's feed rows.
  parts->notifier = std::make_unique<api::FeedNotifier>();
  api::FeedNotifier* notifier = parts->notifier.get();
  parts->host->store().SetFeedListener([notifier] { notifier->Poke(); });
  parts->grpc_service = std::make_unique<api::NotifyGrpcService>(
      *parts->service, parts->host->views(), *parts->notifier);
  if (absl::Status s = parts->host->StartGrpc(
          sc.grpc_listen, {{parts->grpc_service.get(), v1::NotifyService::service_full_name()}});
      !s.ok()) {
    return s;
  }
  // Reminders built from half-read topics would be wrong: serve once caught up.
  es::projection::ProjectionConsumer* consumer = parts->consumer.get();
  parts->host->ServeWhenCaughtUp([consumer] { return consumer->caught_up(); },
                                 {{"data_dir", sc.data_dir}, {"topic", config.topic}});
  parts->host->log().Info("started; serving once the pathway and referral topics are caught up",
                          {{"grpc_port", std::to_string(parts->host->port())}});
  return std::unique_ptr<NotifyServer>(new NotifyServer(std::move(parts)));
}

NotifyServer::NotifyServer(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

NotifyServer::~NotifyServer() { Shutdown(); }

int NotifyServer::port() const { return parts_->host->port(); }
bool NotifyServer::ready() const { return parts_->host->serving(); }
app::NotifyService& NotifyServer::service() { return *parts_->service; }
app::Dispatcher& NotifyServer::dispatcher() { return *parts_->dispatcher; }

void NotifyServer::Shutdown() {
  if (parts_ == nullptr || parts_->shut_down) return;
  parts_->shut_down = true;
  parts_->grpc_service->Shutdown();  // open watches end; clients resume with their cursor
  parts_->host->StopTakingCalls();
  parts_->dispatcher->Stop();
  parts_->consumer->Stop();
  parts_->host->FinishShutdown();  // commits, flushes the outbox, closes RocksDB
  parts_->notifier->Stop();
}

int RunUntilSignalled(const Config& config) {
  return es::host::RunUntilSignalled<NotifyServer>(config, "notify");
}

}  // namespace notify
