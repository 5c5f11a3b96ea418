#pragma once

// The pseudonymous patient key of a patient identifier, the same in every service: validate
// and normalise the national id, then HMAC it with the shared secret.

#include <string>

#include "absl/status/statusor.h"
#include "libs/eventing/pseudonym.h"
#include "referral/v1/events.pb.h"

namespace pathways {

// kInvalidArgument naming `field` (e.g. "patient.value") when the identifier is not valid; the
// message never contains the number. On success `normalised` (optional) gets the digits.
absl::StatusOr<std::string> PatientKeyOf(const referral::v1::PatientIdentifier& patient,
                                         const es::Pseudonymizer& pseudonymizer,
                                         const std::string& field,
                                         referral::v1::PatientIdentifier* normalised = nullptr);

}  // namespace pathways
