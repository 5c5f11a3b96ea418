#pragma once

// The referral application service: runs commands through the shared command path (decide,
// stamp, append events + head + view rows + outbox in one batch) and answers queries.
// Thread-safe; command callbacks run on the event store's writer thread and must not block.

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "eventing/v1/metadata.pb.h"
#include "libs/app/command_executor.h"
#include "libs/eventing/clock.h"
#include "libs/eventing/pseudonym.h"
#include "libs/storage/event_store.h"
#include "libs/storage/view_store.h"
#include "referral/v1/service.pb.h"
#include "services/referral/domain/referral_decider.h"

namespace referral::app {

using CommandContext = es::app::CommandContext;
using CommandResult = es::app::CommandResult;
using CommandCallback = es::app::CommandCallback;

struct ReferralServiceOptions {
  std::string topic = "pathways.referral.events.v1";
  std::string source = "/pathways/referral";
};

struct Page {
  std::vector<v1::Referral> referrals;
  std::string next_page_token;
};

struct WorklistItem {
  v1::Referral referral;
  bool overdue = false;
  int working_days_left = 0;
};

struct WorklistPage {
  std::vector<WorklistItem> items;
  std::string next_page_token;
  absl::CivilDay as_of;
};

class ReferralService {
 public:
  ReferralService(es::storage::EventStore& store, es::storage::ViewStore& views,
                  const domain::ReferralDecider& decider, const es::Pseudonymizer& pseudonymizer,
                  const es::Clock& clock, ReferralServiceOptions options = {});

  // Decides and appends `command`; `done` gets the new version, or the status from Decide,
  // kAborted (expected_version not current), kAlreadyExists (key reused for another command),
  // kUnavailable (storage).
  void Execute(domain::ReferralCommand command, CommandContext context, CommandCallback done);

  absl::StatusOr<v1::Referral> Get(const std::string& referral_id) const;
  absl::StatusOr<Page> List(const std::string& unit, v1::ReferralStatus status, int page_size,
                            const std::string& page_token) const;
  absl::StatusOr<WorklistPage> AssessmentWorklist(const std::string& unit, absl::Time as_of,
                                                  int page_size,
                                                  const std::string& page_token) const;

 private:
  absl::StatusOr<std::vector<v1::Referral>> LoadReferrals(
      const std::vector<es::storage::ViewRow>& rows) const;

  es::storage::ViewStore& views_;
  const domain::ReferralDecider& decider_;
  const es::Pseudonymizer& pseudonymizer_;
  es::app::CommandExecutor<domain::ReferralDecider> executor_;
};

// The referral id a command addresses; for SubmitReferral without one, derived from the key.
std::string ReferralIdOf(const domain::ReferralCommand& command);

}  // namespace referral::app
