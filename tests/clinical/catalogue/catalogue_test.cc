#include "clinical/catalogue.h"

#include <cstdlib>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace clinical {
namespace {

namespace cv1 = ::catalogue::v1;
using ::es::testing::IsOk;
using ::es::testing::StatusIs;
using ::es::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

// ---- helpers ----

std::string SourceDir() {
  // ctest sets PATHWAYS_SOURCE_DIR; running the binary by hand falls back to the configured tree.
  if (const char* dir = std::getenv("PATHWAYS_SOURCE_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  return PATHWAYS_SOURCE_DIR_DEFAULT;
}

std::string ShippedDir() { return SourceDir() + "/catalogue"; }

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

std::string Message(const absl::Status& status) { return std::string(status.message()); }

PathwayCatalogue LoadOrDie(const std::vector<std::string>& dirs) {
  absl::StatusOr<PathwayCatalogue> catalogue = PathwayCatalogue::LoadDirectories(dirs);
  EXPECT_TRUE(catalogue.ok()) << catalogue.status();
  if (!catalogue.ok()) std::abort();
  return *std::move(catalogue);
}

const PathwayCatalogue& Shipped() {
  static const PathwayCatalogue* const kShipped = new PathwayCatalogue(LoadOrDie({ShippedDir()}));
  return *kShipped;
}

const cv1::RuleVersion& OnlyVersion(const PathwayCatalogue& catalogue, const std::string& type) {
  const cv1::PathwayType* found = catalogue.FindType(type);
  EXPECT_NE(found, nullptr) << type;
  if (found == nullptr || found->versions_size() != 1) std::abort();
  return found->versions(0);
}

// The one rule from `from` to `to` for `setting` (and `condition`); fails the test otherwise.
const cv1::DeadlineRule* RuleFor(const cv1::RuleVersion& version, const std::string& from,
                                 const std::string& to, cv1::Setting setting,
                                 const std::string& condition = "") {
  const cv1::DeadlineRule* found = nullptr;
  for (const cv1::DeadlineRule& rule : version.deadlines()) {
    if (rule.from_point() == from && rule.to_point() == to && rule.setting() == setting &&
        rule.condition() == condition) {
      EXPECT_EQ(found, nullptr) << "two rules " << from << " -> " << to;
      found = &rule;
    }
  }
  EXPECT_NE(found, nullptr) << "no rule " << from << " -> " << to << " setting "
                            << cv1::Setting_Name(setting) << " condition " << condition;
  return found;
}

int DaysOf(const cv1::DeadlineRule* rule) { return rule == nullptr ? -999 : rule->days(); }

// A small valid catalogue; tests break one thing in it.
// Not "pb": clang-format would reflow it, and the tests edit it line by line.
constexpr char kValid[] = R"txt(
calendars { id: "C" non_working_weekdays: "sunday" }
pathway_types {
  id: "T"
  versions {
    id: "v1"
    effective_from { year: 2020 month: 1 day: 1 }
    calendar: "C"
    points { id: "start" kind: START }
    points {
      id: "a"
      kind: FIRST_ATTENDANCE
      requires_any_of: "start"
    }
    deadlines {
      id: "r"
      from_point: "start"
      to_point: "a"
      days: 7
      day_kind: CALENDAR_DAYS
    }
  }
}
)txt";

// Replaces the first occurrence of `from` in `text`; the test fails if it is absent.
std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// 1-based line of the first line containing `marker`.
int LineOf(const std::string& text, const std::string& marker) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].find(marker) != std::string::npos) return static_cast<int>(i) + 1;
  }
  ADD_FAILURE() << "no line contains " << marker;
  return -1;
}

// ---- the shipped catalogue ----

TEST(ShippedCatalogueTest, GivenShippedDirectory_WhenLoaded_ThenHasAllEightTypesAndCalendars) {
  std::vector<std::string> ids;
  for (const cv1::PathwayType& type : Shipped().proto().pathway_types()) ids.push_back(type.id());
  EXPECT_THAT(ids, UnorderedElementsAre("NO_TSB", "NO_OCD", "NO_SPISEFORSTYRRELSER_BU",
                                        "NO_GRAVIDE_RUSMIDLER", "NO_PSYKOSE", "NO_VOKSNE",
                                        "NO_BARN_UNGE", "DK_PSYKIATRI_PAKKE_GENERIC"));
  EXPECT_NE(Shipped().FindCalendar("NO"), nullptr);
  EXPECT_NE(Shipped().FindCalendar("NO-SAT"), nullptr);
  EXPECT_NE(Shipped().FindCalendar("DK"), nullptr);
}

