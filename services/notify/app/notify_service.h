#pragma once

// The notify application service: runs notification commands through the shared command path
// (events + rows + feed rows + outbox in one batch), answers list queries, and keeps patients'
// contact preferences. Thread-safe; command callbacks run on the event store's writer thread.

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/app/command_executor.h"
#include "libs/eventing/pseudonym.h"
#include "libs/runtime/log.h"
#include "libs/storage/event_store.h"
#include "libs/storage/view_store.h"
#include "notify/v1/service.pb.h"
#include "services/notify/domain/notification_decider.h"

namespace notify::app {

struct NotifyServiceOptions {
  std::string topic = "pathways.notify.events.v1";
  std::string source = "/pathways/notify";
};

struct NotificationPage {
  std::vector<v1::Notification> notifications;
  std::string next_page_token;
};

class NotifyService {
 public:
  NotifyService(es::storage::EventStore& store, es::storage::ViewStore& views,
                const domain::NotificationDecider& decider, const es::Pseudonymizer& pseudonymizer,
                const es::Clock& clock, NotifyServiceOptions options = {});

  void Execute(domain::NotificationCommand command, es::app::CommandContext context,
               es::app::CommandCallback done);
  // Blocking form for the policy and the dispatcher (their own threads, never gRPC's).
  absl::StatusOr<es::app::CommandResult> ExecuteAndWait(domain::NotificationCommand command,
                                                        es::app::CommandContext context);

  absl::StatusOr<v1::Notification> Get(const std::string& notification_id) const;
  // Exactly one of recipient_id and unit. status unspecified = any status. Newest due first.
  absl::StatusOr<NotificationPage> List(const std::string& recipient_id, const std::string& unit,
                                        v1::NotificationStatus status, int page_size,
                                        const std::string& page_token) const;

  // Consent and contact preference of a patient (and relatives), by pseudonymous key.
  absl::Status SetContactPreference(const referral::v1::PatientIdentifier& patient,
                                    v1::ContactPreference preference);
  absl::StatusOr<std::optional<v1::ContactPreference>> ContactPreferenceOf(
      const std::string& patient_key) const;
  static std::string ContactPreferenceKey(const std::string& patient_key);

  const es::Clock& clock() const { return clock_; }
  es::storage::ViewStore& views() { return views_; }

 private:
  es::storage::ViewStore& views_;
  const es::Pseudonymizer& pseudonymizer_;
  const es::Clock& clock_;
  es::app::CommandExecutor<domain::NotificationDecider> executor_;
  es::runtime::Logger audit_{"notify.audit"};
};

std::string NotificationIdOf(const domain::NotificationCommand& command);

}  // namespace notify::app
