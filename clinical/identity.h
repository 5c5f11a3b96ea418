#pragma once

// National person identifiers: Norwegian fødselsnummer and D-number, Danish CPR number.
//
// Contract: pure functions, no I/O, thread-safe. Error messages say what is wrong (length,
// character, check digit, date) but never contain the number or any part of it, so they may be
// logged and returned to callers. The `digits` of a valid id are personal data (GDPR art. 9):
// never use them as a Kafka key or log them.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace clinical {

enum class IdSystem {
  kNoFodselsnummer,  // Norway: fødselsnummer (11 digits, DDMMYY + individual no. + 2 checks).
  kNoDNumber,        // Norway: D-number, a fødselsnummer whose first digit is raised by 4.
  kDkCpr,            // Denmark: CPR personnummer (10 digits DDMMYY-SSSS, no check digit).
};

// A validated id. `digits` holds only the digits, as written (a D-number keeps its raised day,
// a synthetic number its raised month).
struct NationalId {
  IdSystem system;
  std::string digits;

  friend bool operator==(const NationalId&, const NationalId&) = default;
};

// Strips spaces, '-' and '.', then validates `raw` as a number of `system`:
// - Norway (both systems): 11 digits; check digits per mod 11 (weights 3 7 6 1 8 9 4 5 2, then
//   5 4 3 2 7 6 5 4 3 2; k = 11 - sum % 11, 11 gives 0, 10 means no valid number); a real birth
//   date, the century taken from the individual number (Skatteetaten's table). Synthetic test
//   numbers (month + 80, e.g. Tenor/NAV) are accepted; H-numbers (month + 40) are not.
//   A fødselsnummer has day 01-31; a D-number has day 41-71.
//   Only the classic check rule is implemented: numbers issued under the rule that starts in
//   2032 (first check digit may take several values) are rejected.
// - Denmark: 10 digits and a real birth date, the century from the 7th digit (CPR's table).
//   Mod 11 is NEVER applied: CPR has issued numbers without it since 2007.
// Returns kInvalidArgument otherwise.
absl::StatusOr<NationalId> ValidateNationalId(IdSystem system, std::string_view raw);

// The FHIR Identifier.system for ids of `system`: "urn:oid:2.16.578.1.12.4.1.4.1" (fødselsnummer),
// "urn:oid:2.16.578.1.12.4.1.4.2" (D-number), "urn:oid:1.2.208.176.1.2" (CPR).
std::string_view FhirSystemOid(IdSystem system);

}  // namespace clinical
