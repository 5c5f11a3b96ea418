#include "clinical/calendar.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

// Published holiday lists used below (dates cross-checked against each other and against an
// independent Easter algorithm before being written here):
// NO 2024: public-holidays.us/NO_NO_2024_All and uke-kalender.com/aar/norske-helligdager.
// NO 2025: kalendernorge.no/flaggdager (1. påskedag 20 April, 1. pinsedag 8 June) and
//          timeanddate.no/emner/kalender (pinsehelgen Friday 6 - Monday 9 June 2025).
// NO 2026: wfy24.com/bg/holidays/no (2, 3, 5, 6 April, 1, 14, 17, 24 May) and kalendernorge.no.
// NO 2027: kalenderendin.no/helligdager/2027 and transitdesk.net/holidays/norway/2027 (2. pinsedag
//          falls on 17 May).
// DK 2023: danmarkguiden.se/helgdagar.php (store bededag 5 May), jyllands-posten.dk 2022-12
//          (Kristi himmelfart 18 May, pinse 28-29 May); DK 2024 without store bededag:
//          valutaomregneren.dk/blog/helligdage, sermitsiaq.ag (abolition from 2024).
// Easter: halsa.kommune.no (2019, 2020), norway.no (2021), nrk.no (2023), kalender-365.dk (1723,
//          2053), public-holidays.us (1848).

