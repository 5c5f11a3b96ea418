#pragma once

// Public-holiday calendars and working-day arithmetic for legal deadlines (e.g. Norway's
// "assessed within 10 working days"), plus the civil date of an instant in a unit's time zone.
//
// Contract: pure, no I/O (CivilDayIn takes a zone the caller has loaded). A Calendar is immutable
// after Create and safe to share between threads; copies are cheap and share their tables.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace clinical {

// What makes a day a public holiday or a non-working day in one jurisdiction.
struct CalendarSpec {
  // An Easter-based holiday that stops being one: not a holiday in `from_year` and later years,
  // still a holiday before (e.g. Denmark's Store bededag, Easter + 26, abolished from 2024).
  // Its offset must also be listed in `easter_offsets`.
  struct RemovedHoliday {
    int easter_offset;
    int from_year;
  };

  std::string id;                                   // e.g. "NO", "DK"; must not be empty.
  std::vector<std::pair<int, int>> fixed_holidays;  // (month, day); (2, 29) only in leap years.
  std::vector<int> easter_offsets;                  // Days from Easter Sunday, in [-80, 250].
  std::vector<absl::Weekday> non_working_weekdays;  // e.g. {sunday} or {saturday, sunday}.
  std::vector<RemovedHoliday> removed;
};

// Easter Sunday of `year` in the Gregorian calendar (anonymous Gregorian computus, also known as
// Meeus/Jones/Butcher). Meaningful from 1583.
absl::CivilDay EasterSunday(int year);

// A validated calendar. A day is a holiday when the spec lists it (fixed date or Easter offset);
// weekends are not holidays unless listed. A working day is neither a holiday nor one of the
// non-working weekdays. Lookups for years 1900-2199 use tables built once by Create (a bit test,
// a popcount, a binary search); other years are computed day by day, correct but slower.
class Calendar {
 public:
  // kInvalidArgument when the spec is inconsistent: empty id, month/day out of range, duplicate
  // entries, an Easter offset outside [-80, 250], every weekday non-working, or a removal of an
  // offset that is not in `easter_offsets`.
  static absl::StatusOr<Calendar> Create(CalendarSpec spec);

  const std::string& id() const;

  bool IsHoliday(absl::CivilDay day) const;
  bool IsWorkingDay(absl::CivilDay day) const;

  // The n-th working day after `day`; `day` itself is not counted, so AddWorkingDays(Fri, 1) is
  // the next working day and AddWorkingDays(day, 0) is `day`. A negative n counts backwards:
  // AddWorkingDays(Mon, -1) is the working day before Monday.
  absl::CivilDay AddWorkingDays(absl::CivilDay day, int n) const;

  // Working days in (from, to] when to >= from; minus the working days in (to, from] otherwise.
  // So WorkingDaysBetween(d, AddWorkingDays(d, n)) == n for every d when n >= 0, and for n < 0
  // when d is itself a working day.
  int WorkingDaysBetween(absl::CivilDay from, absl::CivilDay to) const;

  // The holidays of `year`, sorted, each date once (e.g. Norway 2027: 17 May is also Whit Monday).
  std::vector<absl::CivilDay> HolidaysIn(int year) const;

 private:
  struct Tables;
  explicit Calendar(std::shared_ptr<const Tables> tables);

  std::shared_ptr<const Tables> tables_;
};

// Norway: 1 Jan, 1 May, 17 May, 25 and 26 Dec; Easter -3, -2, 0, +1, +39, +49, +50 (Maundy
// Thursday to Whit Monday). Sundays are non-working, and Saturdays too unless
// `saturday_is_working_day` (whether Saturday counts in the 10-working-day rule is unconfirmed,
// so it is a setting). Id "NO" (Saturday off) or "NO-SAT" (Saturday a working day).
CalendarSpec NorwegianCalendarSpec(bool saturday_is_working_day);

// Denmark: Saturdays and Sundays non-working; 1 Jan, 25 and 26 Dec; Easter -3, -2, 0, +1, +39,
// +49, +50; Store bededag (+26) until 2023 only. 5 June, 24 Dec and 1 May are not holidays.
// Id "DK".
CalendarSpec DanishCalendarSpec();

// The civil date of instant `t` in `zone` (load it once with absl::LoadTimeZone, e.g.
// "Europe/Oslo"); deadlines are civil dates in the unit's zone.
absl::CivilDay CivilDayIn(absl::Time t, const absl::TimeZone& zone);

}  // namespace clinical