TEST(ShippedCatalogueTest, GivenTsb_ThenDeadlinesAreTheSourceValues) {
  const cv1::RuleVersion& tsb = OnlyVersion(Shipped(), "NO_TSB");
  EXPECT_EQ(Shipped().FindType("NO_TSB")->type_code().value(), "D01");
  EXPECT_EQ(DaysOf(RuleFor(tsb, "forste_fremmote", "klinisk_beslutning", cv1::OUTPATIENT)), 21);
  EXPECT_EQ(DaysOf(RuleFor(tsb, "forste_fremmote", "klinisk_beslutning", cv1::INPATIENT)), 7);
  const cv1::DeadlineRule* first_evaluation =
      RuleFor(tsb, "klinisk_beslutning", "evaluering", cv1::SETTING_UNSPECIFIED);
  EXPECT_EQ(DaysOf(first_evaluation), 7);
  ASSERT_NE(first_evaluation, nullptr);
  EXPECT_NE(first_evaluation->occurrence(), cv1::EACH);
  const cv1::DeadlineRule* between_outpatient =
      RuleFor(tsb, "evaluering", "evaluering", cv1::OUTPATIENT);
  const cv1::DeadlineRule* between_inpatient =
      RuleFor(tsb, "evaluering", "evaluering", cv1::INPATIENT);
  EXPECT_EQ(DaysOf(between_outpatient), 56);
  EXPECT_EQ(DaysOf(between_inpatient), 42);
  ASSERT_NE(between_outpatient, nullptr);
  ASSERT_NE(between_inpatient, nullptr);
  EXPECT_EQ(between_outpatient->occurrence(), cv1::EACH);
  EXPECT_EQ(between_inpatient->occurrence(), cv1::EACH);
  EXPECT_EQ(DaysOf(RuleFor(tsb, "avrusning_avsluttet", "annen_behandling_start", cv1::OUTPATIENT)),
            3);
  EXPECT_EQ(DaysOf(RuleFor(tsb, "avrusning_avsluttet", "annen_behandling_start", cv1::INPATIENT)),
            0);
  for (const cv1::DeadlineRule& rule : tsb.deadlines()) {
    EXPECT_EQ(rule.day_kind(), cv1::CALENDAR_DAYS) << rule.id();
    EXPECT_FALSE(rule.unconfirmed()) << rule.id();
    EXPECT_FALSE(rule.source().empty()) << rule.id();
  }
  EXPECT_EQ(tsb.legal_deadline_met_by(), "forste_fremmote");
  EXPECT_EQ(tsb.calendar(), "NO");
}

TEST(ShippedCatalogueTest, GivenTsb_ThenPointsCarryCodesOutcomesAndOrderRules) {
  const cv1::RuleVersion& tsb = OnlyVersion(Shipped(), "NO_TSB");
  const cv1::MeasurementPoint* decision = PathwayCatalogue::FindPoint(tsb, "klinisk_beslutning");
  ASSERT_NE(decision, nullptr);
  EXPECT_EQ(decision->kind(), cv1::CLINICAL_DECISION);
  EXPECT_EQ(decision->event_code().value(), "C");
  EXPECT_EQ(decision->max_occurrences(), 2);
  std::vector<std::string> outcomes;
  for (const cv1::Outcome& outcome : decision->outcomes()) outcomes.push_back(outcome.code());
  EXPECT_THAT(outcomes, UnorderedElementsAre("CU", "CP", "CT", "CS", "CK", "CA", "CI"));
  EXPECT_THAT(decision->requires_any_of(), UnorderedElementsAre("forste_fremmote"));

  const cv1::MeasurementPoint* feedback = PathwayCatalogue::FindPoint(tsb, "feedbackverktoy_brukt");
  ASSERT_NE(feedback, nullptr);
  EXPECT_EQ(feedback->event_code().value(), "U");
  ASSERT_EQ(feedback->outcomes_size(), 1);
  EXPECT_EQ(feedback->outcomes(0).code(), "F");
  EXPECT_EQ(feedback->max_occurrences(), 1);

  EXPECT_EQ(PathwayCatalogue::FindPoint(tsb, "pasientutsatt")->event_code().value(), "L");
  EXPECT_THAT(PathwayCatalogue::FindPoint(tsb, "annen_behandling_start")->requires_any_of(),
              UnorderedElementsAre("avrusning_avsluttet"));
  EXPECT_THAT(PathwayCatalogue::FindPoint(tsb, "evaluering")->requires_any_of(),
              UnorderedElementsAre("klinisk_beslutning"));
  EXPECT_THAT(PathwayCatalogue::FindPoint(tsb, "avslutning")->requires_any_of(),
              UnorderedElementsAre("start"));
  EXPECT_TRUE(PathwayCatalogue::FindPoint(tsb, "forste_fremmote")->event_code().unconfirmed());
  EXPECT_EQ(PathwayCatalogue::FindPoint(tsb, "no_such_point"), nullptr);
}

TEST(ShippedCatalogueTest, GivenOcd_ThenInternalReferralToAttendance42AndAttendanceToDecision56) {
  const cv1::RuleVersion& ocd = OnlyVersion(Shipped(), "NO_OCD");
  EXPECT_EQ(DaysOf(RuleFor(ocd, "intern_henvisning_mottatt_ocd_team", "forste_fremmote",
                           cv1::SETTING_UNSPECIFIED)),
            42);
  EXPECT_EQ(DaysOf(RuleFor(ocd, "forste_fremmote", "klinisk_beslutning", cv1::SETTING_UNSPECIFIED)),
            56);
  EXPECT_THAT(PathwayCatalogue::FindPoint(ocd, "forste_fremmote")->requires_any_of(),
              UnorderedElementsAre("intern_henvisning_mottatt_ocd_team"));
  EXPECT_TRUE(Shipped().FindType("NO_OCD")->type_code().unconfirmed());
}

TEST(ShippedCatalogueTest, GivenEatingDisorders_ThenStartToAttendanceDependsOnSeverity) {
  const cv1::RuleVersion& ed = OnlyVersion(Shipped(), "NO_SPISEFORSTYRRELSER_BU");
  EXPECT_EQ(
      DaysOf(RuleFor(ed, "start", "forste_fremmote", cv1::SETTING_UNSPECIFIED, "severity=severe")),
      7);
  EXPECT_EQ(DaysOf(RuleFor(ed, "start", "forste_fremmote", cv1::SETTING_UNSPECIFIED,
                           "severity=less_severe")),
            28);
  EXPECT_EQ(DaysOf(RuleFor(ed, "forste_fremmote", "klinisk_beslutning", cv1::OUTPATIENT)), 42);
  EXPECT_EQ(DaysOf(RuleFor(ed, "forste_fremmote", "klinisk_beslutning", cv1::INPATIENT)), 14);
  EXPECT_EQ(DaysOf(RuleFor(ed, "klinisk_beslutning", "evaluering", cv1::OUTPATIENT)), 28);
  EXPECT_EQ(DaysOf(RuleFor(ed, "klinisk_beslutning", "evaluering", cv1::INPATIENT)), 14);
  EXPECT_EQ(DaysOf(RuleFor(ed, "evaluering", "evaluering", cv1::OUTPATIENT)), 42);
  EXPECT_EQ(DaysOf(RuleFor(ed, "evaluering", "evaluering", cv1::INPATIENT)), 14);
}

