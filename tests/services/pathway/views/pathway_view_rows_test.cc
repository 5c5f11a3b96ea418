#include "services/pathway/views/pathway_view_rows.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "clinical/catalogue.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/eventing/proto_time.h"
#include "libs/storage/view_write.h"
#include "services/pathway/domain/pathway_decider.h"

namespace es::storage {
// Readable failure output for ViewWrite (found by ADL).
inline void PrintTo(const ViewWrite& w, std::ostream* os) {
  *os << "{" << w.key << " -> " << (w.value.has_value() ? "<value>" : "<delete>") << "}";
}
}  // namespace es::storage

// The pathway service's view rows, for states folded by the real decider over the shipped
// catalogue (so the deadlines are the ones the service would derive).

namespace pathway::views {
namespace {

using ::es::storage::ViewWrite;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;
using Day = absl::CivilDay;
using Event = v1::PathwayEvent;

constexpr char kId[] = "pw-1";
constexpr char kUnit[] = "ahus-tsb";
constexpr char kPatientKey[] = "pk-3f9a";
constexpr char kCoordinator[] = "coord-7";
constexpr Day kStart(2026, 3, 2);
constexpr Day kAttended(2026, 3, 9);  // attendance -> decision due 30 March (21 days)

// Keys of the attendance -> decision deadline (due 2026-03-30).
constexpr char kDecisionDeadline[] = "pw-1/tsb.attendance-decision.outpatient/1";
constexpr char kWu[] = "wu/ahus-tsb/20260330/pw-1/tsb.attendance-decision.outpatient/1";
constexpr char kWc[] = "wc/coord-7/20260330/pw-1/tsb.attendance-decision.outpatient/1";
constexpr char kTd[] = "td/20260330/pw-1/tsb.attendance-decision.outpatient/1";
constexpr char kBu[] = "bu/ahus-tsb/20260331/pw-1/tsb.attendance-decision.outpatient/1";
constexpr char kPp[] = "pp/pk-3f9a/pw-1";
constexpr char kAp[] = "ap/ahus-tsb/NO_TSB/pk-3f9a";

std::string SourceDir() {
  if (const char* dir = std::getenv("PATHWAYS_SOURCE_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  return PATHWAYS_SOURCE_DIR_DEFAULT;
}

const domain::PathwayDecider& Decider() {
  static const domain::PathwayDecider* const decider = [] {
    auto catalogue = clinical::PathwayCatalogue::LoadDirectories({SourceDir() + "/catalogue"});
    if (!catalogue.ok()) {
      std::fprintf(stderr, "%s\n", catalogue.status().ToString().c_str());
      std::abort();
    }
    return new domain::PathwayDecider(*new clinical::PathwayCatalogue(*std::move(catalogue)));
  }();
  return *decider;
}

// --- Events ------------------------------------------------------------------------------------

namespace ev {

Event Started(std::string coordinator = kCoordinator, std::optional<Day> legal = std::nullopt) {
  Event e;
  v1::PathwayStarted& s = *e.mutable_started();
  s.set_pathway_id(kId);
  s.set_pathway_type("NO_TSB");
  s.set_rule_version("pakkeforlop_2019");
  s.set_unit(kUnit);
  s.mutable_patient()->set_system(referral::v1::PatientIdentifier::NO_FODSELSNUMMER);
  s.mutable_patient()->set_value("01019012480");
  s.set_setting(catalogue::v1::OUTPATIENT);
  *s.mutable_start_date() = es::ToProtoDate(kStart);
  if (legal.has_value()) *s.mutable_legal_deadline() = es::ToProtoDate(*legal);
  s.set_coordinator_id(std::move(coordinator));
  s.set_register_code("D01");
  return e;
}

Event Point(std::string point_id, catalogue::v1::PointKind kind, Day date,
            std::string outcome = "") {
  Event e;
  v1::PointRecorded& p = *e.mutable_point_recorded();
  p.set_point_id(std::move(point_id));
  p.set_kind(kind);
  p.set_outcome(std::move(outcome));
  *p.mutable_date() = es::ToProtoDate(date);
  return e;
}
Event Attended(Day date = kAttended) {
  return Point("forste_fremmote", catalogue::v1::FIRST_ATTENDANCE, date);
}
Event Decision(Day date) {
  return Point("klinisk_beslutning", catalogue::v1::CLINICAL_DECISION, date, "CT");
}

Event Breached(std::string deadline_id, Day due) {
  Event e;
  e.mutable_deadline_breached()->set_deadline_id(std::move(deadline_id));
  *e.mutable_deadline_breached()->mutable_due_date() = es::ToProtoDate(due);
  *e.mutable_deadline_breached()->mutable_breached_on() = es::ToProtoDate(due + 1);
  return e;
}

Event AppointmentScheduled(std::string id) {
  Event e;
  e.mutable_appointment_scheduled()->set_appointment_id(std::move(id));
  *e.mutable_appointment_scheduled()->mutable_at() =
      es::ToProtoTimestamp(absl::FromCivil(absl::CivilHour(2026, 3, 20, 9), absl::UTCTimeZone()));
  return e;
}

Event CoordinatorAssigned(std::string id) {
  Event e;
  e.mutable_coordinator_assigned()->set_coordinator_id(std::move(id));
  return e;
}

Event Ended(Day date) {
  Event e;
  e.mutable_ended()->set_reason("gjennomfort");
  *e.mutable_ended()->mutable_date() = es::ToProtoDate(date);
  return e;
}

Event Transferred(Day date) {
  Event e;
  e.mutable_transferred()->set_to_unit("ous-tsb");
  *e.mutable_transferred()->mutable_date() = es::ToProtoDate(date);
  return e;
}

}  // namespace ev

// Folds the events as stream versions 1, 2, ... with the metadata the application stamps.
v1::Pathway Fold(std::vector<Event> events) {
  v1::Pathway state = Decider().Initial();
  for (size_t i = 0; i < events.size(); ++i) {
    eventing::v1::EventMetadata& m = *events[i].mutable_metadata();
    m.set_event_id(absl::StrCat("evt-", i + 1));
    m.set_stream_id(kId);
    m.set_stream_version(static_cast<int64_t>(i + 1));
    m.set_patient_key(kPatientKey);
    state = Decider().Evolve(std::move(state), events[i]);
  }
  return state;
}

std::vector<std::string> Keys(const std::map<std::string, std::string>& rows) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : rows) keys.push_back(key);
  return keys;
}

// "put <key>" / "del <key>", in the order written.
std::vector<std::string> Describe(const std::vector<ViewWrite>& writes) {
  std::vector<std::string> out;
  for (const ViewWrite& w : writes) out.push_back(absl::StrCat(w.value ? "put " : "del ", w.key));
  return out;
}

v1::DeadlineEntry Entry(const std::map<std::string, std::string>& rows, const std::string& key) {
  v1::DeadlineEntry entry;
  auto it = rows.find(key);
  if (it == rows.end()) {
    ADD_FAILURE() << "no row " << key << "; have " << ::testing::PrintToString(Keys(rows));
    return entry;
  }
  EXPECT_TRUE(entry.ParseFromString(it->second)) << key;
  return entry;
}

// ===============================================================================================
// Key shapes
// ===============================================================================================

TEST(PathwayViewRows, Prefixes_HaveTheDocumentedShape) {
  EXPECT_EQ(DateKey(Day(2026, 3, 30)), "20260330");
  EXPECT_EQ(DateKey(Day(2027, 1, 4)), "20270104");
  EXPECT_EQ(UnitDeadlinePrefix(kUnit), "wu/ahus-tsb/");
  EXPECT_EQ(CoordinatorDeadlinePrefix(kCoordinator), "wc/coord-7/");
  EXPECT_EQ(TimerPrefix(), "td/");
  EXPECT_EQ(UnitBreachPrefix(kUnit), "bu/ahus-tsb/");
  EXPECT_EQ(PatientPrefix(kPatientKey), "pp/pk-3f9a/");
  EXPECT_EQ(ActiveKey(kUnit, "NO_TSB", kPatientKey), kAp);
}

// ===============================================================================================
// RowsOf
// ===============================================================================================

TEST(PathwayViewRows, GivenNoPathway_ThenNoRows) { EXPECT_THAT(RowsOf(v1::Pathway()), IsEmpty()); }

TEST(PathwayViewRows, GivenStartedTsbPathway_ThenOnlyPatientAndActiveRows) {
  const auto rows = RowsOf(Fold({ev::Started()}));
  EXPECT_THAT(Keys(rows), ElementsAre(kAp, kPp));
  EXPECT_EQ(rows.at(kPp), kId);
  EXPECT_EQ(rows.at(kAp), kId);
}

TEST(PathwayViewRows, GivenOpenDeadline_ThenUnitCoordinatorAndTimerRowsByDueDate) {
  const auto rows = RowsOf(Fold({ev::Started(), ev::Attended()}));
  EXPECT_THAT(Keys(rows), ElementsAre(kAp, kPp, kTd, kWc, kWu));
  const v1::DeadlineEntry entry = Entry(rows, kWu);
  EXPECT_EQ(entry.pathway_id(), kId);
  EXPECT_EQ(entry.deadline_id(), kDecisionDeadline);
  EXPECT_EQ(entry.rule_id(), "tsb.attendance-decision.outpatient");
  EXPECT_EQ(entry.kind(), v1::PATHWAY_RULE);
  EXPECT_EQ(entry.unit(), kUnit);
  EXPECT_EQ(entry.coordinator_id(), kCoordinator);
  EXPECT_EQ(entry.pathway_type(), "NO_TSB");
  EXPECT_EQ(entry.patient_key(), kPatientKey);
  EXPECT_EQ(es::FromProtoDate(entry.due_date()), Day(2026, 3, 30));
  EXPECT_EQ(entry.status(), v1::OPEN);
  EXPECT_FALSE(entry.breach_recorded());
  EXPECT_EQ(entry.from_point(), "forste_fremmote");
  EXPECT_EQ(entry.to_point(), "klinisk_beslutning");
  EXPECT_EQ(rows.at(kWc), rows.at(kWu));
  EXPECT_EQ(rows.at(kTd), rows.at(kWu));
}

TEST(PathwayViewRows, GivenNoCoordinator_ThenNoCoordinatorRows) {
  const auto rows = RowsOf(Fold({ev::Started(""), ev::Attended()}));
  EXPECT_THAT(Keys(rows),
              ElementsAre(kAp, kPp, kTd, "wu/ahus-tsb/20260330/" + std::string(kDecisionDeadline)));
}

TEST(PathwayViewRows, GivenLegalDeadline_ThenItHasRowsToo) {
  const auto rows = RowsOf(Fold({ev::Started(kCoordinator, Day(2026, 4, 1))}));
  EXPECT_THAT(Keys(rows),
              ElementsAre(kAp, kPp, "td/20260401/pw-1/legal", "wc/coord-7/20260401/pw-1/legal",
                          "wu/ahus-tsb/20260401/pw-1/legal"));
  EXPECT_EQ(Entry(rows, "wu/ahus-tsb/20260401/pw-1/legal").kind(), v1::LEGAL);
}

TEST(PathwayViewRows, GivenRecordedBreach_ThenTimerRowGoneAndUnitBreachRowOnTheBreachDate) {
  const auto rows = RowsOf(
      Fold({ev::Started(), ev::Attended(), ev::Breached(kDecisionDeadline, Day(2026, 3, 30))}));
  EXPECT_THAT(Keys(rows), ElementsAre(kAp, kBu, kPp, kWc, kWu));
  EXPECT_TRUE(Entry(rows, kBu).breach_recorded());
  EXPECT_EQ(Entry(rows, kBu).status(), v1::OPEN);
  EXPECT_TRUE(Entry(rows, kWu).breach_recorded());  // still open: still on the worklists
}

TEST(PathwayViewRows, GivenMetDeadline_ThenNoWorklistOrTimerRowsForIt) {
  // Decision 19 March meets the decision deadline and opens decision -> first evaluation (7 days).
  const auto rows = RowsOf(Fold({ev::Started(), ev::Attended(), ev::Decision(Day(2026, 3, 19))}));
  const std::string next = "pw-1/tsb.decision-first-evaluation/1";
  EXPECT_THAT(Keys(rows),
              ElementsAre(kAp, kPp, "td/20260326/" + next, "wc/coord-7/20260326/" + next,
                          "wu/ahus-tsb/20260326/" + next));
}

TEST(PathwayViewRows, GivenBreachThenMetLate_ThenBreachRowStaysAndWorklistRowsGo) {
  const auto rows =
      RowsOf(Fold({ev::Started(), ev::Attended(), ev::Breached(kDecisionDeadline, Day(2026, 3, 30)),
                   ev::Decision(Day(2026, 4, 2))}));
  EXPECT_THAT(Keys(rows), Not(::testing::Contains(kWu)));
  EXPECT_THAT(Keys(rows), Not(::testing::Contains(kWc)));
  EXPECT_THAT(Keys(rows), Not(::testing::Contains(kTd)));
  EXPECT_EQ(Entry(rows, kBu).status(), v1::MET_LATE);
}

TEST(PathwayViewRows, GivenEndedPathway_ThenActiveRowAndOpenDeadlineRowsGoButPatientRowStays) {
  const auto rows = RowsOf(Fold({ev::Started(), ev::Attended(), ev::Ended(Day(2026, 3, 12))}));
  EXPECT_THAT(Keys(rows), ElementsAre(kPp));
}

TEST(PathwayViewRows, GivenEndedPathwayWithRecordedBreach_ThenBreachRowStays) {
  const auto rows =
      RowsOf(Fold({ev::Started(), ev::Attended(), ev::Breached(kDecisionDeadline, Day(2026, 3, 30)),
                   ev::Ended(Day(2026, 4, 5))}));
  EXPECT_THAT(Keys(rows), ElementsAre(kBu, kPp));
  EXPECT_EQ(Entry(rows, kBu).status(), v1::CANCELLED);
}

TEST(PathwayViewRows, GivenTransferredPathway_ThenNoActiveRow) {
  const auto rows =
      RowsOf(Fold({ev::Started(), ev::Attended(), ev::Transferred(Day(2026, 3, 12))}));
  EXPECT_THAT(Keys(rows), ElementsAre(kPp));
}

// ===============================================================================================
// RowsForChange
// ===============================================================================================

TEST(PathwayViewRows, GivenNothingBefore_WhenStartedAndAttended_ThenEveryRowPut) {
  const v1::Pathway after = Fold({ev::Started(), ev::Attended()});
  const std::vector<ViewWrite> writes = RowsForChange(v1::Pathway(), after);
  EXPECT_THAT(Describe(writes), ElementsAre(absl::StrCat("put ", kAp), absl::StrCat("put ", kPp),
                                            absl::StrCat("put ", kTd), absl::StrCat("put ", kWc),
                                            absl::StrCat("put ", kWu)));
  const auto rows = RowsOf(after);
  for (const ViewWrite& w : writes) EXPECT_EQ(w.value, rows.at(w.key)) << w.key;
}

TEST(PathwayViewRows, GivenSameState_ThenNoWrites) {
  const v1::Pathway state = Fold({ev::Started(), ev::Attended()});
  EXPECT_THAT(RowsForChange(state, state), IsEmpty());
}

TEST(PathwayViewRows, GivenAppointmentScheduled_ThenRowsUnchangedAndNoWrites) {
  const v1::Pathway before = Fold({ev::Started(), ev::Attended()});
  const v1::Pathway after = Fold({ev::Started(), ev::Attended(), ev::AppointmentScheduled("a-1")});
  EXPECT_THAT(RowsForChange(before, after), IsEmpty());
}

TEST(PathwayViewRows,
     GivenOpenDeadline_WhenBreachRecorded_ThenTimerDeletedBreachPutWorklistsUpdated) {
  const v1::Pathway before = Fold({ev::Started(), ev::Attended()});
  const v1::Pathway after =
      Fold({ev::Started(), ev::Attended(), ev::Breached(kDecisionDeadline, Day(2026, 3, 30))});
  EXPECT_THAT(Describe(RowsForChange(before, after)),
              ElementsAre(absl::StrCat("del ", kTd), absl::StrCat("put ", kBu),
                          absl::StrCat("put ", kWc), absl::StrCat("put ", kWu)));
}

TEST(PathwayViewRows, GivenOpenDeadline_WhenMet_ThenItsRowsDeletedAndTheNextDeadlinesRowsPut) {
  const v1::Pathway before = Fold({ev::Started(), ev::Attended()});
  const v1::Pathway after = Fold({ev::Started(), ev::Attended(), ev::Decision(Day(2026, 3, 19))});
  const std::string next = "pw-1/tsb.decision-first-evaluation/1";
  EXPECT_THAT(Describe(RowsForChange(before, after)),
              ElementsAre(absl::StrCat("del ", kTd), absl::StrCat("del ", kWc),
                          absl::StrCat("del ", kWu), "put td/20260326/" + next,
                          "put wc/coord-7/20260326/" + next, "put wu/ahus-tsb/20260326/" + next));
}

TEST(PathwayViewRows, GivenOpenDeadline_WhenCoordinatorChanges_ThenCoordinatorRowsMove) {
  const v1::Pathway before = Fold({ev::Started(), ev::Attended()});
  const v1::Pathway after =
      Fold({ev::Started(), ev::Attended(), ev::CoordinatorAssigned("coord-8")});
  EXPECT_THAT(Describe(RowsForChange(before, after)),
              ElementsAre(absl::StrCat("del ", kWc), absl::StrCat("put ", kTd),
                          "put wc/coord-8/20260330/" + std::string(kDecisionDeadline),
                          absl::StrCat("put ", kWu)));
}

TEST(PathwayViewRows, GivenActivePathway_WhenEnded_ThenActiveAndOpenDeadlineRowsDeleted) {
  const v1::Pathway before = Fold({ev::Started(), ev::Attended()});
  const v1::Pathway after = Fold({ev::Started(), ev::Attended(), ev::Ended(Day(2026, 3, 12))});
  EXPECT_THAT(Describe(RowsForChange(before, after)),
              ElementsAre(absl::StrCat("del ", kAp), absl::StrCat("del ", kTd),
                          absl::StrCat("del ", kWc), absl::StrCat("del ", kWu)));
}

}  // namespace
}  // namespace pathway::views
