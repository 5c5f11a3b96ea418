#include "bench/submit_referral/fodselsnummer.h"

#include <array>

#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"

namespace bench {
namespace {

constexpr int kIndividualNumbers = 500;  // 000-499: the 1900-1999 range for every birth year
constexpr int kDaysSpanned = 21'915;     // 1940-01-01 .. 1999-12-31

// k = 11 - (weighted sum % 11); 11 becomes 0; 10 means the digits admit no check digit.
std::optional<int> CheckDigit(const int* digits, const int* weights, int count) {
  int sum = 0;
  for (int i = 0; i < count; ++i) sum += digits[i] * weights[i];
  const int k = 11 - sum % 11;
  if (k == 11) return 0;
  if (k == 10) return std::nullopt;
  return k;
}

}  // namespace

std::optional<std::string> FodselsnummerCandidate(uint64_t index) {
  static constexpr std::array<int, 9> kWeights1 = {3, 7, 6, 1, 8, 9, 4, 5, 2};
  static constexpr std::array<int, 10> kWeights2 = {5, 4, 3, 2, 7, 6, 5, 4, 3, 2};
  const int individual = static_cast<int>(index % kIndividualNumbers);
  const absl::CivilDay born =
      absl::CivilDay(1940, 1, 1) + static_cast<int>((index / kIndividualNumbers) % kDaysSpanned);
  const std::string base = absl::StrFormat("%02d%02d%02d%03d", born.day(), born.month(),
                                           static_cast<int>(born.year() % 100), individual);
  std::array<int, 11> digits{};
  for (int i = 0; i < 9; ++i) digits[i] = base[i] - '0';
  const std::optional<int> k1 = CheckDigit(digits.data(), kWeights1.data(), 9);
  if (!k1.has_value()) return std::nullopt;
  digits[9] = *k1;
  const std::optional<int> k2 = CheckDigit(digits.data(), kWeights2.data(), 10);
  if (!k2.has_value()) return std::nullopt;
  return absl::StrFormat("%s%d%d", base, *k1, *k2);
}

std::string FodselsnummerSource::Next() {
  while (true) {
    std::optional<std::string> number =
        FodselsnummerCandidate(next_index_.fetch_add(1, std::memory_order_relaxed));
    if (number.has_value()) return *std::move(number);
  }
}

}  // namespace bench