TEST(ShippedCatalogueTest,
     GivenPregnantWomen_ThenInpatientDecisionUsesTheMaximumAndNotesTheMinimum) {
  const cv1::RuleVersion& preg = OnlyVersion(Shipped(), "NO_GRAVIDE_RUSMIDLER");
  const cv1::DeadlineRule* inpatient =
      RuleFor(preg, "forste_fremmote", "klinisk_beslutning", cv1::INPATIENT);
  ASSERT_NE(inpatient, nullptr);
  EXPECT_EQ(inpatient->days(), 7);
  EXPECT_THAT(inpatient->note(), HasSubstr("minimum 3"));
  EXPECT_EQ(DaysOf(RuleFor(preg, "avrusning_avsluttet", "annen_behandling_start",
                           cv1::SETTING_UNSPECIFIED)),
            0);
  EXPECT_EQ(DaysOf(RuleFor(preg, "evaluering", "evaluering", cv1::SETTING_UNSPECIFIED)), 42);
}

TEST(ShippedCatalogueTest, GivenValuesUnconfirmedInTheSource_ThenTheyAreMarkedUnconfirmed) {
  const cv1::DeadlineRule* adults = RuleFor(OnlyVersion(Shipped(), "NO_VOKSNE"), "forste_fremmote",
                                            "klinisk_beslutning", cv1::SETTING_UNSPECIFIED);
  ASSERT_NE(adults, nullptr);
  EXPECT_TRUE(adults->unconfirmed());
  EXPECT_THAT(adults->note(), HasSubstr("PLACEHOLDER"));
  const cv1::DeadlineRule* children =
      RuleFor(OnlyVersion(Shipped(), "NO_BARN_UNGE"), "forste_fremmote", "klinisk_beslutning",
              cv1::SETTING_UNSPECIFIED);
  ASSERT_NE(children, nullptr);
  EXPECT_TRUE(children->unconfirmed());
  const cv1::RuleVersion& psychosis = OnlyVersion(Shipped(), "NO_PSYKOSE");
  const cv1::DeadlineRule* preferably =
      RuleFor(psychosis, "start", "forste_fremmote", cv1::SETTING_UNSPECIFIED);
  ASSERT_NE(preferably, nullptr);
  EXPECT_EQ(preferably->days(), 7);
  EXPECT_FALSE(preferably->unconfirmed());
  EXPECT_TRUE(
      RuleFor(psychosis, "evaluering", "evaluering", cv1::SETTING_UNSPECIFIED)->unconfirmed());
  EXPECT_TRUE(Shipped().FindType("NO_PSYKOSE")->type_code().unconfirmed());
  EXPECT_EQ(Shipped().FindType("NO_PSYKOSE")->type_code().value(), "D06");

  // Every rule of the Norwegian types either is confirmed or says why it is not.
  for (const cv1::PathwayType& type : Shipped().proto().pathway_types()) {
    for (const cv1::RuleVersion& version : type.versions()) {
      for (const cv1::DeadlineRule& rule : version.deadlines()) {
        if (rule.unconfirmed()) {
          EXPECT_FALSE(rule.note().empty()) << type.id() << " " << rule.id();
        }
      }
    }
  }

  bool no_sat_unconfirmed = false;
  for (const cv1::CalendarDef& def : Shipped().proto().calendars()) {
    if (def.id() == "NO-SAT") no_sat_unconfirmed = def.unconfirmed();
  }
  EXPECT_TRUE(no_sat_unconfirmed);
}

TEST(ShippedCatalogueTest, GivenDenmark_ThenTheAssessmentRightWas60DaysUntilAugust2015Then30) {
  const PathwayCatalogue& catalogue = Shipped();
  absl::StatusOr<const cv1::RuleVersion*> in_2015 =
      catalogue.VersionInForce("DK_PSYKIATRI_PAKKE_GENERIC", absl::CivilDay(2015, 8, 31));
  absl::StatusOr<const cv1::RuleVersion*> later =
      catalogue.VersionInForce("DK_PSYKIATRI_PAKKE_GENERIC", absl::CivilDay(2015, 9, 1));
  ASSERT_THAT(in_2015, IsOk());
  ASSERT_THAT(later, IsOk());
  EXPECT_EQ(DaysOf(RuleFor(**in_2015, "henvist_til_udredning", "beslutning_behandling",
                           cv1::SETTING_UNSPECIFIED)),
            60);
  EXPECT_EQ(DaysOf(RuleFor(**later, "henvist_til_udredning", "beslutning_behandling",
                           cv1::SETTING_UNSPECIFIED)),
            30);
  EXPECT_EQ(PathwayCatalogue::FindPoint(**later, "behandling_start")->event_code().value(),
            "AFV01F");
  EXPECT_EQ((*later)->calendar(), "DK");
}

