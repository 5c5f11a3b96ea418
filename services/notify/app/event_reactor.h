#pragma once

// Turns pathway and referral events into notification commands. Runs inside the notify
// service's projection consumer on both topics: it keeps a mirror of each pathway (folded with
// the pathway service's own Evolve, so deadlines are derived exactly as there) in pw/<id> rows,
// asks the pure policy what notifications should exist, and issues the commands, waiting until
// each is durable before the consumer stores its offset. Deterministic notification ids and
// idempotency keys make re-delivered events harmless. Called on the consumer thread only.

#include <string>

#include "libs/projection/projection_consumer.h"
#include "libs/runtime/log.h"
#include "services/notify/app/notify_service.h"
#include "services/notify/domain/notification_policy.h"
#include "services/pathway/domain/pathway_decider.h"

namespace notify::app {

struct EventReactorOptions {
  std::string pathway_topic = "pathways.pathway.events.v1";
  std::string referral_topic = "pathways.referral.events.v1";
};

class EventReactor final : public es::projection::Projector {
 public:
  EventReactor(NotifyService& service, const pathway::domain::PathwayDecider& pathway_decider,
               domain::PolicyContext policy, EventReactorOptions options);

  absl::StatusOr<es::projection::Projection> Project(
      const es::projection::ConsumedRecord& record,
      const es::projection::ViewReader& views) override;

  static std::string PathwayMirrorKey(const std::string& pathway_id);

 private:
  absl::StatusOr<es::projection::Projection> OnPathway(const es::projection::ConsumedRecord& r,
                                                       const es::projection::ViewReader& views);
  absl::StatusOr<es::projection::Projection> OnReferral(const es::projection::ConsumedRecord& r);
  absl::Status Issue(const std::vector<domain::NotificationCommand>& commands,
                     const std::string& cause_event_id, const std::string& correlation_id);

  NotifyService& service_;
  const pathway::domain::PathwayDecider& pathway_decider_;
  const domain::PolicyContext policy_;
  const EventReactorOptions options_;
  es::runtime::Logger log_{"notify.reactor"};
};

}  // namespace notify::app
