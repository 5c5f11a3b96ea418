#pragma once

// The pure core of the referral service: Evolve folds an event into the referral's state,
// Decide turns a command and the current state into new events or a status naming the field
// or the rule. No clock, no I/O; the calendar and time zone are values it is built with.
// Immutable after construction; thread-safe.

#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clinical/calendar.h"
#include "referral/v1/events.pb.h"
#include "referral/v1/state.pb.h"
#include "services/referral/domain/commands.h"

namespace referral::domain {

struct ReferralPolicy {
  int assessment_working_days = 10;  // pbrl. § 2-2: assess within 10 working days
};

class ReferralDecider {
 public:
  using State = v1::Referral;
  using Command = ReferralCommand;
  using Event = v1::ReferralEvent;

  ReferralDecider(clinical::Calendar calendar, absl::TimeZone zone, ReferralPolicy policy = {});

  State Initial() const { return State(); }

  // Total: an event with no payload leaves the state unchanged. Reads metadata for the version
  // and the event id (corrections reference it).
  State Evolve(State state, const Event& event) const;

  // Events carry payloads only; the application stamps their metadata.
  // kInvalidArgument (field named), kNotFound (no such referral), kAlreadyExists (referral id
  // taken), kFailedPrecondition (not allowed in the referral's status, rule named).
  absl::StatusOr<std::vector<Event>> Decide(const Command& command, const State& state) const;

  const clinical::Calendar& calendar() const { return calendar_; }
  const absl::TimeZone& zone() const { return zone_; }

 private:
  absl::StatusOr<std::vector<Event>> DecideSubmit(const SubmitReferral& c, const State& s) const;
  absl::StatusOr<std::vector<Event>> DecideAssess(const AssessReferral& c, const State& s) const;
  absl::StatusOr<std::vector<Event>> DecideCorrect(const CorrectAssessment& c,
                                                   const State& s) const;
  absl::StatusOr<std::vector<Event>> DecideAssign(const AssignCoordinator& c, const State& s) const;
  absl::StatusOr<std::vector<Event>> DecideWithdraw(const WithdrawReferral& c,
                                                    const State& s) const;
  absl::Status ValidateAssessment(const v1::Assessment& assessment, const State& state) const;

  clinical::Calendar calendar_;
  absl::TimeZone zone_;
  ReferralPolicy policy_;
};

// Status a referral is in after `assessment` (RIGHT_TO_CARE, NO_RIGHT, FORWARDED, RETURNED).
v1::ReferralStatus StatusAfter(const v1::Assessment& assessment);
bool IsAssessed(v1::ReferralStatus status);

// Ids the API accepts for referrals, units and coordinators: 1-64 of [A-Za-z0-9._:-].
bool IsValidId(const std::string& id);

}  // namespace referral::domain