TEST(ShippedCatalogueTest, GivenShippedCalendars_ThenTheyMatchTheBuiltInSpecs) {
  struct Pair {
    const char* id;
    CalendarSpec spec;
  };
  for (const Pair& pair :
       {Pair{"NO", NorwegianCalendarSpec(false)}, Pair{"NO-SAT", NorwegianCalendarSpec(true)},
        Pair{"DK", DanishCalendarSpec()}}) {
    const Calendar* shipped = Shipped().FindCalendar(pair.id);
    ASSERT_NE(shipped, nullptr) << pair.id;
    absl::StatusOr<Calendar> built_in = Calendar::Create(pair.spec);
    ASSERT_THAT(built_in, IsOk());
    for (int year = 2019; year <= 2030; ++year) {
      EXPECT_EQ(shipped->HolidaysIn(year), built_in->HolidaysIn(year)) << pair.id << " " << year;
    }
    for (absl::CivilDay day(2024, 1, 1); day < absl::CivilDay(2025, 1, 1); ++day) {
      EXPECT_EQ(shipped->IsWorkingDay(day), built_in->IsWorkingDay(day)) << pair.id << " " << day;
    }
  }
  // Store bededag: a Danish holiday in 2023, not from 2024.
  EXPECT_TRUE(Shipped().FindCalendar("DK")->IsHoliday(absl::CivilDay(2023, 5, 5)));
  EXPECT_FALSE(Shipped().FindCalendar("DK")->IsHoliday(absl::CivilDay(2024, 4, 26)));
  // Saturday 2024-06-01 counts only in NO-SAT.
  EXPECT_FALSE(Shipped().FindCalendar("NO")->IsWorkingDay(absl::CivilDay(2024, 6, 1)));
  EXPECT_TRUE(Shipped().FindCalendar("NO-SAT")->IsWorkingDay(absl::CivilDay(2024, 6, 1)));
  EXPECT_EQ(Shipped().FindCalendar("nope"), nullptr);
}

TEST(ShippedCatalogueTest, GivenEveryVersion_ThenLegalDeadlineIsMetByAPointThatStartsCare) {
  for (const cv1::PathwayType& type : Shipped().proto().pathway_types()) {
    for (const cv1::RuleVersion& version : type.versions()) {
      const std::string expected =
          type.country() == "NO" ? "forste_fremmote" : std::string("udredning_start");
      EXPECT_EQ(version.legal_deadline_met_by(), expected) << type.id();
      EXPECT_FALSE(version.calendar().empty()) << type.id();
    }
  }
}

// ---- versions in force ----

constexpr char kTwoVersions[] = R"pb(
  calendars { id: "C" non_working_weekdays: "sunday" }
  pathway_types {
    id: "T"
    versions {
      id: "later"
      effective_from { year: 2024 month: 3 day: 1 }
      points { id: "start" kind: START }
    }
    versions {
      id: "earlier"
      effective_from { year: 2019 month: 1 day: 1 }
      points { id: "start" kind: START }
    }
  }
)pb";

PathwayCatalogue TwoVersions() {
  cv1::Catalogue proto;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(kTwoVersions, &proto));
  absl::StatusOr<PathwayCatalogue> catalogue = PathwayCatalogue::FromProto(proto, "two");
  EXPECT_THAT(catalogue, IsOk());
  if (!catalogue.ok()) std::abort();
  return *std::move(catalogue);
}

std::string VersionOn(const PathwayCatalogue& catalogue, absl::CivilDay day) {
  absl::StatusOr<const cv1::RuleVersion*> version = catalogue.VersionInForce("T", day);
  return version.ok() ? (*version)->id() : Message(version.status());
}

TEST(VersionInForceTest, GivenTwoVersions_WhenAskingByDate_ThenTheLatestEffectiveOnOrBefore) {
  const PathwayCatalogue catalogue = TwoVersions();
  EXPECT_EQ(VersionOn(catalogue, absl::CivilDay(2019, 1, 1)), "earlier");
  EXPECT_EQ(VersionOn(catalogue, absl::CivilDay(2024, 2, 29)), "earlier");
  EXPECT_EQ(VersionOn(catalogue, absl::CivilDay(2024, 3, 1)), "later");
  EXPECT_EQ(VersionOn(catalogue, absl::CivilDay(2030, 1, 1)), "later");
}

TEST(VersionInForceTest, GivenADateBeforeEveryVersion_ThenNotFoundNamingTheType) {
  const PathwayCatalogue catalogue = TwoVersions();
  absl::StatusOr<const cv1::RuleVersion*> version =
      catalogue.VersionInForce("T", absl::CivilDay(2018, 12, 31));
  EXPECT_THAT(version, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Message(version.status()), HasSubstr("T"));
  EXPECT_THAT(Message(version.status()), HasSubstr("2018-12-31"));
}

TEST(VersionInForceTest, GivenAnUnknownType_ThenNotFoundNamingIt) {
  absl::StatusOr<const cv1::RuleVersion*> version =
      TwoVersions().VersionInForce("NO_SUCH_TYPE", absl::CivilDay(2024, 1, 1));
  EXPECT_THAT(version, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Message(version.status()), HasSubstr("NO_SUCH_TYPE"));
}

TEST(VersionInForceTest, GivenIds_WhenFindingVersionsAndTypes_ThenNullForUnknown) {
  const PathwayCatalogue catalogue = TwoVersions();
  ASSERT_NE(catalogue.FindVersion("T", "earlier"), nullptr);
  EXPECT_EQ(catalogue.FindVersion("T", "earlier")->effective_from().year(), 2019);
  EXPECT_EQ(catalogue.FindVersion("T", "nope"), nullptr);
  EXPECT_EQ(catalogue.FindVersion("U", "earlier"), nullptr);
  EXPECT_EQ(catalogue.FindType("U"), nullptr);
}

TEST(VersionInForceTest, GivenACopy_WhenTheOriginalIsGone_ThenPointersStayValid) {
  const cv1::PathwayType* type = nullptr;
  std::unique_ptr<PathwayCatalogue> copy;
  {
    const PathwayCatalogue original = TwoVersions();
    copy = std::make_unique<PathwayCatalogue>(original);
    type = original.FindType("T");
  }
  EXPECT_EQ(copy->FindType("T"), type);
  EXPECT_EQ(type->id(), "T");
}

