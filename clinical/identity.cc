#include "clinical/identity.h"

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"

namespace clinical {
namespace {

// Every message below is built from constants and lengths only: never from the input digits.

constexpr std::array<int, 9> kNoWeights1 = {3, 7, 6, 1, 8, 9, 4, 5, 2};
constexpr std::array<int, 10> kNoWeights2 = {5, 4, 3, 2, 7, 6, 5, 4, 3, 2};

const char* SystemName(IdSystem system) {
  switch (system) {
    case IdSystem::kNoFodselsnummer:
      return "fødselsnummer";
    case IdSystem::kNoDNumber:
      return "D-number";
    case IdSystem::kDkCpr:
      return "CPR number";
  }
  return "national id";
}

absl::Status Invalid(IdSystem system, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("invalid ", SystemName(system), ": ", what));
}

int DigitAt(const std::string& digits, std::size_t i) { return digits[i] - '0'; }

int TwoDigits(const std::string& digits, std::size_t i) {
  return DigitAt(digits, i) * 10 + DigitAt(digits, i + 1);
}

int ThreeDigits(const std::string& digits, std::size_t i) {
  return DigitAt(digits, i) * 100 + TwoDigits(digits, i + 1);
}

// k = 11 - (weighted sum mod 11); 11 becomes 0; 10 (returned as is) means no valid digit exists.
template <std::size_t N>
int Mod11CheckDigit(const std::string& digits, const std::array<int, N>& weights) {
  int sum = 0;
  for (std::size_t i = 0; i < N; ++i) sum += weights[i] * DigitAt(digits, i);
  const int k = 11 - sum % 11;
  return k == 11 ? 0 : k;
}

bool IsRealDate(int year, int month, int day) {
  if (month < 1 || month > 12 || day < 1 || day > 31) return false;
  const absl::CivilDay date(year, month, day);  // Normalises an impossible date (31 Feb).
  return date.year() == year && date.month() == month && date.day() == day;
}

// Skatteetaten's century table for the individual number (digits 7-9) and the year YY.
std::optional<int> NorwegianCentury(int individual, int yy) {
  if (individual <= 499) return 1900;
  if (individual <= 749 && yy >= 54) return 1800;
  if (yy <= 39) return 2000;  // Individual 500-999.
  if (individual >= 900) return 1900;
  return std::nullopt;  // 500-899 with YY 40-53, or 750-899 with YY 54-99: never issued.
}

// The CPR office's century table for the 7th digit and the year YY.
int DanishCentury(int seventh, int yy) {
  if (seventh <= 3) return 1900;
  if (seventh == 4 || seventh == 9) return yy <= 36 ? 2000 : 1900;
  return yy <= 57 ? 2000 : 1800;  // 5-8.
}

absl::Status ValidateNorwegian(IdSystem system, const std::string& digits) {
  if (digits.size() != 11) {
    return Invalid(system, absl::StrCat("expected 11 digits, got ", digits.size()));
  }
  const int k1 = Mod11CheckDigit(digits, kNoWeights1);
  if (k1 == 10) return Invalid(system, "first check digit cannot exist (mod 11 remainder 1)");
  if (k1 != DigitAt(digits, 9)) return Invalid(system, "first check digit does not match");
  const int k2 = Mod11CheckDigit(digits, kNoWeights2);
  if (k2 == 10) return Invalid(system, "second check digit cannot exist (mod 11 remainder 1)");
  if (k2 != DigitAt(digits, 10)) return Invalid(system, "second check digit does not match");

  int day = TwoDigits(digits, 0);
  if (system == IdSystem::kNoDNumber) {
    if (day < 41 || day > 71) return Invalid(system, "day must be 41-71 (day of birth + 40)");
    day -= 40;
  } else if (day > 31) {
    return Invalid(system, "day must be 01-31 (a D-number needs its own id system)");
  }
  int month = TwoDigits(digits, 2);
  if (month >= 81 && month <= 92) month -= 80;  // Synthetic test number.
  const int yy = TwoDigits(digits, 4);
  const std::optional<int> century = NorwegianCentury(ThreeDigits(digits, 6), yy);
  if (!century.has_value()) {
    return Invalid(system, "individual number does not match any birth century");
  }
  if (!IsRealDate(*century + yy, month, day)) {
    return Invalid(system, "date of birth is not a real date");
  }
  return absl::OkStatus();
}

absl::Status ValidateDanish(const std::string& digits) {
  constexpr IdSystem kSystem = IdSystem::kDkCpr;
  if (digits.size() != 10) {
    return Invalid(kSystem, absl::StrCat("expected 10 digits, got ", digits.size()));
  }
  const int yy = TwoDigits(digits, 4);
  const int year = DanishCentury(DigitAt(digits, 6), yy) + yy;
  if (!IsRealDate(year, TwoDigits(digits, 2), TwoDigits(digits, 0))) {
    return Invalid(kSystem, "date of birth is not a real date");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<NationalId> ValidateNationalId(IdSystem system, std::string_view raw) {
  std::string digits;
  digits.reserve(raw.size());
  for (const char c : raw) {
    if (c >= '0' && c <= '9') {
      digits.push_back(c);
    } else if (c != ' ' && c != '-' && c != '.') {
      return Invalid(system, "contains a character other than digits, spaces, '-' and '.'");
    }
  }
  const absl::Status status =
      system == IdSystem::kDkCpr ? ValidateDanish(digits) : ValidateNorwegian(system, digits);
  if (!status.ok()) return status;
  return NationalId{system, std::move(digits)};
}

std::string_view FhirSystemOid(IdSystem system) {
  switch (system) {
    case IdSystem::kNoFodselsnummer:
      return "urn:oid:2.16.578.1.12.4.1.4.1";
    case IdSystem::kNoDNumber:
      return "urn:oid:2.16.578.1.12.4.1.4.2";
    case IdSystem::kDkCpr:
      return "urn:oid:1.2.208.176.1.2";
  }
  return "";
}

}  // namespace clinical
