#include "clinical/calendar.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace clinical {
namespace {

// Days in [kFirstTableDay, kEndTableDay) are answered from precomputed bit tables.
constexpr int kFirstTableYear = 1900;
constexpr int kEndTableYear = 2200;
constexpr absl::CivilDay kFirstTableDay(kFirstTableYear, 1, 1);
constexpr absl::CivilDay kEndTableDay(kEndTableYear, 1, 1);

// Easter offsets in this range keep every Easter-based holiday inside Easter's own year
// (Easter Sunday falls between 22 March and 25 April).
constexpr int kMinEasterOffset = -80;
constexpr int kMaxEasterOffset = 250;

bool IsLeapYear(int year) { return absl::CivilDay(year, 2, 29).month() == 2; }

bool IsRemoved(const CalendarSpec& spec, int easter_offset, int year) {
  for (const CalendarSpec::RemovedHoliday& removed : spec.removed) {
    if (removed.easter_offset == easter_offset && year >= removed.from_year) return true;
  }
  return false;
}

// The spec's holidays in `year`, sorted and unique.
std::vector<absl::CivilDay> ComputeHolidays(const CalendarSpec& spec, int year) {
  std::vector<absl::CivilDay> days;
  days.reserve(spec.fixed_holidays.size() + spec.easter_offsets.size());
  for (const auto& [month, day] : spec.fixed_holidays) {
    if (month == 2 && day == 29 && !IsLeapYear(year)) continue;
    days.emplace_back(year, month, day);
  }
  if (!spec.easter_offsets.empty()) {
    const absl::CivilDay easter = EasterSunday(year);
    for (const int offset : spec.easter_offsets) {
      if (!IsRemoved(spec, offset, year)) days.push_back(easter + offset);
    }
  }
  std::sort(days.begin(), days.end());
  days.erase(std::unique(days.begin(), days.end()), days.end());
  return days;
}

// Holiday test without tables (used outside the table years).
bool ComputeIsHoliday(const CalendarSpec& spec, absl::CivilDay day) {
  for (const auto& [month, day_of_month] : spec.fixed_holidays) {
    if (day.month() == month && day.day() == day_of_month) return true;
  }
  if (spec.easter_offsets.empty()) return false;
  const int year = static_cast<int>(day.year());
  const auto offset = day - EasterSunday(year);
  for (const int candidate : spec.easter_offsets) {
    if (candidate == offset && !IsRemoved(spec, candidate, year)) return true;
  }
  return false;
}

absl::Status ValidateSpec(const CalendarSpec& spec) {
  if (spec.id.empty()) return absl::InvalidArgumentError("calendar id must not be empty");
  const std::string where = absl::StrCat("calendar ", spec.id, ": ");
  std::set<std::pair<int, int>> fixed;
  for (const auto& [month, day] : spec.fixed_holidays) {
    // 2000 is a leap year, so (2, 29) passes and applies in leap years only.
    if (month < 1 || month > 12 || day < 1 || day > 31 ||
        absl::CivilDay(2000, month, day).day() != day) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "fixed holiday (", month, ", ", day, ") is not a date"));
    }
    if (!fixed.emplace(month, day).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "fixed holiday (", month, ", ", day, ") is listed twice"));
    }
  }
  std::set<int> offsets;
  for (const int offset : spec.easter_offsets) {
    if (offset < kMinEasterOffset || offset > kMaxEasterOffset) {
      return absl::InvalidArgumentError(absl::StrCat(where, "Easter offset ", offset,
                                                     " is outside [", kMinEasterOffset, ", ",
                                                     kMaxEasterOffset, "]"));
    }
    if (!offsets.insert(offset).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "Easter offset ", offset, " is listed twice"));
    }
  }
  std::set<int> weekdays;
  for (const absl::Weekday weekday : spec.non_working_weekdays) {
    const int index = static_cast<int>(weekday);
    if (index < 0 || index > 6) {
      return absl::InvalidArgumentError(absl::StrCat(where, "weekday ", index, " is invalid"));
    }
    if (!weekdays.insert(index).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "non-working weekday ", index, " is listed twice"));
    }
  }
  if (weekdays.size() == 7) {
    return absl::InvalidArgumentError(absl::StrCat(where, "every weekday is non-working"));
  }
  std::set<int> removed_offsets;
  for (const CalendarSpec::RemovedHoliday& removed : spec.removed) {
    if (offsets.count(removed.easter_offset) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, "removed Easter offset ", removed.easter_offset, " is not in easter_offsets"));
    }
    if (!removed_offsets.insert(removed.easter_offset).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "removed Easter offset ", removed.easter_offset, " is listed twice"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

// Bit tables over the table days (bit i = kFirstTableDay + i), plus the count of working days
// before each 64-bit word, so rank (working days up to a day) is a popcount and select (the
// t-th working day) a binary search. Built once, then only read.
struct Calendar::Tables {
  CalendarSpec spec;
  std::array<bool, 7> non_working_weekday{};  // Indexed by absl::Weekday (monday = 0).
  int64_t num_days = 0;
  std::vector<uint64_t> holiday_bits;
  std::vector<uint64_t> working_bits;
  std::vector<int64_t> working_before_word;  // Size words + 1.

  int64_t total_working() const { return working_before_word.back(); }

  std::optional<int64_t> IndexOf(absl::CivilDay day) const {
    const int64_t index = day - kFirstTableDay;
    if (index < 0 || index >= num_days) return std::nullopt;
    return index;
  }

  static bool Bit(const std::vector<uint64_t>& bits, int64_t index) {
    return (bits[static_cast<size_t>(index >> 6)] >> (index & 63)) & 1;
  }

  bool SlowIsWorkingDay(absl::CivilDay day) const {
    return !non_working_weekday[static_cast<int>(absl::GetWeekday(day))] &&
           !ComputeIsHoliday(spec, day);
  }

  bool IsWorkingDay(absl::CivilDay day) const {
    const std::optional<int64_t> index = IndexOf(day);
    return index.has_value() ? Bit(working_bits, *index) : SlowIsWorkingDay(day);
  }

  // Working days among table days [0, index].
  int64_t Rank(int64_t index) const {
    const size_t word = static_cast<size_t>(index >> 6);
    const int bit = static_cast<int>(index & 63);
    const uint64_t mask = bit == 63 ? ~uint64_t{0} : (uint64_t{1} << (bit + 1)) - 1;
    return working_before_word[word] + std::popcount(working_bits[word] & mask);
  }

  // Index of the t-th working table day, 1 <= t <= total_working().
  int64_t Select(int64_t t) const {
    // First word boundary with at least t working days before it; the day is in the word before.
    const auto it = std::lower_bound(working_before_word.begin(), working_before_word.end(), t);
    const size_t word = static_cast<size_t>(it - working_before_word.begin()) - 1;
    uint64_t bits = working_bits[word];
    for (int64_t skip = t - working_before_word[word] - 1; skip > 0; --skip) bits &= bits - 1;
    return static_cast<int64_t>(word) * 64 + std::countr_zero(bits);
  }

  // Day-by-day walk: the |n|-th working day after (n > 0) or before (n < 0) `day`.
  absl::CivilDay Step(absl::CivilDay day, int64_t n) const {
    const int step = n > 0 ? 1 : -1;
    for (int64_t remaining = n > 0 ? n : -n; remaining > 0;) {
      day += step;
      if (IsWorkingDay(day)) --remaining;
    }
    return day;
  }

  // Working days in (from, to] for from <= to, by walking.
  int64_t CountByWalking(absl::CivilDay from, absl::CivilDay to) const {
    int64_t count = 0;
    for (absl::CivilDay day = from + 1; day <= to; ++day) count += IsWorkingDay(day) ? 1 : 0;
    return count;
  }

  // An ordinal with Ordinal(b) - Ordinal(a) == working days in (a, b] for any a <= b.
  int64_t Ordinal(absl::CivilDay day) const {
    if (const std::optional<int64_t> index = IndexOf(day)) return Rank(*index);
    if (day < kFirstTableDay) return -CountByWalking(day, kFirstTableDay - 1);
    return total_working() + CountByWalking(kEndTableDay - 1, day);
  }
};

absl::CivilDay EasterSunday(int year) {
  const int a = year % 19;
  const int b = year / 100;
  const int c = year % 100;
  const int d = b / 4;
  const int e = b % 4;
  const int f = (b + 8) / 25;
  const int g = (b - f + 1) / 3;
  const int h = (19 * a + b - d - g + 15) % 30;
  const int i = c / 4;
  const int k = c % 4;
  const int l = (32 + 2 * e + 2 * i - h - k) % 7;
  const int m = (a + 11 * h + 22 * l) / 451;
  const int month = (h + l - 7 * m + 114) / 31;
  const int day = (h + l - 7 * m + 114) % 31 + 1;
  return absl::CivilDay(year, month, day);
}

Calendar::Calendar(std::shared_ptr<const Tables> tables) : tables_(std::move(tables)) {}

absl::StatusOr<Calendar> Calendar::Create(CalendarSpec spec) {
  if (absl::Status status = ValidateSpec(spec); !status.ok()) return status;

  auto tables = std::make_shared<Tables>();
  tables->spec = std::move(spec);
  for (const absl::Weekday weekday : tables->spec.non_working_weekdays) {
    tables->non_working_weekday[static_cast<int>(weekday)] = true;
  }
  tables->num_days = kEndTableDay - kFirstTableDay;
  const size_t words = static_cast<size_t>((tables->num_days + 63) / 64);
  tables->holiday_bits.assign(words, 0);
  tables->working_bits.assign(words, 0);
  for (int year = kFirstTableYear; year < kEndTableYear; ++year) {
    for (const absl::CivilDay day : ComputeHolidays(tables->spec, year)) {
      const int64_t index = day - kFirstTableDay;
      tables->holiday_bits[static_cast<size_t>(index >> 6)] |= uint64_t{1} << (index & 63);
    }
  }
  int weekday = static_cast<int>(absl::GetWeekday(kFirstTableDay));
  for (int64_t index = 0; index < tables->num_days; ++index) {
    if (!tables->non_working_weekday[weekday] && !Tables::Bit(tables->holiday_bits, index)) {
      tables->working_bits[static_cast<size_t>(index >> 6)] |= uint64_t{1} << (index & 63);
    }
    weekday = (weekday + 1) % 7;
  }
  tables->working_before_word.assign(words + 1, 0);
  for (size_t word = 0; word < words; ++word) {
    tables->working_before_word[word + 1] =
        tables->working_before_word[word] + std::popcount(tables->working_bits[word]);
  }
  return Calendar(std::move(tables));
}

const std::string& Calendar::id() const { return tables_->spec.id; }

bool Calendar::IsHoliday(absl::CivilDay day) const {
  const std::optional<int64_t> index = tables_->IndexOf(day);
  return index.has_value() ? Tables::Bit(tables_->holiday_bits, *index)
                           : ComputeIsHoliday(tables_->spec, day);
}

bool Calendar::IsWorkingDay(absl::CivilDay day) const { return tables_->IsWorkingDay(day); }

absl::CivilDay Calendar::AddWorkingDays(absl::CivilDay day, int n) const {
  if (n == 0) return day;
  const Tables& t = *tables_;
  const std::optional<int64_t> index = t.IndexOf(day);
  if (!index.has_value()) return t.Step(day, n);
  const int64_t rank = t.Rank(*index);  // Working days in [first table day, day].
  if (n > 0) {
    const int64_t target = rank + n;
    if (target <= t.total_working()) return kFirstTableDay + t.Select(target);
    return t.Step(kEndTableDay - 1, target - t.total_working());
  }
  const int64_t before = rank - (Tables::Bit(t.working_bits, *index) ? 1 : 0);
  const int64_t target = before + n + 1;
  if (target >= 1) return kFirstTableDay + t.Select(target);
  return t.Step(kFirstTableDay, target - 1);
}

int Calendar::WorkingDaysBetween(absl::CivilDay from, absl::CivilDay to) const {
  const Tables& t = *tables_;
  const bool from_in = t.IndexOf(from).has_value();
  const bool to_in = t.IndexOf(to).has_value();
  const bool same_side_outside =
      !from_in && !to_in && ((from < kFirstTableDay) == (to < kFirstTableDay));
  if (same_side_outside) {
    return static_cast<int>(from <= to ? t.CountByWalking(from, to) : -t.CountByWalking(to, from));
  }
  return static_cast<int>(t.Ordinal(to) - t.Ordinal(from));
}

std::vector<absl::CivilDay> Calendar::HolidaysIn(int year) const {
  return ComputeHolidays(tables_->spec, year);
}

CalendarSpec NorwegianCalendarSpec(bool saturday_is_working_day) {
  CalendarSpec spec;
  spec.id = saturday_is_working_day ? "NO-SAT" : "NO";
  spec.fixed_holidays = {{1, 1}, {5, 1}, {5, 17}, {12, 25}, {12, 26}};
  spec.easter_offsets = {-3, -2, 0, 1, 39, 49, 50};
  spec.non_working_weekdays = {absl::Weekday::sunday};
  if (!saturday_is_working_day) spec.non_working_weekdays.push_back(absl::Weekday::saturday);
  return spec;
}

CalendarSpec DanishCalendarSpec() {
  CalendarSpec spec;
  spec.id = "DK";
  spec.fixed_holidays = {{1, 1}, {12, 25}, {12, 26}};
  spec.easter_offsets = {-3, -2, 0, 1, 26, 39, 49, 50};
  spec.non_working_weekdays = {absl::Weekday::saturday, absl::Weekday::sunday};
  spec.removed = {{26, 2024}};  // Store bededag, abolished from 2024.
  return spec;
}

absl::CivilDay CivilDayIn(absl::Time t, const absl::TimeZone& zone) {
  return absl::ToCivilDay(t, zone);
}

}  // namespace clinical