// ---- directories and overrides ----

TEST(LoadDirectoriesTest, GivenAnOverrideDirectory_WhenLoadedAfter_ThenItsTypeReplacesTheDefault) {
  TempDir hospital;
  const std::string override_text =
      Replace(Replace(Replace(kValid, "id: \"T\"", "id: \"NO_TSB\" name: \"Hospital TSB\""),
                      "calendar: \"C\"", "calendar: \"NO\""),
              "calendars { id: \"C\" non_working_weekdays: \"sunday\" }", "");
  WriteFile(hospital.Sub("tsb.textproto"), override_text);
  WriteFile(hospital.Sub("README.md"), "not a catalogue file");

  const PathwayCatalogue catalogue = LoadOrDie({ShippedDir(), hospital.path()});
  const cv1::PathwayType* tsb = catalogue.FindType("NO_TSB");
  ASSERT_NE(tsb, nullptr);
  EXPECT_EQ(tsb->name(), "Hospital TSB");
  ASSERT_EQ(tsb->versions_size(), 1);
  EXPECT_EQ(tsb->versions(0).deadlines_size(), 1);
  EXPECT_EQ(catalogue.proto().pathway_types_size(), 8);
  EXPECT_NE(catalogue.FindType("NO_OCD"), nullptr);

  // The other order keeps the shipped default.
  const PathwayCatalogue reversed = LoadOrDie({hospital.path(), ShippedDir()});
  EXPECT_EQ(reversed.FindType("NO_TSB")->versions(0).deadlines_size(),
            Shipped().FindType("NO_TSB")->versions(0).deadlines_size());
}

TEST(LoadDirectoriesTest, GivenAnOverriddenCalendar_ThenVersionsUseTheReplacement) {
  TempDir hospital;
  WriteFile(hospital.Sub("calendars.textproto"),
            "calendars { id: \"NO\" non_working_weekdays: \"sunday\" }");
  const PathwayCatalogue catalogue = LoadOrDie({ShippedDir(), hospital.path()});
  // Saturday 2024-06-01 is now a working day, and 17 May no longer a holiday.
  EXPECT_TRUE(catalogue.FindCalendar("NO")->IsWorkingDay(absl::CivilDay(2024, 6, 1)));
  EXPECT_FALSE(catalogue.FindCalendar("NO")->IsHoliday(absl::CivilDay(2024, 5, 17)));
  EXPECT_EQ(catalogue.proto().calendars_size(), 3);
}

TEST(LoadDirectoriesTest, GivenTwoFilesWithOneId_ThenTheLaterFileByNameWins) {
  TempDir dir;
  WriteFile(dir.Sub("b.textproto"), Replace(kValid, "id: \"T\"", "id: \"T\" name: \"from b\""));
  WriteFile(dir.Sub("a.textproto"), Replace(kValid, "id: \"T\"", "id: \"T\" name: \"from a\""));
  const PathwayCatalogue catalogue = LoadOrDie({dir.path()});
  EXPECT_EQ(catalogue.FindType("T")->name(), "from b");
  EXPECT_EQ(catalogue.proto().pathway_types_size(), 1);
}

TEST(LoadDirectoriesTest, GivenACalendarDefinedInALaterDirectory_ThenVersionsMayNameIt) {
  TempDir types;
  TempDir calendars;
  WriteFile(types.Sub("t.textproto"),
            Replace(kValid, "calendars { id: \"C\" non_working_weekdays: \"sunday\" }", ""));
  WriteFile(calendars.Sub("c.textproto"), "calendars { id: \"C\" }");
  EXPECT_THAT(PathwayCatalogue::LoadDirectories({types.path(), calendars.path()}), IsOk());
}

