#include "services/pathway/domain/deadline_engine.h"

#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "clinical/calendar.h"
#include "clinical/catalogue.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/eventing/proto_time.h"
#include "tests/support/equals_proto.h"

// The deadline engine on its own: due dates (calendar and working days across Norwegian
// holidays), which rules apply, and how the timeline opens, meets, cancels and attributes
// deadlines. Rules come from a small rule version written here, so each case names its numbers.

namespace pathway::domain {
namespace {

using ::catalogue::v1::DeadlineRule;
using ::catalogue::v1::INPATIENT;
using ::catalogue::v1::OUTPATIENT;
using ::catalogue::v1::RuleVersion;
using ::es::testing::EqualsProto;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using Day = absl::CivilDay;
using Conditions = google::protobuf::Map<std::string, std::string>;

constexpr char kId[] = "pw-9";

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "%s\n", what.c_str());
  std::abort();
}

std::string SourceDir() {
  if (const char* dir = std::getenv("PATHWAYS_SOURCE_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  return PATHWAYS_SOURCE_DIR_DEFAULT;
}

// Norway with Saturday off, as clinical::NorwegianCalendarSpec builds it.
const clinical::Calendar& Norway() {
  static const clinical::Calendar* const calendar = [] {
    absl::StatusOr<clinical::Calendar> c =
        clinical::Calendar::Create(clinical::NorwegianCalendarSpec(false));
    if (!c.ok()) Die(c.status().ToString());
    return new clinical::Calendar(*std::move(c));
  }();
  return *calendar;
}

// The shipped catalogue (its "NO" calendar is what rule versions actually use).
const clinical::PathwayCatalogue& Shipped() {
  static const clinical::PathwayCatalogue* const catalogue = [] {
    auto c = clinical::PathwayCatalogue::LoadDirectories({SourceDir() + "/catalogue"});
    if (!c.ok()) Die(c.status().ToString());
    return new clinical::PathwayCatalogue(*std::move(c));
  }();
  return *catalogue;
}

constexpr char kRules[] = R"pb(
  id: "v1"
  effective_from { year: 2020 month: 1 day: 1 }
  calendar: "NO"
  legal_deadline_met_by: "first"
  points { id: "start" kind: START }
  points { id: "first" kind: FIRST_ATTENDANCE }
  points { id: "decision" kind: CLINICAL_DECISION }
  points { id: "eval" kind: EVALUATION }
  points { id: "postponed" kind: PATIENT_POSTPONED }
  deadlines {
    id: "first-decision.out"
    from_point: "first"
    to_point: "decision"
    days: 21
    day_kind: CALENDAR_DAYS
    setting: OUTPATIENT
    occurrence: FIRST
  }
  deadlines {
    id: "first-decision.in"
    from_point: "first"
    to_point: "decision"
    days: 7
    day_kind: CALENDAR_DAYS
    setting: INPATIENT
    occurrence: FIRST
  }
  deadlines {
    id: "decision-eval"
    from_point: "decision"
    to_point: "eval"
    days: 7
    day_kind: CALENDAR_DAYS
  }
  deadlines {
    id: "eval-eval"
    from_point: "eval"
    to_point: "eval"
    days: 56
    day_kind: CALENDAR_DAYS
    occurrence: EACH
  }
  deadlines {
    id: "start-first.fast"
    from_point: "start"
    to_point: "first"
    days: 10
    day_kind: WORKING_DAYS
    condition: "track=fast"
    unconfirmed: true
  }
)pb";

const RuleVersion& Rules() {
  static const RuleVersion* const rules = [] {
    auto* v = new RuleVersion;
    if (!google::protobuf::TextFormat::ParseFromString(kRules, v)) Die("rules do not parse");
    return v;
  }();
  return *rules;
}

const DeadlineRule& RuleNamed(const std::string& id) {
  for (const DeadlineRule& r : Rules().deadlines()) {
    if (r.id() == id) return r;
  }
  Die("no rule " + id);
}

DeadlineRule WorkingDays(int days) {
  DeadlineRule r;
  r.set_id("wd");
  r.set_days(days);
  r.set_day_kind(catalogue::v1::WORKING_DAYS);
  return r;
}

EffectivePoint P(std::string id, catalogue::v1::PointKind kind, Day date, int64_t version) {
  return EffectivePoint{std::move(id), kind, date, "", version};
}
EffectivePoint Start(Day d, int64_t v = 1) { return P("start", catalogue::v1::START, d, v); }
EffectivePoint First(Day d, int64_t v) { return P("first", catalogue::v1::FIRST_ATTENDANCE, d, v); }
EffectivePoint Decision(Day d, int64_t v) {
  return P("decision", catalogue::v1::CLINICAL_DECISION, d, v);
}
EffectivePoint Eval(Day d, int64_t v) { return P("eval", catalogue::v1::EVALUATION, d, v); }
EffectivePoint Postponed(Day d, int64_t v) {
  return P("postponed", catalogue::v1::PATIENT_POSTPONED, d, v);
}

DeadlineInputs Inputs(std::vector<EffectivePoint> points,
                      catalogue::v1::Setting setting = OUTPATIENT) {
  DeadlineInputs in;
  in.pathway_id = kId;
  in.rules = &Rules();
  in.calendar = &Norway();
  in.setting = setting;
  in.points = std::move(points);
  return in;
}

std::vector<std::string> Ids(const std::vector<v1::Deadline>& deadlines) {
  std::vector<std::string> ids;
  for (const v1::Deadline& d : deadlines) ids.push_back(d.deadline_id());
  return ids;
}

const v1::Deadline& Named(const std::vector<v1::Deadline>& deadlines, const std::string& id) {
  for (const v1::Deadline& d : deadlines) {
    if (d.deadline_id() == id) return d;
  }
  ADD_FAILURE() << "no deadline " << id << " in " << ::testing::PrintToString(Ids(deadlines));
  static const v1::Deadline* const none = new v1::Deadline;
  return *none;
}

std::string Status(const v1::Deadline& d) { return v1::DeadlineStatus_Name(d.status()); }
Day Opened(const v1::Deadline& d) { return es::FromProtoDate(d.opened_on()); }
Day Due(const v1::Deadline& d) { return es::FromProtoDate(d.due_date()); }
Day Closed(const v1::Deadline& d) { return es::FromProtoDate(d.closed_on()); }

constexpr Day kFirst(2026, 3, 9);

// ===============================================================================================
// DueDate
// ===============================================================================================

TEST(DeadlineEngine, DueDate_CalendarDays_AddsDaysIgnoringHolidays) {
  // 21 calendar days from Fri 27 Mar 2026 run straight through Easter.
  EXPECT_EQ(DueDate(RuleNamed("first-decision.out"), Day(2026, 3, 27), &Norway()),
            Day(2026, 4, 17));
  EXPECT_EQ(DueDate(RuleNamed("first-decision.in"), Day(2026, 12, 24), &Norway()),
            Day(2026, 12, 31));
}

TEST(DeadlineEngine, DueDate_WorkingDaysFromFridayBeforeEaster2026_IsWednesday15April) {
  // Mon 30 (1), Tue 31 (2), Wed 1 Apr (3), Maundy Thursday 2 Apr, Good Friday 3 Apr, weekend,
  // Easter Monday 6 Apr, Tue 7 (4), Wed 8 (5), Thu 9 (6), Fri 10 (7), Mon 13 (8), Tue 14 (9),
  // Wed 15 (10).
  EXPECT_EQ(DueDate(WorkingDays(10), Day(2026, 3, 27), &Norway()), Day(2026, 4, 15));
}

TEST(DeadlineEngine, DueDate_OneWorkingDayFromWednesdayBeforeEaster_IsTuesdayAfterEasterMonday) {
  EXPECT_EQ(DueDate(WorkingDays(1), Day(2026, 4, 1), &Norway()), Day(2026, 4, 7));
}

TEST(DeadlineEngine, DueDate_WorkingDaysAcross17May2027_SkipsTheMonday) {
  // 17 May 2027 is a Monday (and Whit Monday).
  EXPECT_EQ(DueDate(WorkingDays(1), Day(2027, 5, 14), &Norway()), Day(2027, 5, 18));
  EXPECT_EQ(DueDate(WorkingDays(10), Day(2027, 5, 13), &Norway()), Day(2027, 5, 28));
}

TEST(DeadlineEngine, DueDate_WorkingDaysAcrossAscension2026_SkipsThursday14May) {
  EXPECT_EQ(DueDate(WorkingDays(1), Day(2026, 5, 13), &Norway()), Day(2026, 5, 15));
}

TEST(DeadlineEngine, DueDate_WorkingDaysAcrossChristmasAndNewYear_SkipsBoth) {
  // Thu 24 Dec (1, a working day), Fri 25 and Sat 26 off, Mon 28 (2) .. Thu 31 (5),
  // Fri 1 Jan off, Mon 4 Jan 2027 (6).
  EXPECT_EQ(DueDate(WorkingDays(6), Day(2026, 12, 23), &Norway()), Day(2027, 1, 4));
  EXPECT_EQ(DueDate(WorkingDays(10), Day(2026, 12, 23), &Norway()), Day(2027, 1, 8));
}

TEST(DeadlineEngine, DueDate_ZeroWorkingDays_IsTheOpeningDay) {
  EXPECT_EQ(DueDate(WorkingDays(0), Day(2026, 3, 27), &Norway()), Day(2026, 3, 27));
}

TEST(DeadlineEngine, DueDate_ShippedNorwegianCalendar_AgreesAcrossEasterAnd17MayAndChristmas) {
  const clinical::Calendar* shipped = Shipped().FindCalendar("NO");
  ASSERT_NE(shipped, nullptr);
  EXPECT_EQ(DueDate(WorkingDays(10), Day(2026, 3, 27), shipped), Day(2026, 4, 15));
  EXPECT_EQ(DueDate(WorkingDays(10), Day(2027, 5, 13), shipped), Day(2027, 5, 28));
  EXPECT_EQ(DueDate(WorkingDays(10), Day(2026, 12, 23), shipped), Day(2027, 1, 8));
}

// ===============================================================================================
// RuleApplies
// ===============================================================================================

TEST(DeadlineEngine, RuleApplies_SettingRuleOnlyToItsSetting) {
  EXPECT_TRUE(RuleApplies(RuleNamed("first-decision.out"), OUTPATIENT, nullptr));
  EXPECT_FALSE(RuleApplies(RuleNamed("first-decision.out"), INPATIENT, nullptr));
  EXPECT_TRUE(RuleApplies(RuleNamed("first-decision.in"), INPATIENT, nullptr));
}

TEST(DeadlineEngine, RuleApplies_RuleWithoutSettingToEverySetting) {
  EXPECT_TRUE(RuleApplies(RuleNamed("decision-eval"), OUTPATIENT, nullptr));
  EXPECT_TRUE(RuleApplies(RuleNamed("decision-eval"), INPATIENT, nullptr));
}

TEST(DeadlineEngine, RuleApplies_ConditionalRuleOnlyWhenTheConditionMatchesExactly) {
  const DeadlineRule& rule = RuleNamed("start-first.fast");
  Conditions fast;
  fast["track"] = "fast";
  Conditions slow;
  slow["track"] = "slow";
  Conditions other;
  other["severity"] = "fast";
  EXPECT_TRUE(RuleApplies(rule, OUTPATIENT, &fast));
  EXPECT_FALSE(RuleApplies(rule, OUTPATIENT, &slow));
  EXPECT_FALSE(RuleApplies(rule, OUTPATIENT, &other));
  EXPECT_FALSE(RuleApplies(rule, OUTPATIENT, nullptr));
  const Conditions none;
  EXPECT_FALSE(RuleApplies(rule, OUTPATIENT, &none));
}

// ===============================================================================================
// ComputeDeadlines
// ===============================================================================================

TEST(DeadlineEngine, GivenNoRules_ThenNoDeadlines) {
  DeadlineInputs in = Inputs({Start(kFirst), First(kFirst, 2)});
  in.rules = nullptr;
  EXPECT_THAT(ComputeDeadlines(in), IsEmpty());
}

TEST(DeadlineEngine, GivenOnlyAStart_ThenNoDeadlines) {
  EXPECT_THAT(ComputeDeadlines(Inputs({Start(kFirst)})), IsEmpty());
}

TEST(DeadlineEngine, GivenFirstAttendance_ThenOneOpenDeadlineWithEveryField) {
  const std::vector<v1::Deadline> out =
      ComputeDeadlines(Inputs({Start(kFirst - 7), First(kFirst, 2)}));
  v1::Deadline expected;
  expected.set_deadline_id("pw-9/first-decision.out/1");
  expected.set_rule_id("first-decision.out");
  expected.set_kind(v1::PATHWAY_RULE);
  expected.set_from_point("first");
  expected.set_to_point("decision");
  *expected.mutable_opened_on() = es::ToProtoDate(kFirst);
  *expected.mutable_due_date() = es::ToProtoDate(kFirst + 21);
  expected.set_status(v1::OPEN);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_THAT(out[0], EqualsProto(expected));
}

TEST(DeadlineEngine, GivenInpatientSetting_ThenOnlyTheInpatientRule) {
  const auto out = ComputeDeadlines(Inputs({First(kFirst, 2)}, INPATIENT));
  EXPECT_THAT(Ids(out), ElementsAre("pw-9/first-decision.in/1"));
  EXPECT_EQ(Due(out[0]), kFirst + 7);
}

TEST(DeadlineEngine, GivenDecisionOnDueDate_ThenMetOnTime_AndDayAfterMetLate) {
  auto on_time = ComputeDeadlines(Inputs({First(kFirst, 2), Decision(kFirst + 21, 3)}));
  EXPECT_EQ(Status(Named(on_time, "pw-9/first-decision.out/1")), "MET_ON_TIME");
  EXPECT_EQ(Closed(Named(on_time, "pw-9/first-decision.out/1")), kFirst + 21);
  auto late = ComputeDeadlines(Inputs({First(kFirst, 2), Decision(kFirst + 22, 3)}));
  EXPECT_EQ(Status(Named(late, "pw-9/first-decision.out/1")), "MET_LATE");
  EXPECT_EQ(Closed(Named(late, "pw-9/first-decision.out/1")), kFirst + 22);
}

TEST(DeadlineEngine, GivenPointsInAnyOrder_ThenTheSameDeadlines) {
  std::vector<EffectivePoint> points = {Start(kFirst - 7),        First(kFirst, 2),
                                        Decision(kFirst + 10, 3), Eval(kFirst + 15, 4),
                                        Eval(kFirst + 60, 5),     Postponed(kFirst + 40, 6)};
  const std::vector<v1::Deadline> expected = ComputeDeadlines(Inputs(points));
  std::reverse(points.begin(), points.end());
  const std::vector<v1::Deadline> reversed = ComputeDeadlines(Inputs(points));
  std::rotate(points.begin(), points.begin() + 2, points.end());
  const std::vector<v1::Deadline> rotated = ComputeDeadlines(Inputs(points));
  ASSERT_EQ(reversed.size(), expected.size());
  ASSERT_EQ(rotated.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_THAT(reversed[i], EqualsProto(expected[i]));
    EXPECT_THAT(rotated[i], EqualsProto(expected[i]));
  }
}

TEST(DeadlineEngine, GivenToPointOnTheSameDateRecordedEarlier_ThenItDoesNotMeetTheDeadline) {
  // Same date: recording order decides which came first.
  auto after = ComputeDeadlines(Inputs({First(kFirst, 2), Decision(kFirst, 3)}));
  EXPECT_EQ(Status(Named(after, "pw-9/first-decision.out/1")), "MET_ON_TIME");
  auto before = ComputeDeadlines(Inputs({First(kFirst, 3), Decision(kFirst, 2)}));
  EXPECT_EQ(Status(Named(before, "pw-9/first-decision.out/1")), "OPEN");
}

TEST(DeadlineEngine, GivenToPointDatedBeforeFromPoint_ThenItDoesNotMeetTheDeadline) {
  auto out = ComputeDeadlines(Inputs({First(kFirst, 2), Decision(kFirst - 1, 3)}));
  EXPECT_EQ(Status(Named(out, "pw-9/first-decision.out/1")), "OPEN");
}

TEST(DeadlineEngine, GivenTwoDecisions_ThenFirstOccurrenceRuleOpensOnlyFromTheFirst) {
  auto out = ComputeDeadlines(
      Inputs({First(kFirst, 2), Decision(kFirst + 10, 3), Decision(kFirst + 30, 4)}));
  EXPECT_THAT(Ids(out), ElementsAre("pw-9/first-decision.out/1", "pw-9/decision-eval/1"));
  EXPECT_EQ(Opened(Named(out, "pw-9/decision-eval/1")), kFirst + 10);
  EXPECT_EQ(Closed(Named(out, "pw-9/first-decision.out/1")), kFirst + 10);
}

TEST(DeadlineEngine, GivenThreeEvaluations_ThenEachRuleChainsThem) {
  const Day e1 = kFirst + 20, e2 = e1 + 56, e3 = e2 + 57;
  auto out = ComputeDeadlines(
      Inputs({First(kFirst, 2), Decision(kFirst + 10, 3), Eval(e1, 4), Eval(e2, 5), Eval(e3, 6)}));
  EXPECT_THAT(Ids(out), ElementsAre("pw-9/first-decision.out/1", "pw-9/decision-eval/1",
                                    "pw-9/eval-eval/1", "pw-9/eval-eval/2", "pw-9/eval-eval/3"));
  const v1::Deadline& d1 = Named(out, "pw-9/eval-eval/1");
  EXPECT_EQ(Status(d1), "MET_ON_TIME");
  EXPECT_EQ(Opened(d1), e1);
  EXPECT_EQ(Closed(d1), e2);
  const v1::Deadline& d2 = Named(out, "pw-9/eval-eval/2");
  EXPECT_EQ(Status(d2), "MET_LATE");
  EXPECT_EQ(Due(d2), e2 + 56);
  EXPECT_EQ(Closed(d2), e3);
  const v1::Deadline& d3 = Named(out, "pw-9/eval-eval/3");
  EXPECT_EQ(Status(d3), "OPEN");
  EXPECT_EQ(Due(d3), e3 + 56);
  EXPECT_FALSE(d3.has_closed_on());
}

TEST(DeadlineEngine, GivenTwoEvaluationsOnOneDay_ThenTheFirstClosesOnThatDay) {
  const Day e = kFirst + 20;
  auto out = ComputeDeadlines(
      Inputs({First(kFirst, 2), Decision(kFirst + 10, 3), Eval(e, 4), Eval(e, 5)}));
  EXPECT_EQ(Status(Named(out, "pw-9/eval-eval/1")), "MET_ON_TIME");
  EXPECT_EQ(Closed(Named(out, "pw-9/eval-eval/1")), e);
  EXPECT_EQ(Status(Named(out, "pw-9/eval-eval/2")), "OPEN");
}

TEST(DeadlineEngine, GivenConditionalWorkingDayRule_ThenAppliedWithConditionAndUnconfirmedCopied) {
  Conditions fast;
  fast["track"] = "fast";
  DeadlineInputs in = Inputs({Start(Day(2026, 3, 27))});
  in.conditions = &fast;
  auto out = ComputeDeadlines(in);
  ASSERT_THAT(Ids(out), ElementsAre("pw-9/start-first.fast/1"));
  EXPECT_EQ(Due(out[0]), Day(2026, 4, 15));  // 10 working days across Easter
  EXPECT_TRUE(out[0].rule_unconfirmed());
  EXPECT_EQ(out[0].from_point(), "start");
  EXPECT_EQ(out[0].to_point(), "first");
}

TEST(DeadlineEngine, GivenClosedPathway_ThenOpenDeadlinesCancelledOnTheClosingDay) {
  DeadlineInputs in = Inputs({First(kFirst, 2)});
  in.closed_on = kFirst + 5;
  auto out = ComputeDeadlines(in);
  const v1::Deadline& d = Named(out, "pw-9/first-decision.out/1");
  EXPECT_EQ(Status(d), "CANCELLED");
  EXPECT_EQ(Closed(d), kFirst + 5);
}

TEST(DeadlineEngine, GivenClosedPathway_ThenMetDeadlinesStayMet) {
  DeadlineInputs in = Inputs({First(kFirst, 2), Decision(kFirst + 5, 3)});
  in.closed_on = kFirst + 5;
  auto out = ComputeDeadlines(in);
  EXPECT_EQ(Status(Named(out, "pw-9/first-decision.out/1")), "MET_ON_TIME");
  EXPECT_EQ(Status(Named(out, "pw-9/decision-eval/1")), "CANCELLED");
}

TEST(DeadlineEngine, GivenFromPointAfterTheClosingDay_ThenThatDeadlineNeverExisted) {
  DeadlineInputs in = Inputs({First(kFirst, 2), Decision(kFirst + 6, 3)});
  in.closed_on = kFirst + 5;
  auto out = ComputeDeadlines(in);
  EXPECT_THAT(Ids(out), ElementsAre("pw-9/first-decision.out/1"));
  EXPECT_EQ(Status(out[0]), "CANCELLED");  // the decision after the end does not meet it
}

TEST(DeadlineEngine, GivenRecordedBreach_ThenOnlyThatDeadlineIsMarked) {
  DeadlineInputs in = Inputs({First(kFirst, 2), Decision(kFirst + 25, 3)});
  in.breaches_recorded = {{"pw-9/first-decision.out/1", kFirst + 22}};
  auto out = ComputeDeadlines(in);
  EXPECT_TRUE(Named(out, "pw-9/first-decision.out/1").breach_recorded());
  EXPECT_EQ(Status(Named(out, "pw-9/first-decision.out/1")), "MET_LATE");
  EXPECT_FALSE(Named(out, "pw-9/decision-eval/1").breach_recorded());
}

TEST(DeadlineEngine, GivenPostponedOnTheOpeningDay_ThenAttributedToPatient) {
  auto out = ComputeDeadlines(Inputs({First(kFirst, 2), Postponed(kFirst, 3)}));
  EXPECT_TRUE(Named(out, "pw-9/first-decision.out/1").attributed_to_patient());
}

TEST(DeadlineEngine, GivenPostponedOnTheClosingDay_ThenAttributed_AndTheDayAfterNot) {
  auto on = ComputeDeadlines(
      Inputs({First(kFirst, 2), Postponed(kFirst + 10, 3), Decision(kFirst + 10, 4)}));
  EXPECT_TRUE(Named(on, "pw-9/first-decision.out/1").attributed_to_patient());
  auto after = ComputeDeadlines(
      Inputs({First(kFirst, 2), Decision(kFirst + 10, 3), Postponed(kFirst + 11, 4)}));
  EXPECT_FALSE(Named(after, "pw-9/first-decision.out/1").attributed_to_patient());
  EXPECT_TRUE(Named(after, "pw-9/decision-eval/1").attributed_to_patient());
}

TEST(DeadlineEngine, GivenPostponedBeforeTheOpeningDay_ThenNotAttributed) {
  auto out = ComputeDeadlines(Inputs({Postponed(kFirst - 1, 2), First(kFirst, 3)}));
  EXPECT_FALSE(Named(out, "pw-9/first-decision.out/1").attributed_to_patient());
}

TEST(DeadlineEngine, GivenLegalDeadlineAndStart_ThenLegalDeadlineMetByTheConfiguredPoint) {
  DeadlineInputs in = Inputs({Start(kFirst - 7), First(kFirst, 2)});
  in.start_date = kFirst - 7;
  in.legal_deadline = kFirst - 1;
  auto out = ComputeDeadlines(in);
  v1::Deadline expected;
  expected.set_deadline_id("pw-9/legal");
  expected.set_rule_id("legal");
  expected.set_kind(v1::LEGAL);
  expected.set_from_point("start");
  expected.set_to_point("first");
  *expected.mutable_opened_on() = es::ToProtoDate(kFirst - 7);
  *expected.mutable_due_date() = es::ToProtoDate(kFirst - 1);
  expected.set_status(v1::MET_LATE);
  *expected.mutable_closed_on() = es::ToProtoDate(kFirst);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_THAT(out.back(), EqualsProto(expected));
}

TEST(DeadlineEngine, GivenLegalDeadlineWithoutStartDate_ThenNoLegalDeadline) {
  DeadlineInputs in = Inputs({First(kFirst, 2)});
  in.legal_deadline = kFirst + 10;
  EXPECT_THAT(Ids(ComputeDeadlines(in)), ElementsAre("pw-9/first-decision.out/1"));
}

TEST(DeadlineEngine, GivenVersionWithoutLegalMetByPoint_ThenLegalDeadlineStaysOpen) {
  RuleVersion rules = Rules();
  rules.clear_legal_deadline_met_by();
  DeadlineInputs in = Inputs({Start(kFirst - 7), First(kFirst, 2)});
  in.rules = &rules;
  in.start_date = kFirst - 7;
  in.legal_deadline = kFirst + 10;
  auto out = ComputeDeadlines(in);
  EXPECT_EQ(Status(Named(out, "pw-9/legal")), "OPEN");
}

TEST(DeadlineEngine, GivenLegalDeadlineAndClosedPathway_ThenCancelled) {
  DeadlineInputs in = Inputs({Start(kFirst - 7)});
  in.start_date = kFirst - 7;
  in.legal_deadline = kFirst + 10;
  in.closed_on = kFirst;
  auto out = ComputeDeadlines(in);
  EXPECT_EQ(Status(Named(out, "pw-9/legal")), "CANCELLED");
  EXPECT_EQ(Closed(Named(out, "pw-9/legal")), kFirst);
}

}  // namespace
}  // namespace pathway::domain
