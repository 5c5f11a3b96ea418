#pragma once

// Commands of the referral aggregate: plain values built by the API adapter. Time and ids come
// in with the command; the domain never reads a clock or generates an id.

#include <optional>
#include <string>
#include <variant>

#include "absl/time/time.h"
#include "referral/v1/events.pb.h"

namespace referral::domain {

struct SubmitReferral {
  std::string referral_id;
  v1::PatientIdentifier patient;  // value as given; validated and normalised by Decide
  std::string patient_key;        // pseudonymous key of the normalised id (set by the app)
  v1::Referrer referrer;
  std::string receiving_unit;
  absl::Time received_at = absl::InfinitePast();  // InfinitePast = not given
  std::string reason;
  std::string suspected_condition;
  v1::Priority priority = v1::PRIORITY_UNSPECIFIED;
  std::optional<v1::MunicipalContact> municipal_contact;
};

struct AssessReferral {
  std::string referral_id;
  v1::Assessment assessment;
};

struct CorrectAssessment {
  std::string referral_id;
  v1::Assessment assessment;
  std::string reason;
};

struct AssignCoordinator {
  std::string referral_id;
  std::string coordinator_id;
  std::string coordinator_name;
  absl::Time assigned_at = absl::InfinitePast();
};

struct WithdrawReferral {
  std::string referral_id;
  std::string reason;
  absl::Time withdrawn_at = absl::InfinitePast();
};

using ReferralCommand = std::variant<SubmitReferral, AssessReferral, CorrectAssessment,
                                     AssignCoordinator, WithdrawReferral>;

}  // namespace referral::domain