namespace clinical {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::CivilDay D(int y, int m, int d) { return absl::CivilDay(y, m, d); }

Calendar MakeCalendar(CalendarSpec spec) {
  absl::StatusOr<Calendar> calendar = Calendar::Create(std::move(spec));
  EXPECT_TRUE(calendar.ok()) << calendar.status();
  return *std::move(calendar);
}

Calendar Norway() { return MakeCalendar(NorwegianCalendarSpec(false)); }
Calendar NorwaySaturdayWorking() { return MakeCalendar(NorwegianCalendarSpec(true)); }
Calendar Denmark() { return MakeCalendar(DanishCalendarSpec()); }

// Reference implementations that only use IsWorkingDay, day by day.
absl::CivilDay NaiveAdd(const Calendar& calendar, absl::CivilDay day, int n) {
  const int step = n >= 0 ? 1 : -1;
  for (int remaining = n >= 0 ? n : -n; remaining > 0;) {
    day += step;
    if (calendar.IsWorkingDay(day)) --remaining;
  }
  return day;
}

int NaiveBetween(const Calendar& calendar, absl::CivilDay from, absl::CivilDay to) {
  const bool forward = to >= from;
  const absl::CivilDay lo = forward ? from : to;
  const absl::CivilDay hi = forward ? to : from;
  int count = 0;
  for (absl::CivilDay day = lo + 1; day <= hi; ++day) count += calendar.IsWorkingDay(day);
  return forward ? count : -count;
}

// ---- Easter ----

TEST(CalendarTest, GivenPublishedEasterDates_WhenComputingEasterSunday_ThenSameDate) {
  EXPECT_EQ(EasterSunday(2024), D(2024, 3, 31));
  EXPECT_EQ(EasterSunday(2025), D(2025, 4, 20));
  EXPECT_EQ(EasterSunday(2026), D(2026, 4, 5));
  EXPECT_EQ(EasterSunday(2027), D(2027, 3, 28));
  EXPECT_EQ(EasterSunday(2019), D(2019, 4, 21));
  EXPECT_EQ(EasterSunday(2020), D(2020, 4, 12));
  EXPECT_EQ(EasterSunday(2021), D(2021, 4, 4));
  EXPECT_EQ(EasterSunday(2023), D(2023, 4, 9));
  EXPECT_EQ(EasterSunday(1723), D(1723, 3, 28));
  EXPECT_EQ(EasterSunday(1848), D(1848, 4, 23));
  EXPECT_EQ(EasterSunday(2053), D(2053, 4, 6));
  // The extremes of the Gregorian range: 22 March (1818, 2285) and 25 April (1943, 2038).
  EXPECT_EQ(EasterSunday(2285), D(2285, 3, 22));
  EXPECT_EQ(EasterSunday(2038), D(2038, 4, 25));
}

TEST(CalendarTest, GivenAnyYear_WhenComputingEasterSunday_ThenASundayBetween22MarchAnd25April) {
  for (int year = 1583; year <= 3000; ++year) {
    const absl::CivilDay easter = EasterSunday(year);
    ASSERT_EQ(absl::GetWeekday(easter), absl::Weekday::sunday) << year;
    ASSERT_GE(easter, D(year, 3, 22)) << year;
    ASSERT_LE(easter, D(year, 4, 25)) << year;
  }
}

// ---- Norwegian holidays ----

TEST(CalendarTest, GivenNorway2024_WhenListingHolidays_ThenPublishedList) {
  EXPECT_THAT(Norway().HolidaysIn(2024),
              ElementsAre(D(2024, 1, 1), D(2024, 3, 28), D(2024, 3, 29), D(2024, 3, 31),
                          D(2024, 4, 1), D(2024, 5, 1), D(2024, 5, 9), D(2024, 5, 17),
                          D(2024, 5, 19), D(2024, 5, 20), D(2024, 12, 25), D(2024, 12, 26)));
}

TEST(CalendarTest, GivenNorway2025_WhenListingHolidays_ThenPublishedList) {
  EXPECT_THAT(Norway().HolidaysIn(2025),
              ElementsAre(D(2025, 1, 1), D(2025, 4, 17), D(2025, 4, 18), D(2025, 4, 20),
                          D(2025, 4, 21), D(2025, 5, 1), D(2025, 5, 17), D(2025, 5, 29),
                          D(2025, 6, 8), D(2025, 6, 9), D(2025, 12, 25), D(2025, 12, 26)));
}

TEST(CalendarTest, GivenNorway2026_WhenListingHolidays_ThenPublishedList) {
  EXPECT_THAT(Norway().HolidaysIn(2026),
              ElementsAre(D(2026, 1, 1), D(2026, 4, 2), D(2026, 4, 3), D(2026, 4, 5), D(2026, 4, 6),
                          D(2026, 5, 1), D(2026, 5, 14), D(2026, 5, 17), D(2026, 5, 24),
                          D(2026, 5, 25), D(2026, 12, 25), D(2026, 12, 26)));
}

TEST(CalendarTest, GivenNorway2027_WhenListingHolidays_ThenWhitMondayAnd17MayListedOnce) {
  EXPECT_THAT(Norway().HolidaysIn(2027),
              ElementsAre(D(2027, 1, 1), D(2027, 3, 25), D(2027, 3, 26), D(2027, 3, 28),
                          D(2027, 3, 29), D(2027, 5, 1), D(2027, 5, 6), D(2027, 5, 16),
                          D(2027, 5, 17), D(2027, 12, 25), D(2027, 12, 26)));
}

TEST(CalendarTest, GivenEasterMonday_WhenCheckingWorkingDay_ThenHoliday) {
  const Calendar norway = Norway();
  EXPECT_TRUE(norway.IsHoliday(D(2025, 4, 21)));
  EXPECT_FALSE(norway.IsWorkingDay(D(2025, 4, 21)));
  EXPECT_TRUE(norway.IsWorkingDay(D(2025, 4, 22)));
}

TEST(CalendarTest, GivenNorwegianTable_WhenAskingAboutEveryDayOf2024To2027_ThenMatchesList) {
  const Calendar norway = Norway();
  for (int year = 2024; year <= 2027; ++year) {
    const std::vector<absl::CivilDay> holidays = norway.HolidaysIn(year);
    for (absl::CivilDay day = D(year, 1, 1); day < D(year + 1, 1, 1); ++day) {
      const bool listed = std::find(holidays.begin(), holidays.end(), day) != holidays.end();
      ASSERT_EQ(norway.IsHoliday(day), listed) << day;
    }
  }
}

TEST(CalendarTest, GivenEasterSaturdayAndChristmasEve_WhenCheckingNorway_ThenNotHolidays) {
  const Calendar norway = NorwaySaturdayWorking();
  EXPECT_FALSE(norway.IsHoliday(D(2024, 3, 30)));  // Påskeaften.
  EXPECT_TRUE(norway.IsWorkingDay(D(2024, 3, 30)));
  EXPECT_FALSE(norway.IsHoliday(D(2024, 12, 24)));  // Julaften.
  EXPECT_TRUE(norway.IsWorkingDay(D(2024, 12, 24)));
  EXPECT_FALSE(norway.IsWorkingDay(D(2024, 3, 24)));  // Palm Sunday: a Sunday, not a holiday.
  EXPECT_FALSE(norway.IsHoliday(D(2024, 3, 24)));
}

TEST(CalendarTest, GivenSaturdaySetting_WhenCheckingAnOrdinarySaturday_ThenSettingDecides) {
  EXPECT_FALSE(Norway().IsWorkingDay(D(2024, 3, 23)));
  EXPECT_TRUE(NorwaySaturdayWorking().IsWorkingDay(D(2024, 3, 23)));
  EXPECT_EQ(Norway().id(), "NO");
  EXPECT_EQ(NorwaySaturdayWorking().id(), "NO-SAT");
}

// ---- Danish holidays ----

TEST(CalendarTest, GivenDenmark2023_WhenListingHolidays_ThenStoreBededagPresent) {
  EXPECT_THAT(Denmark().HolidaysIn(2023),
              ElementsAre(D(2023, 1, 1), D(2023, 4, 6), D(2023, 4, 7), D(2023, 4, 9),
                          D(2023, 4, 10), D(2023, 5, 5), D(2023, 5, 18), D(2023, 5, 28),
                          D(2023, 5, 29), D(2023, 12, 25), D(2023, 12, 26)));
  EXPECT_TRUE(Denmark().IsHoliday(D(2023, 5, 5)));
}

TEST(CalendarTest, GivenDenmark2024_WhenListingHolidays_ThenStoreBededagAbsent) {
  const Calendar denmark = Denmark();
  EXPECT_THAT(
      denmark.HolidaysIn(2024),
      ElementsAre(D(2024, 1, 1), D(2024, 3, 28), D(2024, 3, 29), D(2024, 3, 31), D(2024, 4, 1),
                  D(2024, 5, 9), D(2024, 5, 19), D(2024, 5, 20), D(2024, 12, 25), D(2024, 12, 26)));
  // Easter + 26 in 2024 is Friday 26 April: an ordinary working day now.
  EXPECT_FALSE(denmark.IsHoliday(D(2024, 4, 26)));
  EXPECT_TRUE(denmark.IsWorkingDay(D(2024, 4, 26)));
}

TEST(CalendarTest, GivenDanishNonHolidays_WhenChecking_ThenWorkingDays) {
  const Calendar denmark = Denmark();
  EXPECT_TRUE(denmark.IsWorkingDay(D(2023, 6, 5)));    // Grundlovsdag, a Monday.
  EXPECT_TRUE(denmark.IsWorkingDay(D(2025, 12, 24)));  // Juleaften, a Wednesday.
  EXPECT_TRUE(denmark.IsWorkingDay(D(2024, 5, 1)));    // 1 May, a Wednesday.
  EXPECT_FALSE(denmark.IsWorkingDay(D(2024, 5, 4)));   // Saturday.
}

// ---- Working-day arithmetic ----

TEST(CalendarTest, GivenReferralFridayBeforePalmSunday_WhenAdding10WorkingDays_ThenAfterEaster) {
  // Friday 22 March 2024; skips Maundy Thursday, Good Friday and Easter Monday.
  EXPECT_EQ(Norway().AddWorkingDays(D(2024, 3, 22), 10), D(2024, 4, 10));
  // Saturdays 23 and 30 March and 6 April count when Saturday is a working day.
  EXPECT_EQ(NorwaySaturdayWorking().AddWorkingDays(D(2024, 3, 22), 10), D(2024, 4, 6));
  // 2025: Friday 11 April, Easter 17-21 April.
  EXPECT_EQ(Norway().AddWorkingDays(D(2025, 4, 11), 10), D(2025, 4, 30));
}

TEST(CalendarTest, GivenFriday_WhenAddingOneWorkingDay_ThenNextWorkingDay) {
  EXPECT_EQ(Norway().AddWorkingDays(D(2024, 3, 22), 1), D(2024, 3, 25));
  EXPECT_EQ(NorwaySaturdayWorking().AddWorkingDays(D(2024, 3, 22), 1), D(2024, 3, 23));
  EXPECT_EQ(Norway().AddWorkingDays(D(2024, 3, 22), 0), D(2024, 3, 22));
  EXPECT_EQ(Norway().AddWorkingDays(D(2024, 3, 23), 0), D(2024, 3, 23));  // Even on a Saturday.
  EXPECT_EQ(Norway().AddWorkingDays(D(2024, 3, 23), 1), D(2024, 3, 25));  // From a weekend.
}

TEST(CalendarTest,
     GivenReferralBeforeChristmas_WhenAddingWorkingDays_ThenSkipsChristmasAndNewYear) {
  const Calendar norway = Norway();
  EXPECT_EQ(norway.AddWorkingDays(D(2024, 12, 20), 5), D(2024, 12, 31));  // 24 Dec counts.
  EXPECT_EQ(norway.AddWorkingDays(D(2024, 12, 20), 6), D(2025, 1, 2));    // 1 Jan skipped.
  EXPECT_EQ(norway.AddWorkingDays(D(2024, 12, 20), 10), D(2025, 1, 8));
  EXPECT_EQ(NorwaySaturdayWorking().AddWorkingDays(D(2024, 12, 20), 10), D(2025, 1, 4));
}

TEST(CalendarTest, GivenReferralBefore17May_WhenAddingWorkingDays_ThenSkips17MayAndWhitMonday) {
  // 2024: 17 May is a Friday, Whit Monday 20 May.
  EXPECT_EQ(Norway().AddWorkingDays(D(2024, 5, 15), 3), D(2024, 5, 22));
  EXPECT_EQ(NorwaySaturdayWorking().AddWorkingDays(D(2024, 5, 15), 3), D(2024, 5, 21));
  // 2027: 17 May is also Whit Monday.
  EXPECT_EQ(Norway().AddWorkingDays(D(2027, 5, 14), 1), D(2027, 5, 18));
}

TEST(CalendarTest, GivenNegativeCount_WhenAddingWorkingDays_ThenCountsBackwards) {
  EXPECT_EQ(Norway().AddWorkingDays(D(2024, 4, 2), -1), D(2024, 3, 27));
  EXPECT_EQ(Norway().AddWorkingDays(D(2024, 4, 10), -10), D(2024, 3, 22));
}

TEST(CalendarTest, GivenTwoDates_WhenCountingWorkingDaysBetween_ThenSignedCount) {
  const Calendar norway = Norway();
  EXPECT_EQ(norway.WorkingDaysBetween(D(2024, 3, 22), D(2024, 4, 10)), 10);
  EXPECT_EQ(norway.WorkingDaysBetween(D(2024, 4, 10), D(2024, 3, 22)), -10);
  EXPECT_EQ(norway.WorkingDaysBetween(D(2024, 3, 22), D(2024, 3, 22)), 0);
  EXPECT_EQ(norway.WorkingDaysBetween(D(2024, 3, 23), D(2024, 3, 24)), 0);  // Weekend only.
  EXPECT_EQ(norway.WorkingDaysBetween(D(2024, 3, 27), D(2024, 4, 2)), 1);   // Easter.
  EXPECT_EQ(norway.WorkingDaysBetween(D(2024, 4, 2), D(2024, 3, 27)), -1);
  // (from, to]: `to` counts, `from` does not.
  EXPECT_EQ(norway.WorkingDaysBetween(D(2024, 3, 26), D(2024, 3, 27)), 1);
  EXPECT_EQ(norway.WorkingDaysBetween(D(2024, 3, 27), D(2024, 3, 26)), -1);
  // A whole year: 2024 has 366 days, 104 weekend days, 10 holidays on weekdays
  // (the other two, Easter Sunday and Whit Sunday, are Sundays).
  EXPECT_EQ(norway.WorkingDaysBetween(D(2023, 12, 31), D(2024, 12, 31)), 366 - 104 - 10);
}

TEST(CalendarTest, GivenManyStartDates_WhenComparingWithDayByDayWalk_ThenSameResults) {
  for (const Calendar& calendar : {Norway(), NorwaySaturdayWorking(), Denmark()}) {
    for (absl::CivilDay start = D(2023, 12, 1); start < D(2025, 2, 1); ++start) {
      for (int n : {-25, -10, -3, -1, 1, 2, 5, 10, 21, 40}) {
        const absl::CivilDay end = calendar.AddWorkingDays(start, n);
        ASSERT_EQ(end, NaiveAdd(calendar, start, n)) << calendar.id() << " " << start << " " << n;
        ASSERT_TRUE(calendar.IsWorkingDay(end)) << end;
        // Backwards from a non-working day, `start` itself is not among the days counted.
        const int expected = n < 0 && !calendar.IsWorkingDay(start) ? n + 1 : n;
        ASSERT_EQ(calendar.WorkingDaysBetween(start, end), expected) << start << " " << n;
        ASSERT_EQ(calendar.WorkingDaysBetween(end, start), -expected) << start << " " << n;
      }
    }
  }
}

TEST(CalendarTest, GivenLargeCount_WhenAddingWorkingDays_ThenSameAsDayByDayWalk) {
  const Calendar norway = Norway();
  for (int n : {250, 2500, 25000}) {
    const absl::CivilDay end = norway.AddWorkingDays(D(2024, 1, 1), n);
    EXPECT_EQ(end, NaiveAdd(norway, D(2024, 1, 1), n)) << n;
    EXPECT_EQ(norway.WorkingDaysBetween(D(2024, 1, 1), end), n);
    EXPECT_EQ(norway.WorkingDaysBetween(end, D(2024, 1, 1)), -n);
  }
}

TEST(CalendarTest, GivenDatesOutsideTheTableYears_WhenComputing_ThenSameRulesApply) {
  const Calendar denmark = Denmark();
  // Before 1900 and after 2199 the rules are computed directly.
  EXPECT_TRUE(denmark.IsHoliday(EasterSunday(1850) + 26));  // Store bededag existed then.
  EXPECT_FALSE(denmark.IsHoliday(EasterSunday(2300) + 26));
  EXPECT_TRUE(denmark.IsHoliday(D(2300, 12, 25)));
  EXPECT_EQ(denmark.HolidaysIn(2300).size(), 10u);
  // Across both ends of the table.
  for (const absl::CivilDay start : {D(1899, 12, 1), D(2199, 12, 1), D(1900, 1, 20)}) {
    for (int n : {-40, -5, 5, 40}) {
      const absl::CivilDay end = denmark.AddWorkingDays(start, n);
      ASSERT_EQ(end, NaiveAdd(denmark, start, n)) << start << " " << n;
      ASSERT_EQ(denmark.WorkingDaysBetween(start, end), NaiveBetween(denmark, start, end))
          << start << " " << n;
      ASSERT_EQ(denmark.WorkingDaysBetween(end, start), NaiveBetween(denmark, end, start))
          << start << " " << n;
      if (n > 0) {
        ASSERT_EQ(denmark.WorkingDaysBetween(start, end), n) << start << " " << n;
      }
    }
  }
  EXPECT_EQ(denmark.WorkingDaysBetween(D(1899, 6, 1), D(2200, 6, 1)),
            NaiveBetween(denmark, D(1899, 6, 1), D(2200, 6, 1)));
  EXPECT_EQ(denmark.WorkingDaysBetween(D(2250, 6, 1), D(2250, 1, 1)),
            NaiveBetween(denmark, D(2250, 6, 1), D(2250, 1, 1)));
}

TEST(CalendarTest, GivenHotPath_WhenAdding10WorkingDaysManyTimes_ThenWellUnderAMicrosecondEach) {
  const Calendar norway = Norway();
  constexpr int kCalls = 200000;
  absl::CivilDay day = D(2024, 1, 1);
  int64_t checksum = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kCalls; ++i) {
    checksum += norway.AddWorkingDays(day + (i % 1000), 10).day();
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const double ns_per_call =
      std::chrono::duration<double, std::nano>(elapsed).count() / static_cast<double>(kCalls);
  RecordProperty("ns_per_AddWorkingDays_10", static_cast<int>(ns_per_call));
  EXPECT_GT(checksum, 0);
  // Generous bound (shared CI machine): the brief asks for well under 1-2 us.
  EXPECT_LT(ns_per_call, 1000.0);
}

TEST(CalendarTest, GivenSharedCalendar_WhenUsedFromSeveralThreads_ThenSameAnswers) {
  const Calendar norway = Norway();
  const Calendar copy = norway;  // Copies share the tables.
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (absl::CivilDay day = D(2024, 1, 1); day < D(2026, 1, 1); ++day) {
        if (copy.AddWorkingDays(day, 10) != NaiveAdd(norway, day, 10)) ++mismatches[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(mismatches, ::testing::Each(0));
}

// ---- Spec validation ----

TEST(CalendarTest, GivenInvalidSpecs_WhenCreating_ThenInvalidArgument) {
  auto expect_invalid = [](CalendarSpec spec, const char* fragment) {
    absl::StatusOr<Calendar> calendar = Calendar::Create(std::move(spec));
    ASSERT_FALSE(calendar.ok()) << fragment;
    EXPECT_EQ(calendar.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(calendar.status().message()), HasSubstr(fragment));
  };
  CalendarSpec spec = NorwegianCalendarSpec(false);
  spec.id = "";
  expect_invalid(spec, "id must not be empty");
  spec = NorwegianCalendarSpec(false);
  spec.fixed_holidays.push_back({13, 1});
  expect_invalid(spec, "(13, 1) is not a date");
  spec = NorwegianCalendarSpec(false);
  spec.fixed_holidays.push_back({4, 31});
  expect_invalid(spec, "(4, 31) is not a date");
  spec = NorwegianCalendarSpec(false);
  spec.fixed_holidays.push_back({5, 17});
  expect_invalid(spec, "listed twice");
  spec = NorwegianCalendarSpec(false);
  spec.easter_offsets.push_back(300);
  expect_invalid(spec, "Easter offset 300 is outside");
  spec = NorwegianCalendarSpec(false);
  spec.non_working_weekdays = {absl::Weekday::monday,    absl::Weekday::tuesday,
                               absl::Weekday::wednesday, absl::Weekday::thursday,
                               absl::Weekday::friday,    absl::Weekday::saturday,
                               absl::Weekday::sunday};
  expect_invalid(spec, "every weekday is non-working");
  spec = NorwegianCalendarSpec(false);
  spec.removed = {{26, 2024}};
  expect_invalid(spec, "removed Easter offset 26 is not in easter_offsets");
}

TEST(CalendarTest, GivenLeapDayFixedHoliday_WhenListing_ThenOnlyInLeapYears) {
  CalendarSpec spec;
  spec.id = "TEST";
  spec.fixed_holidays = {{2, 29}};
  spec.non_working_weekdays = {absl::Weekday::sunday};
  const Calendar calendar = MakeCalendar(spec);
  EXPECT_THAT(calendar.HolidaysIn(2024), ElementsAre(D(2024, 2, 29)));
  EXPECT_TRUE(calendar.HolidaysIn(2025).empty());
  EXPECT_FALSE(calendar.IsHoliday(D(2025, 3, 1)));
}

// ---- Civil dates in a time zone ----

TEST(CalendarTest, GivenUtcJustBeforeMidnightInOslo_WhenTakingCivilDay_ThenOsloDate) {
  absl::TimeZone oslo;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/Oslo", &oslo));
  const absl::TimeZone utc = absl::UTCTimeZone();
  auto at = [&](int y, int mo, int d, int h, int mi) {
    return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, 0), utc);
  };
  // Winter (UTC+1): 23:30 UTC on 15 January is 00:30 on 16 January in Oslo.
  EXPECT_EQ(CivilDayIn(at(2024, 1, 15, 23, 30), oslo), D(2024, 1, 16));
  EXPECT_EQ(CivilDayIn(at(2024, 1, 15, 22, 59), oslo), D(2024, 1, 15));
  EXPECT_EQ(CivilDayIn(at(2024, 1, 15, 23, 30), utc), D(2024, 1, 15));
  // Summer (UTC+2): 22:30 UTC is already the next day.
  EXPECT_EQ(CivilDayIn(at(2024, 7, 15, 22, 30), oslo), D(2024, 7, 16));
  EXPECT_EQ(CivilDayIn(at(2024, 7, 15, 21, 59), oslo), D(2024, 7, 15));
}

TEST(CalendarTest, GivenDstChangeDays_WhenTakingCivilDay_ThenOffsetOfThatInstantUsed) {
  absl::TimeZone oslo;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/Oslo", &oslo));
  const absl::TimeZone utc = absl::UTCTimeZone();
  auto at = [&](int y, int mo, int d, int h, int mi) {
    return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, 0), utc);
  };
  // Spring forward at 01:00 UTC on 31 March 2024.
  EXPECT_EQ(CivilDayIn(at(2024, 3, 30, 23, 30), oslo), D(2024, 3, 31));  // 00:30 CET.
  EXPECT_EQ(CivilDayIn(at(2024, 3, 31, 21, 59), oslo), D(2024, 3, 31));  // 23:59 CEST.
  EXPECT_EQ(CivilDayIn(at(2024, 3, 31, 22, 30), oslo), D(2024, 4, 1));   // 00:30 CEST.
  // Fall back at 01:00 UTC on 27 October 2024.
  EXPECT_EQ(CivilDayIn(at(2024, 10, 26, 22, 30), oslo), D(2024, 10, 27));  // 00:30 CEST.
  EXPECT_EQ(CivilDayIn(at(2024, 10, 27, 22, 30), oslo), D(2024, 10, 27));  // 23:30 CET.
  EXPECT_EQ(CivilDayIn(at(2024, 10, 27, 23, 30), oslo), D(2024, 10, 28));  // 00:30 CET.
}

}  // namespace
}  // namespace clinical
