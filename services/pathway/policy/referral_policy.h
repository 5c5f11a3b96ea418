#pragma once

// The policy that starts pathways from referral events. It runs inside the pathway service's
// projection consumer on the referral topic:
// - ReferralSubmitted and CoordinatorAssigned keep a small view of each referral (rf/<id>);
// - an assessment (or a correction) granting a right to care with a pathway type starts that
//   pathway, once: the pathway id and the idempotency key follow from the referral id, so
//   replayed or re-published referral events never start a second one;
// - a coordinator assigned on the referral is assigned on its pathway.
// Commands are durable before Project returns, so the consumer stores the offset only after
// the reaction happened. Called on the consumer thread only.

#include <optional>
#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "catalogue/v1/catalogue.pb.h"
#include "libs/projection/projection_consumer.h"
#include "libs/runtime/log.h"
#include "referral/v1/events.pb.h"
#include "services/pathway/app/pathway_service.h"

namespace pathway::policy {

struct ReferralPolicyOptions {
  // Which date starts the pathway: "assessed" (revised rules: the referral was assessed and
  // the right granted) or "received" (2019 rules: the referral was received).
  std::string start_date_rule = "assessed";
  // The referral does not say; a coordinator changes it with a correction if needed.
  catalogue::v1::Setting default_setting = catalogue::v1::OUTPATIENT;
  absl::TimeZone zone = absl::UTCTimeZone();
  int max_attempts = 5;  // retries of a command that failed for a transient reason
};

class ReferralPolicy final : public es::projection::Projector {
 public:
  ReferralPolicy(app::PathwayService& service, ReferralPolicyOptions options);

  absl::StatusOr<es::projection::Projection> Project(
      const es::projection::ConsumedRecord& record,
      const es::projection::ViewReader& views) override;

  // The id of the pathway the policy starts for a referral.
  static std::string PathwayIdFor(const std::string& referral_id);
  static std::string ReferralRowKey(const std::string& referral_id);

 private:
  // After an AssessmentCorrected: the started pathway's legal deadline follows the correction
  // (nullopt: none). Outcomes that are not the record's fault are logged, not dead-lettered.
  absl::Status FollowCorrectedLegalDeadline(const referral::v1::ReferralEvent& event,
                                            std::optional<absl::CivilDay> legal_deadline);
  absl::Status Run(domain::PathwayCommand command, const std::string& idempotency_key,
                   const std::string& correlation_id);

  app::PathwayService& service_;
  const ReferralPolicyOptions options_;
  es::runtime::Logger log_{"pathway.policy"};
};

}  // namespace pathway::policy