TEST(LoadDirectoriesTest, GivenAMissingDirectory_ThenNotFound) {
  TempDir dir;
  EXPECT_THAT(PathwayCatalogue::LoadDirectories({dir.Sub("absent")}),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(LoadDirectoriesTest, GivenAnEmptyDirectory_ThenAnEmptyCatalogue) {
  TempDir dir;
  absl::StatusOr<PathwayCatalogue> catalogue = PathwayCatalogue::LoadDirectories({dir.path()});
  ASSERT_THAT(catalogue, IsOk());
  EXPECT_EQ(catalogue->proto().pathway_types_size(), 0);
}

// ---- validation errors: each names file, line and field ----

struct BrokenCase {
  const char* name;
  std::string text;     // the file; the line the error must name contains "#!"
  std::string path;     // the field path the message must name
  std::string problem;  // a fragment of the problem
};

std::vector<BrokenCase> BrokenCases() {
  const std::string v = kValid;
  return {
      {"EmptyTypeId", Replace(v, "id: \"T\"", "id: \"\"  #!"), "pathway_types[0].id", "empty"},
      {"DuplicateTypeId",
       v + "pathway_types {\n id: \"T\"  #!\n versions { id: \"v\" "
           "effective_from { year: 2020 month: 1 day: 1 } "
           "points { id: \"s\" kind: START } } }\n",
       "pathway_types[1].id", "duplicate pathway type id \"T\""},
      {"TypeWithoutVersions", v + "pathway_types { id: \"U\" }  #!\n", "pathway_types[1]",
       "no rule version"},
      {"EmptyVersionId", Replace(v, "id: \"v1\"", "id: \"\"  #!"),
       "pathway_types[0].versions[0].id", "empty"},
      {"DuplicateVersionId",
       Replace(v, "  versions {\n    id: \"v1\"",
               "  versions { id: \"v1\" effective_from { year: 2021 month: 1 day: 1 }\n"
               "    points { id: \"start\" kind: START } }\n  versions {\n    id: \"v1\"  #!"),
       "pathway_types[0].versions[1].id", "duplicate version id \"v1\""},
      {"SameEffectiveDate",
       Replace(Replace(v, "day: 1 }\n", "day: 1 }  #!\n"), "  versions {\n    id: \"v1\"",
               "  versions { id: \"v0\" effective_from { year: 2020 month: 1 day: 1 }\n"
               "    points { id: \"start\" kind: START } }\n  versions {\n    id: \"v1\""),
       "pathway_types[0].versions[1].effective_from", "same effective date"},
      {"ImpossibleEffectiveDate",
       Replace(v, "effective_from { year: 2020 month: 1 day: 1 }",
               "effective_from { year: 2023 month: 2 day: 29 }  #!"),
       "pathway_types[0].versions[0].effective_from", "2023-02-29 is not a real date"},
      {"MissingEffectiveDate",
       Replace(Replace(v, "effective_from { year: 2020 month: 1 day: 1 }", ""), "  versions {",
               "  versions {  #!"),
       "pathway_types[0].versions[0].effective_from", "missing"},
      {"EmptyPointId", Replace(v, "points { id: \"start\"", "points { id: \"\"  #!\n"),
       "pathway_types[0].versions[0].points[0].id", "empty"},
      {"DuplicatePointId", Replace(v, "      id: \"a\"", "      id: \"start\"  #!"),
       "pathway_types[0].versions[0].points[1].id", "duplicate point id \"start\""},
      {"NoStartPoint",
       Replace(Replace(v, "kind: START", "kind: EVALUATION"), "  versions {", "  versions {  #!"),
       "pathway_types[0].versions[0]", "no point of kind START"},
      {"TwoStartPoints", Replace(v, "kind: FIRST_ATTENDANCE", "kind: START  #!"),
       "pathway_types[0].versions[0].points[1].kind", "second START"},
      {"EmptyOutcomeCode",
       Replace(v, "kind: FIRST_ATTENDANCE", "kind: FIRST_ATTENDANCE\n outcomes { code: \"\" }  #!"),
       "pathway_types[0].versions[0].points[1].outcomes[0].code", "empty"},
      {"DuplicateOutcomeCode",
       Replace(v, "kind: FIRST_ATTENDANCE",
               "kind: FIRST_ATTENDANCE\n outcomes { code: \"X\" }\n outcomes { code: \"X\" }  #!"),
       "pathway_types[0].versions[0].points[1].outcomes[1].code", "duplicate outcome code \"X\""},
      {"RequiresUnknownPoint",
       Replace(v, "requires_any_of: \"start\"", "requires_any_of: \"nowhere\"  #!"),
       "pathway_types[0].versions[0].points[1].requires_any_of[0]", "\"nowhere\" is not a point"},
      {"RequiresItself", Replace(v, "requires_any_of: \"start\"", "requires_any_of: \"a\"  #!"),
       "pathway_types[0].versions[0].points[1].requires_any_of[0]", "cannot require itself"},
      {"NegativeMaxOccurrences",
       Replace(v, "kind: FIRST_ATTENDANCE", "kind: FIRST_ATTENDANCE max_occurrences: -1  #!"),
       "pathway_types[0].versions[0].points[1].max_occurrences", ">= 0"},
      {"EmptyRuleId", Replace(v, "id: \"r\"", "id: \"\"  #!"),
       "pathway_types[0].versions[0].deadlines[0].id", "empty"},
      {"DuplicateRuleId",
       Replace(v, "      day_kind: CALENDAR_DAYS\n    }",
               "      day_kind: CALENDAR_DAYS\n    }\n    deadlines { id: \"r\"  #!\n"
               "      from_point: \"start\" to_point: \"a\" day_kind: CALENDAR_DAYS }"),
       "pathway_types[0].versions[0].deadlines[1].id", "duplicate deadline rule id \"r\""},
      {"UnknownFromPoint", Replace(v, "from_point: \"start\"", "from_point: \"begin\"  #!"),
       "pathway_types[0].versions[0].deadlines[0].from_point", "\"begin\" is not a point"},
      {"UnknownToPoint", Replace(v, "to_point: \"a\"", "to_point: \"b\"  #!"),
       "pathway_types[0].versions[0].deadlines[0].to_point", "\"b\" is not a point"},
      {"NegativeDays", Replace(v, "days: 7", "days: -1  #!"),
       "pathway_types[0].versions[0].deadlines[0].days", "-1 is negative"},
      {"DayKindNotSet",
       Replace(Replace(v, "day_kind: CALENDAR_DAYS", ""), "    deadlines {", "    deadlines {  #!"),
       "pathway_types[0].versions[0].deadlines[0].day_kind", "CALENDAR_DAYS or WORKING_DAYS"},
      {"WorkingDaysWithoutCalendar",
       Replace(Replace(v, "calendar: \"C\"", ""), "day_kind: CALENDAR_DAYS",
               "day_kind: WORKING_DAYS  #!"),
       "pathway_types[0].versions[0].deadlines[0].day_kind", "needs the version's calendar"},
      {"MalformedCondition", Replace(v, "days: 7", "days: 7\n condition: \"severe\"  #!"),
       "pathway_types[0].versions[0].deadlines[0].condition", "not \"name=value\""},
      {"UnknownCalendar", Replace(v, "calendar: \"C\"", "calendar: \"XX\"  #!"),
       "pathway_types[0].versions[0].calendar", "\"XX\" is not a calendar"},
      {"LegalDeadlineMetByUnknownPoint",
       Replace(v, "calendar: \"C\"", "calendar: \"C\"\n legal_deadline_met_by: \"care\"  #!"),
       "pathway_types[0].versions[0].legal_deadline_met_by", "\"care\" is not a point"},
      {"EmptyCalendarId", Replace(v, "calendars { id: \"C\"", "calendars { id: \"\"  #!\n"),
       "calendars[0].id", "empty"},
      {"DuplicateCalendarId", v + "calendars { id: \"C\" }  #!\n", "calendars[1].id",
       "duplicate calendar id \"C\""},
      {"BadFixedHoliday",
       Replace(v, "non_working_weekdays: \"sunday\"",
               "non_working_weekdays: \"sunday\"\n fixed_holidays: \"01-01\"\n"
               " fixed_holidays: \"02-30\"  #!\n"),
       "calendars[0].fixed_holidays[1]", "\"02-30\" is not a valid \"MM-DD\""},
      {"BadFixedHolidayInAList",
       Replace(v, "non_working_weekdays: \"sunday\"",
               "non_working_weekdays: \"sunday\"\n fixed_holidays: [\"01-01\", \"1-1\"]  #!\n"),
       "calendars[0].fixed_holidays[1]", "\"1-1\" is not a valid \"MM-DD\""},
      {"BadWeekday",
       Replace(v, "non_working_weekdays: \"sunday\"", "non_working_weekdays: \"Sunday\"  #!\n"),
       "calendars[0].non_working_weekdays[0]", "\"Sunday\" is not a weekday"},
      {"RemovedOffsetNotListed",
       Replace(v, "non_working_weekdays: \"sunday\"",
               "non_working_weekdays: \"sunday\"\n easter_offsets: 1\n"
               " removed { easter_offset: 26 from_year: 2024 }  #!\n"),
       "calendars[0].removed[0].easter_offset", "26 is not one of the easter_offsets"},
  };
}

class BrokenFileTest : public ::testing::TestWithParam<BrokenCase> {};

TEST_P(BrokenFileTest, GivenABrokenFile_WhenLoaded_ThenTheErrorNamesFileLineAndField) {
  const BrokenCase& broken = GetParam();
  TempDir dir;
  const std::string file = dir.Sub("broken.textproto");
  WriteFile(file, broken.text);
  absl::StatusOr<PathwayCatalogue> catalogue = PathwayCatalogue::LoadDirectories({dir.path()});
  ASSERT_THAT(catalogue, StatusIs(absl::StatusCode::kInvalidArgument)) << broken.text;
  const std::string message = Message(catalogue.status());
  const std::string first_line = message.substr(0, message.find('\n'));
  const std::string expected_prefix = absl::StrCat(file, ":", LineOf(broken.text, "#!"), ":");
  EXPECT_EQ(first_line.rfind(expected_prefix, 0), 0u)
      << "message: " << message << "\nexpected prefix: " << expected_prefix;
  EXPECT_THAT(first_line, HasSubstr(absl::StrCat(": ", broken.path, ": ")));
  EXPECT_THAT(first_line, HasSubstr(broken.problem));
}

INSTANTIATE_TEST_SUITE_P(EveryRule, BrokenFileTest, ::testing::ValuesIn(BrokenCases()),
                         [](const ::testing::TestParamInfo<BrokenCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(ErrorMessageTest, GivenTheValidBase_ThenItLoads) {
  TempDir dir;
  WriteFile(dir.Sub("valid.textproto"), kValid);
  EXPECT_THAT(PathwayCatalogue::LoadDirectories({dir.path()}), IsOk());
}

TEST(ErrorMessageTest, GivenTheFullMessage_ThenItHasTheDocumentedFormat) {
  TempDir dir;
  const std::string file = dir.Sub("x.textproto");
  WriteFile(file, Replace(kValid, "days: 7", "days: -1"));
  absl::StatusOr<PathwayCatalogue> catalogue = PathwayCatalogue::LoadDirectories({dir.path()});
  ASSERT_FALSE(catalogue.ok());
  EXPECT_EQ(Message(catalogue.status()),
            absl::StrCat(file, ":", LineOf(kValid, "days: 7"),
                         ":7: pathway_types[0].versions[0].deadlines[0].days: -1 is negative"));
}

TEST(ErrorMessageTest, GivenSeveralErrors_ThenEachIsReportedOnItsOwnLine) {
  TempDir dir;
  WriteFile(dir.Sub("x.textproto"),
            Replace(Replace(kValid, "days: 7", "days: -1"), "to_point: \"a\"", "to_point: \"b\""));
  absl::StatusOr<PathwayCatalogue> catalogue = PathwayCatalogue::LoadDirectories({dir.path()});
  ASSERT_FALSE(catalogue.ok());
  std::vector<std::string> lines = absl::StrSplit(Message(catalogue.status()), '\n');
  ASSERT_EQ(lines.size(), 2u) << catalogue.status();
  EXPECT_THAT(lines[0], HasSubstr("deadlines[0].to_point"));
  EXPECT_THAT(lines[1], HasSubstr("deadlines[0].days"));
}

TEST(ErrorMessageTest, GivenAnUnknownCalendarInAnotherFile_ThenTheErrorNamesTheTypesFile) {
  TempDir dir;
  WriteFile(dir.Sub("a_calendars.textproto"), "calendars { id: \"C\" }");
  const std::string text = Replace(Replace(kValid,
                                           "calendars { id: \"C\" non_working_weekdays: "
                                           "\"sunday\" }",
                                           ""),
                                   "calendar: \"C\"", "calendar: \"D\"");
  WriteFile(dir.Sub("b_types.textproto"), text);
  absl::StatusOr<PathwayCatalogue> catalogue = PathwayCatalogue::LoadDirectories({dir.path()});
  ASSERT_FALSE(catalogue.ok());
  EXPECT_THAT(Message(catalogue.status()),
              HasSubstr(absl::StrCat(dir.Sub("b_types.textproto"), ":",
                                     LineOf(text, "calendar: \"D\""), ":")));
  EXPECT_THAT(Message(catalogue.status()), HasSubstr("(known: C)"));
}

// ---- syntax errors ----

TEST(SyntaxErrorTest, GivenAnUnknownField_ThenTheErrorNamesLineAndField) {
  TempDir dir;
  const std::string file = dir.Sub("x.textproto");
  const std::string text = Replace(kValid, "days: 7", "dayz: 7");
  WriteFile(file, text);
  absl::StatusOr<PathwayCatalogue> catalogue = PathwayCatalogue::LoadDirectories({dir.path()});
  ASSERT_THAT(catalogue, StatusIs(absl::StatusCode::kInvalidArgument));
  const std::string message = Message(catalogue.status());
  EXPECT_EQ(message.rfind(absl::StrCat(file, ":", LineOf(text, "dayz"), ":"), 0), 0u) << message;
  EXPECT_THAT(message, HasSubstr("pathway_types[0].versions[0].deadlines[0].dayz"));
  EXPECT_THAT(message, HasSubstr("dayz"));
}

TEST(SyntaxErrorTest, GivenAWrongValue_ThenTheErrorNamesLineAndField) {
  TempDir dir;
  const std::string file = dir.Sub("x.textproto");
  const std::string text = Replace(kValid, "days: 7", "days: seven");
  WriteFile(file, text);
  absl::StatusOr<PathwayCatalogue> catalogue = PathwayCatalogue::LoadDirectories({dir.path()});
  ASSERT_THAT(catalogue, StatusIs(absl::StatusCode::kInvalidArgument));
  const std::string message = Message(catalogue.status());
  EXPECT_EQ(message.rfind(absl::StrCat(file, ":", LineOf(text, "seven"), ":"), 0), 0u) << message;
  EXPECT_THAT(message, HasSubstr("pathway_types[0].versions[0].deadlines[0].days: "));
}

TEST(SyntaxErrorTest, GivenAnUnknownEnumValue_ThenTheErrorNamesLineAndField) {
  TempDir dir;
  const std::string file = dir.Sub("x.textproto");
  const std::string text = Replace(kValid, "kind: FIRST_ATTENDANCE", "kind: FIRST_VISIT");
  WriteFile(file, text);
  absl::StatusOr<PathwayCatalogue> catalogue = PathwayCatalogue::LoadDirectories({dir.path()});
  ASSERT_THAT(catalogue, StatusIs(absl::StatusCode::kInvalidArgument));
  const std::string message = Message(catalogue.status());
  EXPECT_EQ(message.rfind(absl::StrCat(file, ":", LineOf(text, "FIRST_VISIT"), ":"), 0), 0u)
      << message;
  EXPECT_THAT(message, HasSubstr("pathway_types[0].versions[0].points[1].kind: "));
  EXPECT_THAT(message, HasSubstr("FIRST_VISIT"));
}

TEST(SyntaxErrorTest, GivenAnUnclosedMessage_ThenTheErrorNamesALine) {
  TempDir dir;
  const std::string file = dir.Sub("x.textproto");
  WriteFile(file, "calendars { id: \"C\"\npathway_types { id: \"T\" }\n");
  absl::StatusOr<PathwayCatalogue> catalogue = PathwayCatalogue::LoadDirectories({dir.path()});
  ASSERT_THAT(catalogue, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(
      std::regex_search(Message(catalogue.status()),
                        std::regex("^" + std::regex_replace(file, std::regex("[.]"), "\\.") +
                                   ":[0-9]+:[0-9]+: calendars\\[0\\]")))
      << catalogue.status();
}

TEST(SyntaxErrorTest, GivenTheSecondFileBroken_ThenTheErrorNamesThatFile) {
  TempDir dir;
  WriteFile(dir.Sub("a.textproto"), kValid);
  WriteFile(dir.Sub("b.textproto"), "pathway_types { id: \"U\" versions { idd: \"v\" } }");
  absl::StatusOr<PathwayCatalogue> catalogue = PathwayCatalogue::LoadDirectories({dir.path()});
  ASSERT_FALSE(catalogue.ok());
  EXPECT_THAT(Message(catalogue.status()), HasSubstr(absl::StrCat(dir.Sub("b.textproto"), ":1:")));
  EXPECT_THAT(Message(catalogue.status()), HasSubstr("pathway_types[0].versions[0].idd"));
}

// ---- in-memory catalogues ----

TEST(FromProtoTest, GivenAnInvalidCatalogue_ThenTheErrorNamesOriginAndField) {
  cv1::Catalogue proto;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      Replace(kValid, "to_point: \"a\"", "to_point: \"b\""), &proto));
  absl::StatusOr<PathwayCatalogue> catalogue = PathwayCatalogue::FromProto(proto, "in-memory");
  ASSERT_THAT(catalogue, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(Message(catalogue.status()),
            "in-memory: pathway_types[0].versions[0].deadlines[0].to_point: \"b\" is not a point "
            "of this version");
}

TEST(FromProtoTest, GivenAValidCatalogue_ThenCalendarsAreBuilt) {
  cv1::Catalogue proto;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(kValid, &proto));
  absl::StatusOr<PathwayCatalogue> catalogue = PathwayCatalogue::FromProto(proto, "in-memory");
  ASSERT_THAT(catalogue, IsOk());
  ASSERT_NE(catalogue->FindCalendar("C"), nullptr);
  EXPECT_TRUE(catalogue->FindCalendar("C")->IsWorkingDay(absl::CivilDay(2024, 6, 1)));
  EXPECT_FALSE(catalogue->FindCalendar("C")->IsWorkingDay(absl::CivilDay(2024, 6, 2)));
}

}  // namespace
}  // namespace clinical
