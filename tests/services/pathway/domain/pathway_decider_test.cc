#include "services/pathway/domain/pathway_decider.h"

#include <google/protobuf/text_format.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "clinical/catalogue.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/eventing/proto_time.h"
#include "tests/support/decider_spec.h"
#include "tests/support/equals_proto.h"

// Given-when-then tests of the pathway decider against the shipped catalogue
// (catalogue/*.textproto) and, for working-day rules, a small test catalogue. Histories are built
// with the ev:: builders (payloads exactly as the decider emits them) and stamped by History() with
// the metadata the application adds: event i of the stream gets stream_version i and event_id
// "evt-i". Evolve re-derives the deadlines after every event, so deadline expectations read the
// folded state.

namespace pathway::domain {
namespace {

using ::catalogue::v1::INPATIENT;
using ::catalogue::v1::OUTPATIENT;
using ::catalogue::v1::PointKind;
using ::catalogue::v1::Setting;
using ::es::testing::DeciderSpec;
using ::es::testing::EqualsProto;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using Day = absl::CivilDay;
using Event = v1::PathwayEvent;

constexpr char kId[] = "pw-1";
constexpr char kUnit[] = "ahus-tsb";
constexpr char kOtherUnit[] = "ous-tsb";
constexpr char kPatientKey[] = "pk-3f9a";
constexpr char kCoordinator[] = "coord-7";
constexpr char kReferralId[] = "ref-2026-0001";
constexpr char kCorrectionReason[] = "Date typed from the wrong appointment";

constexpr Day kStart(2026, 3, 2);     // Monday
constexpr Day kAttended(2026, 3, 9);  // Monday, a week after the start
constexpr Day kToday(2026, 12, 1);    // "today" of commands that are not about the clock

// Deadline rule ids as the shipped catalogue names them.
constexpr char kTsbAttendanceDecisionOut[] = "tsb.attendance-decision.outpatient";
constexpr char kTsbAttendanceDecisionIn[] = "tsb.attendance-decision.inpatient";
constexpr char kTsbDetoxOut[] = "tsb.detox-next-treatment.outpatient";
constexpr char kTsbDetoxIn[] = "tsb.detox-next-treatment.inpatient";
constexpr char kTsbDecisionEvaluation[] = "tsb.decision-first-evaluation";
constexpr char kTsbEvaluationOut[] = "tsb.evaluation-evaluation.outpatient";
constexpr char kTsbEvaluationIn[] = "tsb.evaluation-evaluation.inpatient";
constexpr char kOcdReferralAttendance[] = "ocd.referral-attendance";
constexpr char kOcdAttendanceDecision[] = "ocd.attendance-decision";
constexpr char kEdStartSevere[] = "ed.start-attendance.severe";
constexpr char kEdStartLessSevere[] = "ed.start-attendance.less-severe";
constexpr char kEdAttendanceDecisionOut[] = "ed.attendance-decision.outpatient";
constexpr char kEdAttendanceDecisionIn[] = "ed.attendance-decision.inpatient";
constexpr char kEdDecisionEvaluationOut[] = "ed.decision-first-evaluation.outpatient";
constexpr char kEdDecisionEvaluationIn[] = "ed.decision-first-evaluation.inpatient";
constexpr char kEdEvaluationOut[] = "ed.evaluation-evaluation.outpatient";
constexpr char kEdEvaluationIn[] = "ed.evaluation-evaluation.inpatient";

// --- Catalogues and deciders -------------------------------------------------------------------

std::string SourceDir() {
  // ctest sets PATHWAYS_SOURCE_DIR; running the binary by hand falls back to the configured tree.
  if (const char* dir = std::getenv("PATHWAYS_SOURCE_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  return PATHWAYS_SOURCE_DIR_DEFAULT;
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "%s\n", what.c_str());
  std::abort();
}

const PathwayDecider& Decider() {
  static const PathwayDecider* const decider = [] {
    absl::StatusOr<clinical::PathwayCatalogue> catalogue =
        clinical::PathwayCatalogue::LoadDirectories({SourceDir() + "/catalogue"});
    if (!catalogue.ok()) Die(absl::StrCat("shipped catalogue: ", catalogue.status().ToString()));
    return new PathwayDecider(*new clinical::PathwayCatalogue(*std::move(catalogue)));
  }();
  return *decider;
}

// A type with working-day rules (the shipped catalogue has none), on the Norwegian calendar
// (Saturday and Sunday off; 1 Jan, 1 May, 17 May, 25-26 Dec; Easter -3, -2, 0, +1, +39, +49, +50).
constexpr char kWorkingDayCatalogue[] = R"pb(
  calendars {
    id: "NO"
    fixed_holidays: [ "01-01", "05-01", "05-17", "12-25", "12-26" ]
    easter_offsets: [ -3, -2, 0, 1, 39, 49, 50 ]
    non_working_weekdays: [ "saturday", "sunday" ]
  }
  pathway_types {
    id: "TEST_WD"
    name: "Test type with working-day rules"
    country: "NO"
    type_code { value: "T99" }
    versions {
      id: "v1"
      effective_from { year: 2020 month: 1 day: 1 }
      calendar: "NO"
      legal_deadline_met_by: "forste_fremmote"
      points { id: "start" kind: START max_occurrences: 1 }
      points { id: "forste_fremmote" kind: FIRST_ATTENDANCE max_occurrences: 1 }
      points {
        id: "klinisk_beslutning"
        kind: CLINICAL_DECISION
        event_code { value: "C" }
        outcomes { code: "CU" }
        outcomes { code: "CT" }
        requires_any_of: "forste_fremmote"
        max_occurrences: 2
      }
      points {
        id: "avslutning"
        kind: END
        outcomes { code: "gjennomfort" }
      }
      deadlines {
        id: "wd.start-attendance"
        from_point: "start"
        to_point: "forste_fremmote"
        days: 3
        day_kind: WORKING_DAYS
        occurrence: FIRST
      }
      deadlines {
        id: "wd.attendance-decision"
        from_point: "forste_fremmote"
        to_point: "klinisk_beslutning"
        days: 10
        day_kind: WORKING_DAYS
        occurrence: FIRST
      }
    }
  }
)pb";

const PathwayDecider& WorkingDayDecider() {
  static const PathwayDecider* const decider = [] {
    catalogue::v1::Catalogue proto;
    if (!google::protobuf::TextFormat::ParseFromString(kWorkingDayCatalogue, &proto)) {
      Die("test catalogue does not parse");
    }
    absl::StatusOr<clinical::PathwayCatalogue> catalogue =
        clinical::PathwayCatalogue::FromProto(std::move(proto), "test");
    if (!catalogue.ok()) Die(absl::StrCat("test catalogue: ", catalogue.status().ToString()));
    return new PathwayDecider(*new clinical::PathwayCatalogue(*std::move(catalogue)));
  }();
  return *decider;
}

DeciderSpec<PathwayDecider> Spec() { return DeciderSpec<PathwayDecider>(Decider()); }
DeciderSpec<PathwayDecider> WorkingDaySpec() {
  return DeciderSpec<PathwayDecider>(WorkingDayDecider());
}

// --- Start options -----------------------------------------------------------------------------

referral::v1::PatientIdentifier Patient() {
  referral::v1::PatientIdentifier patient;
  patient.set_system(referral::v1::PatientIdentifier::NO_FODSELSNUMMER);
  patient.set_value("01019012480");
  return patient;
}

referral::v1::MunicipalContact Contact() {
  referral::v1::MunicipalContact contact;
  contact.set_name("Ola Koordinator");
  contact.set_municipality("Lillestrøm");
  contact.set_phone("+47 66 00 00 00");
  return contact;
}

// How a pathway is started; the defaults are an outpatient TSB pathway.
struct Opts {
  std::string type = "NO_TSB";
  std::string version = "pakkeforlop_2019";
  std::string type_code = "D01";
  Setting setting = OUTPATIENT;
  std::map<std::string, std::string> conditions = {};
  Day start = kStart;
  std::optional<Day> legal = std::nullopt;
  std::string coordinator = kCoordinator;
};

Opts Tsb(Setting setting) { return Opts{.setting = setting}; }
Opts Ocd() { return Opts{.type = "NO_OCD", .type_code = ""}; }
Opts EatingDisorders(Setting setting, std::string severity) {
  Opts o{.type = "NO_SPISEFORSTYRRELSER_BU", .version = "npf", .type_code = "", .setting = setting};
  if (!severity.empty()) o.conditions["severity"] = std::move(severity);
  return o;
}
Opts Adults() { return Opts{.type = "NO_VOKSNE", .type_code = "D11"}; }
Opts WorkingDays(Day start) {
  return Opts{.type = "TEST_WD", .version = "v1", .type_code = "T99", .start = start};
}

// --- Events (payloads as the decider emits them) -----------------------------------------------

namespace ev {

Event Started(const Opts& o = {}) {
  Event e;
  v1::PathwayStarted& s = *e.mutable_started();
  s.set_pathway_id(kId);
  s.set_pathway_type(o.type);
  s.set_rule_version(o.version);
  s.set_unit(kUnit);
  *s.mutable_patient() = Patient();
  s.set_setting(o.setting);
  for (const auto& [k, v] : o.conditions) (*s.mutable_conditions())[k] = v;
  *s.mutable_start_date() = es::ToProtoDate(o.start);
  s.set_referral_id(kReferralId);
  if (o.legal.has_value()) *s.mutable_legal_deadline() = es::ToProtoDate(*o.legal);
  s.set_coordinator_id(o.coordinator);
  s.set_register_code(o.type_code);
  return e;
}

Event Point(std::string point_id, PointKind kind, Day date, std::string outcome,
            std::string register_code, int occurrence = 1) {
  Event e;
  v1::PointRecorded& p = *e.mutable_point_recorded();
  p.set_point_id(std::move(point_id));
  p.set_kind(kind);
  p.set_outcome(std::move(outcome));
  *p.mutable_date() = es::ToProtoDate(date);
  p.set_register_code(std::move(register_code));
  p.set_occurrence(occurrence);
  return e;
}

// The register codes below are what the shipped catalogue's codes give: type code + event code +
// outcome, with points whose event code is unconfirmed (empty) adding nothing.
Event Attended(Day date = kAttended, std::string type_code = "D01") {
  return Point("forste_fremmote", catalogue::v1::FIRST_ATTENDANCE, date, "", type_code);
}
Event Decision(Day date, std::string outcome = "CT", int occurrence = 1,
               std::string type_code = "D01") {
  std::string code = type_code + outcome;  // outcome "CT" already holds the event letter C
  return Point("klinisk_beslutning", catalogue::v1::CLINICAL_DECISION, date, std::move(outcome),
               std::move(code), occurrence);
}
Event Evaluation(Day date, int occurrence = 1, std::string type_code = "D01") {
  return Point("evaluering", catalogue::v1::EVALUATION, date, "", type_code, occurrence);
}
Event DetoxEnded(Day date) {
  return Point("avrusning_avsluttet", catalogue::v1::DETOX_ENDED, date, "", "D01");
}
Event NextTreatment(Day date) {
  return Point("annen_behandling_start", catalogue::v1::NEXT_TREATMENT_STARTED, date, "", "D01");
}
Event Postponed(Day date, int occurrence = 1) {
  return Point("pasientutsatt", catalogue::v1::PATIENT_POSTPONED, date, "", "D01L", occurrence);
}
Event InternalReferral(Day date) {  // NO_OCD: type and event codes unconfirmed
  return Point("intern_henvisning_mottatt_ocd_team", catalogue::v1::INTERNAL_REFERRAL_RECEIVED,
               date, "", "");
}

Event Corrected(std::string corrects_event_id, std::string point_id, Day date, std::string outcome,
                std::string register_code, std::string reason = kCorrectionReason) {
  Event e;
  v1::PointCorrected& c = *e.mutable_point_corrected();
  c.set_corrects_event_id(std::move(corrects_event_id));
  c.set_point_id(std::move(point_id));
  *c.mutable_date() = es::ToProtoDate(date);
  c.set_outcome(std::move(outcome));
  c.set_reason(std::move(reason));
  c.set_register_code(std::move(register_code));
  return e;
}

Event AppointmentScheduled(std::string id, absl::Time at, std::string kind = "treatment") {
  Event e;
  e.mutable_appointment_scheduled()->set_appointment_id(std::move(id));
  *e.mutable_appointment_scheduled()->mutable_at() = es::ToProtoTimestamp(at);
  e.mutable_appointment_scheduled()->set_kind(std::move(kind));
  return e;
}
Event AppointmentAttended(std::string id) {
  Event e;
  e.mutable_appointment_attended()->set_appointment_id(std::move(id));
  return e;
}
Event AppointmentMissed(std::string id, int missed_count) {
  Event e;
  e.mutable_appointment_missed()->set_appointment_id(std::move(id));
  e.mutable_appointment_missed()->set_missed_count(missed_count);
  return e;
}

Event MeetingScheduled(std::string id, absl::Time at) {
  Event e;
  e.mutable_meeting_scheduled()->set_meeting_id(std::move(id));
  *e.mutable_meeting_scheduled()->mutable_at() = es::ToProtoTimestamp(at);
  *e.mutable_meeting_scheduled()->mutable_municipal_contact() = Contact();
  return e;
}
Event MeetingHeld(std::string id, Day date) {
  Event e;
  e.mutable_meeting_held()->set_meeting_id(std::move(id));
  *e.mutable_meeting_held()->mutable_date() = es::ToProtoDate(date);
  return e;
}

Event CoordinatorAssigned(std::string coordinator_id) {
  Event e;
  e.mutable_coordinator_assigned()->set_coordinator_id(std::move(coordinator_id));
  return e;
}

Event Transferred(Day date, std::string to_unit = kOtherUnit) {
  Event e;
  e.mutable_transferred()->set_to_unit(std::move(to_unit));
  *e.mutable_transferred()->mutable_date() = es::ToProtoDate(date);
  return e;
}

Event Ended(Day date, std::string reason = "gjennomfort") {
  Event e;
  e.mutable_ended()->set_register_code("D01" + reason);
  e.mutable_ended()->set_reason(std::move(reason));
  *e.mutable_ended()->mutable_date() = es::ToProtoDate(date);
  return e;
}

Event Breached(std::string deadline_id, std::string rule_id, Day due,
               bool attributed_to_patient = false) {
  Event e;
  v1::DeadlineBreached& b = *e.mutable_deadline_breached();
  b.set_deadline_id(std::move(deadline_id));
  b.set_rule_id(std::move(rule_id));
  *b.mutable_due_date() = es::ToProtoDate(due);
  *b.mutable_breached_on() = es::ToProtoDate(due + 1);
  b.set_attributed_to_patient(attributed_to_patient);
  return e;
}

}  // namespace ev

// The metadata the application stamps on event number `version` of the stream.
Event Stamped(Event event, int64_t version) {
  eventing::v1::EventMetadata& m = *event.mutable_metadata();
  m.set_event_id(absl::StrCat("evt-", version));
  m.set_stream_id(kId);
  m.set_stream_version(version);
  m.set_patient_key(kPatientKey);
  return event;
}

std::vector<Event> History(std::vector<Event> events) {
  for (size_t i = 0; i < events.size(); ++i) {
    events[i] = Stamped(std::move(events[i]), static_cast<int64_t>(i + 1));
  }
  return events;
}

v1::Pathway Fold(const PathwayDecider& decider, const std::vector<Event>& history) {
  v1::Pathway state = decider.Initial();
  for (const Event& e : history) state = decider.Evolve(std::move(state), e);
  return state;
}
v1::Pathway Fold(const std::vector<Event>& history) { return Fold(Decider(), history); }

// The state after the decision's events are stamped (next versions) and folded in.
v1::Pathway StateAfterDecision(const DeciderSpec<PathwayDecider>& spec,
                               const PathwayDecider& decider = Decider()) {
  v1::Pathway state = spec.state();
  if (!spec.result().ok()) {
    ADD_FAILURE() << "decision failed: " << spec.result().status();
    return state;
  }
  for (const Event& e : *spec.result()) {
    state = decider.Evolve(std::move(state), Stamped(e, state.version() + 1));
  }
  return state;
}

// --- Commands ----------------------------------------------------------------------------------

namespace cmd {

StartPathway Start(const Opts& o = {}, Day today = kToday) {
  StartPathway c;
  c.pathway_id = kId;
  c.pathway_type = o.type;
  c.unit = kUnit;
  c.patient = Patient();
  c.patient_key = kPatientKey;
  c.setting = o.setting;
  c.conditions = o.conditions;
  c.start_date = o.start;
  c.legal_deadline = o.legal;
  c.coordinator_id = o.coordinator;
  c.referral_id = kReferralId;
  c.today = today;
  return c;
}

RecordPoint Point(std::string point_id, Day date, std::string outcome = "", Day today = kToday) {
  return RecordPoint{.pathway_id = kId,
                     .point_id = std::move(point_id),
                     .outcome = std::move(outcome),
                     .date = date,
                     .today = today};
}
RecordPoint Attend(Day date = kAttended) { return Point("forste_fremmote", date); }
RecordPoint Decision(Day date, std::string outcome = "CT") {
  return Point("klinisk_beslutning", date, std::move(outcome));
}
RecordPoint Evaluation(Day date) { return Point("evaluering", date); }
RecordPoint DetoxEnded(Day date) { return Point("avrusning_avsluttet", date); }
RecordPoint NextTreatment(Day date) { return Point("annen_behandling_start", date); }
RecordPoint Postponed(Day date) { return Point("pasientutsatt", date); }

CorrectPoint Correct(std::string corrects_event_id, Day date, std::string outcome = "",
                     std::string reason = kCorrectionReason, Day today = kToday) {
  return CorrectPoint{.pathway_id = kId,
                      .corrects_event_id = std::move(corrects_event_id),
                      .date = date,
                      .outcome = std::move(outcome),
                      .reason = std::move(reason),
                      .today = today};
}

RecordBreach Breach(std::string deadline_id, Day today) {
  return RecordBreach{.pathway_id = kId, .deadline_id = std::move(deadline_id), .today = today};
}

EndPathway End(Day date, std::string reason = "gjennomfort", Day today = kToday) {
  return EndPathway{.pathway_id = kId, .reason = std::move(reason), .date = date, .today = today};
}

TransferPathway Transfer(Day date, std::string to_unit = kOtherUnit, Day today = kToday) {
  return TransferPathway{
      .pathway_id = kId, .to_unit = std::move(to_unit), .date = date, .today = today};
}

}  // namespace cmd

absl::Time At(int y, int m, int d, int hh) {
  return absl::FromCivil(absl::CivilHour(y, m, d, hh), absl::UTCTimeZone());
}

// --- Deadline checks ---------------------------------------------------------------------------

std::string DeadlineId(const std::string& rule_id, int n = 1) {
  return absl::StrCat(kId, "/", rule_id, "/", n);
}
std::string LegalId() { return absl::StrCat(kId, "/legal"); }

std::vector<std::string> DeadlineIds(const v1::Pathway& state) {
  std::vector<std::string> ids;
  for (const v1::Deadline& d : state.deadlines()) ids.push_back(d.deadline_id());
  return ids;
}

const v1::Deadline* FindDeadline(const v1::Pathway& state, const std::string& id) {
  for (const v1::Deadline& d : state.deadlines()) {
    if (d.deadline_id() == id) return &d;
  }
  return nullptr;
}

// The deadline `id` exists with this status, opening and due date, and closing date (none when
// `closed` is nullopt).
void ExpectDeadline(const v1::Pathway& state, const std::string& id, v1::DeadlineStatus status,
                    Day opened, Day due, std::optional<Day> closed = std::nullopt) {
  SCOPED_TRACE(id);
  const v1::Deadline* d = FindDeadline(state, id);
  ASSERT_NE(d, nullptr) << "no such deadline; have: "
                        << ::testing::PrintToString(DeadlineIds(state));
  EXPECT_EQ(v1::DeadlineStatus_Name(d->status()), v1::DeadlineStatus_Name(status));
  EXPECT_EQ(es::FromProtoDate(d->opened_on()), opened);
  EXPECT_EQ(es::FromProtoDate(d->due_date()), due);
  if (closed.has_value()) {
    ASSERT_TRUE(d->has_closed_on());
    EXPECT_EQ(es::FromProtoDate(d->closed_on()), *closed);
  } else {
    EXPECT_FALSE(d->has_closed_on()) << "closed on " << d->closed_on().ShortDebugString();
  }
}

void ExpectOpen(const v1::Pathway& state, const std::string& id, Day opened, Day due) {
  ExpectDeadline(state, id, v1::OPEN, opened, due);
}

int CountRule(const v1::Pathway& state, const std::string& rule_id) {
  int n = 0;
  for (const v1::Deadline& d : state.deadlines()) n += d.rule_id() == rule_id ? 1 : 0;
  return n;
}

// The decision failed with `code` and its message contains every one of `words`.
void ExpectFailure(const DeciderSpec<PathwayDecider>& spec, absl::StatusCode code,
                   const std::vector<std::string>& words) {
  spec.ThenFails(code);
  if (spec.result().ok()) {
    for (const Event& e : *spec.result()) ADD_FAILURE() << "emitted " << e.ShortDebugString();
    return;
  }
  for (const std::string& word : words) {
    EXPECT_THAT(std::string(spec.result().status().message()), HasSubstr(word));
  }
}

// History shortcuts.
std::vector<Event> StartedAndAttended(const Opts& o = {}, Day attended = kAttended) {
  return History({ev::Started(o), ev::Attended(attended, o.type_code)});
}

// ===============================================================================================
// StartPathway
// ===============================================================================================

TEST(PathwayDecider, GivenNothing_WhenTsbPathwayStarted_ThenStartedWithRuleVersionAndTypeCode) {
  Spec().Given({}).When(cmd::Start()).Then({ev::Started()});
}

TEST(PathwayDecider, GivenNothing_WhenStartedWithLegalDeadlineAndCondition_ThenEventCarriesThem) {
  Opts o = EatingDisorders(INPATIENT, "severe");
  o.legal = Day(2026, 4, 30);
  Spec().Given({}).When(cmd::Start(o)).Then({ev::Started(o)});
}

TEST(PathwayDecider, GivenTsbStarted_ThenTimelineHasTheStartPointAndNoDeadlineYet) {
  const v1::Pathway state = Fold(History({ev::Started()}));
  EXPECT_EQ(v1::PathwayStatus_Name(state.status()), "ACTIVE");
  EXPECT_EQ(state.patient_key(), kPatientKey);
  EXPECT_EQ(state.register_type_code(), "D01");
  EXPECT_EQ(state.rule_version(), "pakkeforlop_2019");
  ASSERT_EQ(state.timeline_size(), 1);
  EXPECT_EQ(state.timeline(0).what(), "PathwayStarted");
  EXPECT_EQ(state.timeline(0).point_id(), "start");
  EXPECT_EQ(state.timeline(0).kind(), catalogue::v1::START);
  EXPECT_EQ(es::FromProtoDate(state.timeline(0).date()), kStart);
  EXPECT_EQ(state.timeline(0).register_code(), "D01");
  EXPECT_THAT(DeadlineIds(state), IsEmpty());  // TSB rules start at the first attendance
}

TEST(PathwayDecider, GivenNothing_WhenStartedWithUnknownPathwayType_ThenInvalidArgument) {
  Opts o;
  o.type = "NO_UNKNOWN";
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given({}).When(cmd::Start(o));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"pathway_type"});
}

TEST(PathwayDecider, GivenNothing_WhenStartedWithoutSetting_ThenInvalidArgument) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given({}).When(cmd::Start(Tsb(catalogue::v1::SETTING_UNSPECIFIED)));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"setting"});
}

TEST(PathwayDecider, GivenNothing_WhenStartedWithSettingOutOfRange_ThenInvalidArgument) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given({}).When(cmd::Start(Tsb(static_cast<Setting>(7))));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"setting"});
}

TEST(PathwayDecider, GivenNothing_WhenStartDateIsTomorrow_ThenInvalidArgument) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given({}).When(cmd::Start(Opts{}, /*today=*/kStart - 1));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"start_date", "future"});
}

TEST(PathwayDecider, GivenNothing_WhenStartDateIsToday_ThenStarted) {
  Spec().Given({}).When(cmd::Start(Opts{}, /*today=*/kStart)).Then({ev::Started()});
}

TEST(PathwayDecider, GivenNothing_WhenStartedBeforeAnyRuleVersion_ThenInvalidArgument) {
  Opts o;
  o.start = Day(2018, 12, 31);  // NO_TSB's only version is in force from 2019-01-01
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given({}).When(cmd::Start(o));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"start_date"});
}

TEST(PathwayDecider, GivenNothing_WhenLegalDeadlineBeforeStart_ThenInvalidArgument) {
  Opts o;
  o.legal = kStart - 1;
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given({}).When(cmd::Start(o));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"legal_deadline"});
}

TEST(PathwayDecider, GivenNothing_WhenStartedWithoutPatient_ThenInvalidArgument) {
  StartPathway c = cmd::Start();
  c.patient_key.clear();
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given({}).When(c);
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"patient"});
}

TEST(PathwayDecider, GivenNothing_WhenPathwayIdHasASlash_ThenInvalidArgument) {
  StartPathway c = cmd::Start();
  c.pathway_id = "pw/1";  // ids never contain '/' (view keys rely on it)
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given({}).When(c);
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"pathway_id"});
}

TEST(PathwayDecider, GivenStartedPathway_WhenStartedAgain_ThenAlreadyExists) {
  Spec()
      .Given(History({ev::Started()}))
      .When(cmd::Start())
      .ThenFails(absl::StatusCode::kAlreadyExists);
}

TEST(PathwayDecider, GivenEndedPathway_WhenStartedAgainWithTheSameId_ThenAlreadyExists) {
  Spec()
      .Given(History({ev::Started(), ev::Ended(kAttended)}))
      .When(cmd::Start())
      .ThenFails(absl::StatusCode::kAlreadyExists);
}

// ===============================================================================================
// TSB: first attendance -> clinical decision, 21 days outpatient / 7 inpatient
// ===============================================================================================

TEST(PathwayDecider, GivenTsbOutpatientFirstAttendance_ThenDecisionDeadlineOpenedWithRuleFields) {
  const v1::Pathway state = Fold(StartedAndAttended());
  v1::Deadline expected;
  expected.set_deadline_id("pw-1/tsb.attendance-decision.outpatient/1");
  expected.set_rule_id(kTsbAttendanceDecisionOut);
  expected.set_kind(v1::PATHWAY_RULE);
  expected.set_from_point("forste_fremmote");
  expected.set_to_point("klinisk_beslutning");
  *expected.mutable_opened_on() = es::ToProtoDate(kAttended);
  *expected.mutable_due_date() = es::ToProtoDate(Day(2026, 3, 30));  // 9 March + 21
  expected.set_status(v1::OPEN);
  ASSERT_EQ(state.deadlines_size(), 1) << ::testing::PrintToString(DeadlineIds(state));
  EXPECT_THAT(state.deadlines(0), EqualsProto(expected));
}

TEST(PathwayDecider,
     GivenTsbOutpatientFirstAttendance_WhenNoDecisionFor22Days_ThenDeadlineOpenAndDueOnDay21) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended());
  ExpectOpen(spec.state(), DeadlineId(kTsbAttendanceDecisionOut), kAttended, kAttended + 21);
  spec.When(cmd::Breach(DeadlineId(kTsbAttendanceDecisionOut), kAttended + 22))
      .Then({ev::Breached(DeadlineId(kTsbAttendanceDecisionOut), kTsbAttendanceDecisionOut,
                          kAttended + 21)});
}

TEST(PathwayDecider,
     GivenTsbOutpatientFirstAttendance_WhenDecisionOnDay21_ThenDecisionDeadlineMetOnTime) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended()).When(cmd::Decision(kAttended + 21));
  spec.Then({ev::Decision(kAttended + 21)});
  ExpectDeadline(StateAfterDecision(spec), DeadlineId(kTsbAttendanceDecisionOut), v1::MET_ON_TIME,
                 kAttended, kAttended + 21, kAttended + 21);
}

TEST(PathwayDecider,
     GivenTsbOutpatientFirstAttendance_WhenDecisionOnDay22_ThenDecisionDeadlineMetLate) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended()).When(cmd::Decision(kAttended + 22));
  ExpectDeadline(StateAfterDecision(spec), DeadlineId(kTsbAttendanceDecisionOut), v1::MET_LATE,
                 kAttended, kAttended + 21, kAttended + 22);
}

TEST(PathwayDecider, GivenTsbOutpatientFirstAttendance_WhenDecisionTheSameDay_ThenMetOnTime) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended()).When(cmd::Decision(kAttended));
  ExpectDeadline(StateAfterDecision(spec), DeadlineId(kTsbAttendanceDecisionOut), v1::MET_ON_TIME,
                 kAttended, kAttended + 21, kAttended);
}

TEST(PathwayDecider, GivenTsbOutpatientFirstAttendance_ThenNoInpatientRuleApplies) {
  const v1::Pathway state = Fold(StartedAndAttended(Tsb(OUTPATIENT)));
  EXPECT_THAT(DeadlineIds(state), UnorderedElementsAre(DeadlineId(kTsbAttendanceDecisionOut)));
}

TEST(PathwayDecider, GivenTsbInpatientFirstAttendance_ThenDecisionDeadlineOpenAndDueOnDay7) {
  const v1::Pathway state = Fold(StartedAndAttended(Tsb(INPATIENT)));
  EXPECT_THAT(DeadlineIds(state), UnorderedElementsAre(DeadlineId(kTsbAttendanceDecisionIn)));
  ExpectOpen(state, DeadlineId(kTsbAttendanceDecisionIn), kAttended, kAttended + 7);
}

TEST(PathwayDecider, GivenTsbInpatientFirstAttendance_WhenDecisionOnDay7_ThenMetOnTime) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended(Tsb(INPATIENT))).When(cmd::Decision(kAttended + 7));
  ExpectDeadline(StateAfterDecision(spec), DeadlineId(kTsbAttendanceDecisionIn), v1::MET_ON_TIME,
                 kAttended, kAttended + 7, kAttended + 7);
}

TEST(PathwayDecider, GivenTsbInpatientFirstAttendance_WhenDecisionOnDay8_ThenMetLate) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended(Tsb(INPATIENT))).When(cmd::Decision(kAttended + 8));
  ExpectDeadline(StateAfterDecision(spec), DeadlineId(kTsbAttendanceDecisionIn), v1::MET_LATE,
                 kAttended, kAttended + 7, kAttended + 8);
}

TEST(PathwayDecider, GivenTsbInpatientFirstAttendance_WhenNoDecisionFor8Days_ThenBreachDueOnDay7) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended(Tsb(INPATIENT)))
      .When(cmd::Breach(DeadlineId(kTsbAttendanceDecisionIn), kAttended + 8))
      .Then({ev::Breached(DeadlineId(kTsbAttendanceDecisionIn), kTsbAttendanceDecisionIn,
                          kAttended + 7)});
}

// ===============================================================================================
// TSB: detox ended -> next treatment started, 3 days outpatient / 0 inpatient
// ===============================================================================================

TEST(PathwayDecider, GivenTsbOutpatient_WhenDetoxEnded_ThenNextTreatmentDueIn3Days) {
  const Day detox = kAttended + 4;
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended()).When(cmd::DetoxEnded(detox));
  spec.Then({ev::DetoxEnded(detox)});
  const v1::Pathway state = StateAfterDecision(spec);
  ExpectOpen(state, DeadlineId(kTsbDetoxOut), detox, detox + 3);
  EXPECT_EQ(CountRule(state, kTsbDetoxIn), 0);
}

TEST(PathwayDecider, GivenTsbOutpatientDetoxEnded_WhenNextTreatmentOnDay3_ThenMetOnTime) {
  const Day detox = kAttended + 4;
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(), ev::Attended(), ev::DetoxEnded(detox)}))
      .When(cmd::NextTreatment(detox + 3));
  spec.Then({ev::NextTreatment(detox + 3)});
  ExpectDeadline(StateAfterDecision(spec), DeadlineId(kTsbDetoxOut), v1::MET_ON_TIME, detox,
                 detox + 3, detox + 3);
}

TEST(PathwayDecider, GivenTsbOutpatientDetoxEnded_WhenNextTreatmentOnDay4_ThenMetLate) {
  const Day detox = kAttended + 4;
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(), ev::Attended(), ev::DetoxEnded(detox)}))
      .When(cmd::NextTreatment(detox + 4));
  ExpectDeadline(StateAfterDecision(spec), DeadlineId(kTsbDetoxOut), v1::MET_LATE, detox, detox + 3,
                 detox + 4);
}

TEST(PathwayDecider, GivenTsbInpatientDetoxEnded_ThenNextTreatmentDueTheSameDay) {
  const Day detox = kAttended + 4;
  const v1::Pathway state =
      Fold(History({ev::Started(Tsb(INPATIENT)), ev::Attended(), ev::DetoxEnded(detox)}));
  ExpectOpen(state, DeadlineId(kTsbDetoxIn), detox, detox);
  EXPECT_EQ(CountRule(state, kTsbDetoxOut), 0);
}

TEST(PathwayDecider, GivenTsbInpatientDetoxEnded_WhenNextTreatmentTheSameDay_ThenMetOnTime) {
  const Day detox = kAttended + 4;
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(Tsb(INPATIENT)), ev::Attended(), ev::DetoxEnded(detox)}))
      .When(cmd::NextTreatment(detox));
  ExpectDeadline(StateAfterDecision(spec), DeadlineId(kTsbDetoxIn), v1::MET_ON_TIME, detox, detox,
                 detox);
}

TEST(PathwayDecider, GivenTsbInpatientDetoxEnded_WhenNextTreatmentTheDayAfter_ThenMetLate) {
  const Day detox = kAttended + 4;
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(Tsb(INPATIENT)), ev::Attended(), ev::DetoxEnded(detox)}))
      .When(cmd::NextTreatment(detox + 1));
  ExpectDeadline(StateAfterDecision(spec), DeadlineId(kTsbDetoxIn), v1::MET_LATE, detox, detox,
                 detox + 1);
}

TEST(PathwayDecider,
     GivenTsbInpatientDetoxEnded_WhenNoNextTreatmentByTheNextDay_ThenBreachDueOnDetoxDay) {
  const Day detox = kAttended + 4;
  Spec()
      .Given(History({ev::Started(Tsb(INPATIENT)), ev::Attended(), ev::DetoxEnded(detox)}))
      .When(cmd::Breach(DeadlineId(kTsbDetoxIn), detox + 1))
      .Then({ev::Breached(DeadlineId(kTsbDetoxIn), kTsbDetoxIn, detox)});
}

// ===============================================================================================
// TSB: clinical decision -> first evaluation, 7 days, from the first decision only
// ===============================================================================================

TEST(PathwayDecider, GivenTsbDecision_ThenFirstEvaluationDueIn7Days) {
  const Day decided = kAttended + 10;
  const v1::Pathway state = Fold(History({ev::Started(), ev::Attended(), ev::Decision(decided)}));
  ExpectOpen(state, DeadlineId(kTsbDecisionEvaluation), decided, decided + 7);
}

TEST(PathwayDecider, GivenTsbInpatientDecision_ThenFirstEvaluationAlsoDueIn7Days) {
  const Day decided = kAttended + 5;
  const v1::Pathway state =
      Fold(History({ev::Started(Tsb(INPATIENT)), ev::Attended(), ev::Decision(decided)}));
  ExpectOpen(state, DeadlineId(kTsbDecisionEvaluation), decided, decided + 7);
}

TEST(PathwayDecider, GivenTsbDecision_WhenEvaluationOnDay7_ThenFirstEvaluationMetOnTime) {
  const Day decided = kAttended + 10;
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(), ev::Attended(), ev::Decision(decided)}))
      .When(cmd::Evaluation(decided + 7));
  spec.Then({ev::Evaluation(decided + 7)});
  ExpectDeadline(StateAfterDecision(spec), DeadlineId(kTsbDecisionEvaluation), v1::MET_ON_TIME,
                 decided, decided + 7, decided + 7);
}

TEST(PathwayDecider, GivenTsbDecision_WhenEvaluationOnDay8_ThenFirstEvaluationMetLate) {
  const Day decided = kAttended + 10;
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(), ev::Attended(), ev::Decision(decided)}))
      .When(cmd::Evaluation(decided + 8));
  ExpectDeadline(StateAfterDecision(spec), DeadlineId(kTsbDecisionEvaluation), v1::MET_LATE,
                 decided, decided + 7, decided + 8);
}

TEST(PathwayDecider,
     GivenTsbDecisionCU_WhenSecondDecision_ThenAcceptedAndNoSecondFirstEvaluationDeadline) {
  const Day first = kAttended + 10;
  const Day second = kAttended + 30;
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(), ev::Attended(), ev::Decision(first, "CU")}))
      .When(cmd::Decision(second, "CT"));
  spec.Then({ev::Decision(second, "CT", /*occurrence=*/2)});
  const v1::Pathway state = StateAfterDecision(spec);
  EXPECT_EQ(CountRule(state, kTsbDecisionEvaluation), 1)
      << ::testing::PrintToString(DeadlineIds(state));
  EXPECT_EQ(FindDeadline(state, DeadlineId(kTsbDecisionEvaluation, 2)), nullptr);
  ExpectOpen(state, DeadlineId(kTsbDecisionEvaluation), first, first + 7);  // from the first
  ExpectDeadline(state, DeadlineId(kTsbAttendanceDecisionOut), v1::MET_ON_TIME, kAttended,
                 kAttended + 21, first);
}

// ===============================================================================================
// TSB: evaluation -> evaluation, 56 days outpatient / 42 inpatient, from each evaluation
// ===============================================================================================

TEST(PathwayDecider, GivenTsbOutpatientFirstEvaluation_ThenNextEvaluationDueIn56Days) {
  const Day evaluated = kAttended + 14;
  const v1::Pathway state = Fold(History(
      {ev::Started(), ev::Attended(), ev::Decision(kAttended + 10), ev::Evaluation(evaluated)}));
  ExpectOpen(state, DeadlineId(kTsbEvaluationOut), evaluated, evaluated + 56);
  EXPECT_EQ(CountRule(state, kTsbEvaluationIn), 0);
}

TEST(PathwayDecider,
     GivenTsbOutpatientEvaluation_WhenNextEvaluationOnDay56_ThenPreviousMetAndNextOpened) {
  const Day first = kAttended + 14;
  const Day second = first + 56;
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(), ev::Attended(), ev::Decision(kAttended + 10),
                      ev::Evaluation(first)}))
      .When(cmd::Evaluation(second));
  spec.Then({ev::Evaluation(second, /*occurrence=*/2)});
  const v1::Pathway state = StateAfterDecision(spec);
  ExpectDeadline(state, DeadlineId(kTsbEvaluationOut, 1), v1::MET_ON_TIME, first, first + 56,
                 second);
  ExpectOpen(state, DeadlineId(kTsbEvaluationOut, 2), second, second + 56);
  EXPECT_EQ(CountRule(state, kTsbEvaluationOut), 2);
  // The first-evaluation deadline stays met by the first evaluation.
  ExpectDeadline(state, DeadlineId(kTsbDecisionEvaluation), v1::MET_ON_TIME, kAttended + 10,
                 kAttended + 17, first);
}

TEST(PathwayDecider,
     GivenTwoTsbOutpatientEvaluations_WhenThirdOnDay57_ThenSecondMetLateAndThirdOpened) {
  const Day first = kAttended + 14;
  const Day second = first + 50;
  const Day third = second + 57;
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(), ev::Attended(), ev::Decision(kAttended + 10),
                      ev::Evaluation(first), ev::Evaluation(second, 2)}))
      .When(cmd::Evaluation(third));
  spec.Then({ev::Evaluation(third, /*occurrence=*/3)});
  const v1::Pathway state = StateAfterDecision(spec);
  ExpectDeadline(state, DeadlineId(kTsbEvaluationOut, 1), v1::MET_ON_TIME, first, first + 56,
                 second);
  ExpectDeadline(state, DeadlineId(kTsbEvaluationOut, 2), v1::MET_LATE, second, second + 56, third);
  ExpectOpen(state, DeadlineId(kTsbEvaluationOut, 3), third, third + 56);
}

TEST(PathwayDecider, GivenTsbInpatientEvaluation_ThenNextEvaluationDueIn42Days) {
  const Day evaluated = kAttended + 10;
  const v1::Pathway state = Fold(History({ev::Started(Tsb(INPATIENT)), ev::Attended(),
                                          ev::Decision(kAttended + 5), ev::Evaluation(evaluated)}));
  ExpectOpen(state, DeadlineId(kTsbEvaluationIn), evaluated, evaluated + 42);
  EXPECT_EQ(CountRule(state, kTsbEvaluationOut), 0);
}

TEST(PathwayDecider, GivenTsbInpatientEvaluation_WhenNextEvaluationOnDay43_ThenPreviousMetLate) {
  const Day first = kAttended + 10;
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(Tsb(INPATIENT)), ev::Attended(), ev::Decision(kAttended + 5),
                      ev::Evaluation(first)}))
      .When(cmd::Evaluation(first + 43));
  const v1::Pathway state = StateAfterDecision(spec);
  ExpectDeadline(state, DeadlineId(kTsbEvaluationIn, 1), v1::MET_LATE, first, first + 42,
                 first + 43);
  ExpectOpen(state, DeadlineId(kTsbEvaluationIn, 2), first + 43, first + 43 + 42);
}

// ===============================================================================================
// OCD: internal referral -> first attendance 42; first attendance -> decision 56
// ===============================================================================================

TEST(PathwayDecider, GivenOcdInternalReferralReceived_ThenFirstAttendanceDueIn42Days) {
  const Day received = kStart + 3;
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(Ocd())}))
      .When(cmd::Point("intern_henvisning_mottatt_ocd_team", received));
  spec.Then({ev::InternalReferral(received)});
  ExpectOpen(StateAfterDecision(spec), DeadlineId(kOcdReferralAttendance), received, received + 42);
}

TEST(PathwayDecider, GivenOcdInternalReferral_WhenFirstAttendanceOnDay42_ThenMetOnTime) {
  const Day received = kStart + 3;
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(Ocd()), ev::InternalReferral(received)}))
      .When(cmd::Attend(received + 42));
  spec.Then({ev::Attended(received + 42, /*type_code=*/"")});
  const v1::Pathway state = StateAfterDecision(spec);
  ExpectDeadline(state, DeadlineId(kOcdReferralAttendance), v1::MET_ON_TIME, received,
                 received + 42, received + 42);
  ExpectOpen(state, DeadlineId(kOcdAttendanceDecision), received + 42, received + 42 + 56);
}

TEST(PathwayDecider, GivenOcdInternalReferral_WhenFirstAttendanceOnDay43_ThenMetLate) {
  const Day received = kStart + 3;
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(Ocd()), ev::InternalReferral(received)}))
      .When(cmd::Attend(received + 43));
  ExpectDeadline(StateAfterDecision(spec), DeadlineId(kOcdReferralAttendance), v1::MET_LATE,
                 received, received + 42, received + 43);
}

TEST(PathwayDecider, GivenOcdFirstAttendance_WhenDecisionOnDay56_ThenMetOnTime) {
  const Day received = kStart + 3;
  const Day attended = received + 20;
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(
          History({ev::Started(Ocd()), ev::InternalReferral(received), ev::Attended(attended, "")}))
      .When(cmd::Decision(attended + 56, "CP"));
  spec.Then({ev::Decision(attended + 56, "CP", 1, /*type_code=*/"")});
  ExpectDeadline(StateAfterDecision(spec), DeadlineId(kOcdAttendanceDecision), v1::MET_ON_TIME,
                 attended, attended + 56, attended + 56);
}

TEST(PathwayDecider, GivenOcdFirstAttendance_WhenDecisionOnDay57_ThenMetLate) {
  const Day received = kStart + 3;
  const Day attended = received + 20;
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(
          History({ev::Started(Ocd()), ev::InternalReferral(received), ev::Attended(attended, "")}))
      .When(cmd::Decision(attended + 57, "CP"));
  ExpectDeadline(StateAfterDecision(spec), DeadlineId(kOcdAttendanceDecision), v1::MET_LATE,
                 attended, attended + 56, attended + 57);
}

TEST(PathwayDecider, GivenOcdWithoutInternalReferral_WhenFirstAttendance_ThenOrderRuleFails) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(Ocd())})).When(cmd::Attend());
  ExpectFailure(spec, absl::StatusCode::kFailedPrecondition,
                {"order rule", "intern_henvisning_mottatt_ocd_team"});
}

// ===============================================================================================
// Eating disorders (children and young people): conditional and setting rules
// ===============================================================================================

TEST(PathwayDecider, GivenEatingDisorderSevere_WhenStarted_ThenFirstAttendanceDueIn7Days) {
  const v1::Pathway state = Fold(History({ev::Started(EatingDisorders(OUTPATIENT, "severe"))}));
  EXPECT_THAT(DeadlineIds(state), UnorderedElementsAre(DeadlineId(kEdStartSevere)));
  ExpectOpen(state, DeadlineId(kEdStartSevere), kStart, kStart + 7);
}

TEST(PathwayDecider, GivenEatingDisorderLessSevere_WhenStarted_ThenFirstAttendanceDueIn28Days) {
  const v1::Pathway state =
      Fold(History({ev::Started(EatingDisorders(OUTPATIENT, "less_severe"))}));
  EXPECT_THAT(DeadlineIds(state), UnorderedElementsAre(DeadlineId(kEdStartLessSevere)));
  ExpectOpen(state, DeadlineId(kEdStartLessSevere), kStart, kStart + 28);
}

TEST(PathwayDecider, GivenEatingDisorderWithoutSeverity_WhenStarted_ThenNoStartDeadline) {
  const v1::Pathway state = Fold(History({ev::Started(EatingDisorders(OUTPATIENT, ""))}));
  EXPECT_THAT(DeadlineIds(state), IsEmpty());
}

TEST(PathwayDecider, GivenEatingDisorderWithUnknownSeverity_WhenStarted_ThenNoStartDeadline) {
  const v1::Pathway state =
      Fold(History({ev::Started(EatingDisorders(OUTPATIENT, "SEVERE"))}));  // case matters
  EXPECT_THAT(DeadlineIds(state), IsEmpty());
}

TEST(PathwayDecider, GivenEatingDisorderSevere_WhenFirstAttendanceOnDay7_ThenMetOnTime) {
  const Opts o = EatingDisorders(OUTPATIENT, "severe");
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(o)})).When(cmd::Attend(kStart + 7));
  ExpectDeadline(StateAfterDecision(spec), DeadlineId(kEdStartSevere), v1::MET_ON_TIME, kStart,
                 kStart + 7, kStart + 7);
}

TEST(PathwayDecider, GivenEatingDisorderSevere_WhenFirstAttendanceOnDay8_ThenMetLate) {
  const Opts o = EatingDisorders(OUTPATIENT, "severe");
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(o)})).When(cmd::Attend(kStart + 8));
  ExpectDeadline(StateAfterDecision(spec), DeadlineId(kEdStartSevere), v1::MET_LATE, kStart,
                 kStart + 7, kStart + 8);
}

TEST(PathwayDecider, GivenEatingDisorderLessSevere_WhenFirstAttendanceOnDay29_ThenMetLate) {
  const Opts o = EatingDisorders(OUTPATIENT, "less_severe");
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(o)})).When(cmd::Attend(kStart + 29));
  ExpectDeadline(StateAfterDecision(spec), DeadlineId(kEdStartLessSevere), v1::MET_LATE, kStart,
                 kStart + 28, kStart + 29);
}

TEST(PathwayDecider, GivenEatingDisorderOutpatientFirstAttendance_ThenDecisionDueIn42Days) {
  const Opts o = EatingDisorders(OUTPATIENT, "severe");
  const v1::Pathway state = Fold(StartedAndAttended(o));
  ExpectOpen(state, DeadlineId(kEdAttendanceDecisionOut), kAttended, kAttended + 42);
  EXPECT_EQ(CountRule(state, kEdAttendanceDecisionIn), 0);
}

TEST(PathwayDecider, GivenEatingDisorderInpatientFirstAttendance_ThenDecisionDueIn14Days) {
  const Opts o = EatingDisorders(INPATIENT, "severe");
  const v1::Pathway state = Fold(StartedAndAttended(o));
  ExpectOpen(state, DeadlineId(kEdAttendanceDecisionIn), kAttended, kAttended + 14);
  EXPECT_EQ(CountRule(state, kEdAttendanceDecisionOut), 0);
}

TEST(PathwayDecider, GivenEatingDisorderInpatientFirstAttendance_WhenDecisionOnDay15_ThenMetLate) {
  const Opts o = EatingDisorders(INPATIENT, "less_severe");
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended(o)).When(cmd::Decision(kAttended + 15));
  ExpectDeadline(StateAfterDecision(spec), DeadlineId(kEdAttendanceDecisionIn), v1::MET_LATE,
                 kAttended, kAttended + 14, kAttended + 15);
}

TEST(PathwayDecider, GivenEatingDisorderOutpatientDecision_ThenFirstEvaluationDueIn28Days) {
  const Opts o = EatingDisorders(OUTPATIENT, "severe");
  const Day decided = kAttended + 20;
  const v1::Pathway state = Fold(
      History({ev::Started(o), ev::Attended(kAttended, ""), ev::Decision(decided, "CP", 1, "")}));
  ExpectOpen(state, DeadlineId(kEdDecisionEvaluationOut), decided, decided + 28);
  EXPECT_EQ(CountRule(state, kEdDecisionEvaluationIn), 0);
}

TEST(PathwayDecider, GivenEatingDisorderInpatientDecision_ThenFirstEvaluationDueIn14Days) {
  const Opts o = EatingDisorders(INPATIENT, "severe");
  const Day decided = kAttended + 10;
  const v1::Pathway state = Fold(
      History({ev::Started(o), ev::Attended(kAttended, ""), ev::Decision(decided, "CP", 1, "")}));
  ExpectOpen(state, DeadlineId(kEdDecisionEvaluationIn), decided, decided + 14);
  EXPECT_EQ(CountRule(state, kEdDecisionEvaluationOut), 0);
}

TEST(PathwayDecider,
     GivenEatingDisorderOutpatientDecision_WhenEvaluationOnDay28_ThenMetOnTimeAndNextDueIn42) {
  const Opts o = EatingDisorders(OUTPATIENT, "severe");
  const Day decided = kAttended + 20;
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History(
                 {ev::Started(o), ev::Attended(kAttended, ""), ev::Decision(decided, "CP", 1, "")}))
      .When(cmd::Evaluation(decided + 28));
  const v1::Pathway state = StateAfterDecision(spec);
  ExpectDeadline(state, DeadlineId(kEdDecisionEvaluationOut), v1::MET_ON_TIME, decided,
                 decided + 28, decided + 28);
  ExpectOpen(state, DeadlineId(kEdEvaluationOut), decided + 28, decided + 28 + 42);
}

TEST(PathwayDecider, GivenEatingDisorderInpatientEvaluation_ThenNextEvaluationDueIn14Days) {
  const Opts o = EatingDisorders(INPATIENT, "severe");
  const Day evaluated = kAttended + 20;
  const v1::Pathway state =
      Fold(History({ev::Started(o), ev::Attended(kAttended, ""),
                    ev::Decision(kAttended + 10, "CP", 1, ""), ev::Evaluation(evaluated, 1, "")}));
  ExpectDeadline(state, DeadlineId(kEdDecisionEvaluationIn), v1::MET_ON_TIME, kAttended + 10,
                 kAttended + 24, evaluated);
  ExpectOpen(state, DeadlineId(kEdEvaluationIn), evaluated, evaluated + 14);
  EXPECT_EQ(CountRule(state, kEdEvaluationOut), 0);
}

// ===============================================================================================
// Working-day rules (test catalogue, calendar NO)
// ===============================================================================================

TEST(PathwayDecider,
     GivenWorkingDayRule_WhenFirstAttendanceFridayBeforeEaster2026_ThenDecisionDue15April) {
  // Fri 27 Mar 2026 + 10 working days: Mon 30 (1), Tue 31 (2), Wed 1 Apr (3), Maundy Thursday,
  // Good Friday, weekend, Easter Monday 6 Apr, Tue 7 (4) .. Fri 10 (7), Mon 13 (8), Tue 14 (9),
  // Wed 15 Apr (10).
  const Opts o = WorkingDays(Day(2026, 3, 20));
  DeciderSpec<PathwayDecider> spec = WorkingDaySpec();
  spec.Given(History({ev::Started(o)})).When(cmd::Attend(Day(2026, 3, 27)));
  spec.Then({ev::Attended(Day(2026, 3, 27), "T99")});
  const v1::Pathway state = StateAfterDecision(spec, WorkingDayDecider());
  ExpectOpen(state, DeadlineId("wd.attendance-decision"), Day(2026, 3, 27), Day(2026, 4, 15));
  // Fri 20 Mar + 3 working days = Wed 25 Mar; met on 27 Mar, late.
  ExpectDeadline(state, DeadlineId("wd.start-attendance"), v1::MET_LATE, Day(2026, 3, 20),
                 Day(2026, 3, 25), Day(2026, 3, 27));
}

TEST(PathwayDecider, GivenWorkingDayRuleOpenedBeforeEaster_WhenDecisionOn15April_ThenMetOnTime) {
  const Opts o = WorkingDays(Day(2026, 3, 20));
  DeciderSpec<PathwayDecider> spec = WorkingDaySpec();
  spec.Given(History({ev::Started(o), ev::Attended(Day(2026, 3, 27), "T99")}))
      .When(cmd::Decision(Day(2026, 4, 15), "CU"));
  spec.Then({ev::Decision(Day(2026, 4, 15), "CU", 1, "T99")});
  ExpectDeadline(StateAfterDecision(spec, WorkingDayDecider()),
                 DeadlineId("wd.attendance-decision"), v1::MET_ON_TIME, Day(2026, 3, 27),
                 Day(2026, 4, 15), Day(2026, 4, 15));
}

TEST(PathwayDecider, GivenWorkingDayRuleOpenedBeforeEaster_WhenDecisionOn16April_ThenMetLate) {
  const Opts o = WorkingDays(Day(2026, 3, 20));
  DeciderSpec<PathwayDecider> spec = WorkingDaySpec();
  spec.Given(History({ev::Started(o), ev::Attended(Day(2026, 3, 27), "T99")}))
      .When(cmd::Decision(Day(2026, 4, 16), "CU"));
  ExpectDeadline(StateAfterDecision(spec, WorkingDayDecider()),
                 DeadlineId("wd.attendance-decision"), v1::MET_LATE, Day(2026, 3, 27),
                 Day(2026, 4, 15), Day(2026, 4, 16));
}

TEST(PathwayDecider, GivenWorkingDayRule_WhenOpenedAcross17May2027_ThenMondayHolidaySkipped) {
  // 17 May 2027 is a Monday and also Whit Monday (Easter 2027 is 28 March).
  // Start Fri 14 May + 3: Mon 17 holiday, Tue 18 (1), Wed 19 (2), Thu 20 May (3).
  // Attendance Fri 14 May + 10: Tue 18 (1) .. Fri 21 (4), Mon 24 (5) .. Fri 28 (9), Mon 31 (10).
  const Opts o = WorkingDays(Day(2027, 5, 14));
  const v1::Pathway state =
      Fold(WorkingDayDecider(), History({ev::Started(o), ev::Attended(Day(2027, 5, 14), "T99")}));
  ExpectDeadline(state, DeadlineId("wd.start-attendance"), v1::MET_ON_TIME, Day(2027, 5, 14),
                 Day(2027, 5, 20), Day(2027, 5, 14));
  ExpectOpen(state, DeadlineId("wd.attendance-decision"), Day(2027, 5, 14), Day(2027, 5, 31));
}

TEST(PathwayDecider, GivenWorkingDayRule_WhenOpenedThursday13May2027_ThenDueFriday28May) {
  // Thu 13 May 2027 + 10: Fri 14 (1), Mon 17 holiday, Tue 18 (2) .. Fri 21 (5),
  // Mon 24 (6) .. Thu 27 (9), Fri 28 May (10).
  const Opts o = WorkingDays(Day(2027, 5, 10));
  const v1::Pathway state =
      Fold(WorkingDayDecider(), History({ev::Started(o), ev::Attended(Day(2027, 5, 13), "T99")}));
  ExpectOpen(state, DeadlineId("wd.attendance-decision"), Day(2027, 5, 13), Day(2027, 5, 28));
}

TEST(PathwayDecider,
     GivenWorkingDayRule_WhenOpenedBeforeChristmas2026_ThenHolidaysAndNewYearSkipped) {
  // Wed 23 Dec 2026 + 10: Thu 24 (1; Christmas Eve is a working day), Fri 25 and Sat 26
  // holidays, Mon 28 (2), Tue 29 (3), Wed 30 (4), Thu 31 (5), Fri 1 Jan holiday, Mon 4 (6),
  // Tue 5 (7), Wed 6 (8), Thu 7 (9), Fri 8 Jan 2027 (10).
  // Start Fri 18 Dec + 3: Mon 21 (1), Tue 22 (2), Wed 23 Dec (3).
  const Opts o = WorkingDays(Day(2026, 12, 18));
  const v1::Pathway state =
      Fold(WorkingDayDecider(), History({ev::Started(o), ev::Attended(Day(2026, 12, 23), "T99")}));
  ExpectDeadline(state, DeadlineId("wd.start-attendance"), v1::MET_ON_TIME, Day(2026, 12, 18),
                 Day(2026, 12, 23), Day(2026, 12, 23));
  ExpectOpen(state, DeadlineId("wd.attendance-decision"), Day(2026, 12, 23), Day(2027, 1, 8));
}

// ===============================================================================================
// Corrections
// ===============================================================================================

TEST(PathwayDecider, GivenFirstAttendance_WhenDateCorrected_ThenPointCorrectedWithReasonAndCode) {
  Spec()
      .Given(StartedAndAttended())
      .When(cmd::Correct("evt-2", kAttended + 3))
      .Then({ev::Corrected("evt-2", "forste_fremmote", kAttended + 3, "", "D01")});
}

TEST(PathwayDecider, GivenFirstAttendance_WhenDateCorrected_ThenDecisionDeadlineMovesWithIt) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended()).When(cmd::Correct("evt-2", kAttended + 3));
  const v1::Pathway state = StateAfterDecision(spec);
  EXPECT_THAT(DeadlineIds(state), UnorderedElementsAre(DeadlineId(kTsbAttendanceDecisionOut)));
  ExpectOpen(state, DeadlineId(kTsbAttendanceDecisionOut), kAttended + 3, kAttended + 24);
}

TEST(PathwayDecider, GivenFirstAttendance_WhenDateCorrected_ThenTimelineKeepsOriginalAsSuperseded) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended()).When(cmd::Correct("evt-2", kAttended + 3));
  const v1::Pathway state = StateAfterDecision(spec);
  ASSERT_EQ(state.timeline_size(), 3);
  const v1::TimelineEntry& original = state.timeline(1);
  EXPECT_EQ(original.event_id(), "evt-2");
  EXPECT_EQ(original.what(), "PointRecorded");
  EXPECT_TRUE(original.superseded());
  EXPECT_EQ(es::FromProtoDate(original.date()), kAttended);
  const v1::TimelineEntry& correction = state.timeline(2);
  EXPECT_EQ(correction.event_id(), "evt-3");
  EXPECT_EQ(correction.what(), "PointCorrected");
  EXPECT_EQ(correction.point_id(), "forste_fremmote");
  EXPECT_EQ(correction.kind(), catalogue::v1::FIRST_ATTENDANCE);
  EXPECT_EQ(correction.corrects_event_id(), "evt-2");
  EXPECT_EQ(correction.detail(), kCorrectionReason);
  EXPECT_FALSE(correction.superseded());
  EXPECT_EQ(es::FromProtoDate(correction.date()), kAttended + 3);
}

TEST(PathwayDecider, GivenLateDecision_WhenDecisionDateCorrectedIntoTime_ThenDeadlineMetOnTime) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(), ev::Attended(), ev::Decision(kAttended + 25)}))
      .When(cmd::Correct("evt-3", kAttended + 20));
  spec.Then({ev::Corrected("evt-3", "klinisk_beslutning", kAttended + 20, "CT", "D01CT")});
  const v1::Pathway state = StateAfterDecision(spec);
  ExpectDeadline(state, DeadlineId(kTsbAttendanceDecisionOut), v1::MET_ON_TIME, kAttended,
                 kAttended + 21, kAttended + 20);
  ExpectOpen(state, DeadlineId(kTsbDecisionEvaluation), kAttended + 20, kAttended + 27);
}

TEST(PathwayDecider, GivenDecisionCU_WhenOutcomeCorrectedToCT_ThenRegisterCodeFollows) {
  Spec()
      .Given(History({ev::Started(), ev::Attended(), ev::Decision(kAttended + 10, "CU")}))
      .When(cmd::Correct("evt-3", kAttended + 10, "CT"))
      .Then({ev::Corrected("evt-3", "klinisk_beslutning", kAttended + 10, "CT", "D01CT")});
}

TEST(PathwayDecider, GivenDecision_WhenCorrectedWithoutOutcome_ThenOutcomeKept) {
  Spec()
      .Given(History({ev::Started(), ev::Attended(), ev::Decision(kAttended + 10, "CU")}))
      .When(cmd::Correct("evt-3", kAttended + 11))
      .Then({ev::Corrected("evt-3", "klinisk_beslutning", kAttended + 11, "CU", "D01CU")});
}

TEST(PathwayDecider,
     GivenLegalDeadlineMetByFirstAttendance_WhenAttendanceCorrectedPastIt_ThenMetLate) {
  Opts o;
  o.legal = kAttended + 1;
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended(o)).When(cmd::Correct("evt-2", kAttended + 3));
  ExpectDeadline(StateAfterDecision(spec), LegalId(), v1::MET_LATE, kStart, kAttended + 1,
                 kAttended + 3);
}

TEST(PathwayDecider, GivenCorrectedAttendance_WhenTheCorrectionIsCorrected_ThenLatestDateCounts) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(), ev::Attended(),
                      ev::Corrected("evt-2", "forste_fremmote", kAttended + 3, "", "D01")}))
      .When(cmd::Correct("evt-3", kAttended + 1));
  spec.Then({ev::Corrected("evt-3", "forste_fremmote", kAttended + 1, "", "D01")});
  const v1::Pathway state = StateAfterDecision(spec);
  ExpectOpen(state, DeadlineId(kTsbAttendanceDecisionOut), kAttended + 1, kAttended + 22);
  ASSERT_EQ(state.timeline_size(), 4);
  EXPECT_TRUE(state.timeline(1).superseded());
  EXPECT_TRUE(state.timeline(2).superseded());
  EXPECT_FALSE(state.timeline(3).superseded());
}

TEST(PathwayDecider,
     GivenCorrectedAttendance_WhenTheSupersededOriginalIsCorrected_ThenFailedPrecondition) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(), ev::Attended(),
                      ev::Corrected("evt-2", "forste_fremmote", kAttended + 3, "", "D01")}))
      .When(cmd::Correct("evt-2", kAttended + 1));
  ExpectFailure(spec, absl::StatusCode::kFailedPrecondition, {"correction rule"});
}

TEST(PathwayDecider, GivenStartedPathway_WhenTheStartEventIsCorrected_ThenInvalidArgument) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended()).When(cmd::Correct("evt-1", kStart + 1));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"corrects_event_id"});
}

TEST(PathwayDecider, GivenScheduledAppointment_WhenItsEventIsCorrected_ThenInvalidArgument) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(), ev::AppointmentScheduled("appt-1", At(2026, 3, 9, 9))}))
      .When(cmd::Correct("evt-2", kAttended));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"corrects_event_id"});
}

TEST(PathwayDecider, GivenFirstAttendance_WhenUnknownEventIsCorrected_ThenInvalidArgument) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended()).When(cmd::Correct("evt-99", kAttended));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"corrects_event_id"});
}

TEST(PathwayDecider, GivenFirstAttendance_WhenCorrectedWithoutReason_ThenInvalidArgument) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended()).When(cmd::Correct("evt-2", kAttended + 1, "", ""));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"reason"});
}

TEST(PathwayDecider, GivenDecision_WhenCorrectedToUnknownOutcome_ThenInvalidArgument) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(), ev::Attended(), ev::Decision(kAttended + 10)}))
      .When(cmd::Correct("evt-3", kAttended + 10, "CX"));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"outcome"});
}

TEST(PathwayDecider, GivenFirstAttendance_WhenCorrectedToAFutureDate_ThenInvalidArgument) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended())
      .When(cmd::Correct("evt-2", kAttended + 5, "", kCorrectionReason, /*today=*/kAttended + 4));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"date", "future"});
}

TEST(PathwayDecider, GivenFirstAttendance_WhenCorrectedToBeforeTheStart_ThenInvalidArgument) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended()).When(cmd::Correct("evt-2", kStart - 1));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"date"});
}

// RecordPoint rejects an outcome on a point without outcomes; a correction must not be a way
// around that (it would store outcome "CU" on the first attendance and emit register code
// "D01CU" for it).
TEST(PathwayDecider,
     GivenFirstAttendance_WhenCorrectedWithAnOutcome_ThenInvalidArgumentNamingOutcome) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended()).When(cmd::Correct("evt-2", kAttended, "CU"));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"outcome"});
}

// The decision was made at the first attendance's date once the attendance is corrected, and it
// was recorded after the attendance: the correction must not make the decision look earlier.
TEST(PathwayDecider,
     GivenDecisionOn12March_WhenAttendanceCorrectedTo12March_ThenDecisionDeadlineStillMet) {
  const Day decided = kAttended + 3;
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(), ev::Attended(), ev::Decision(decided)}))
      .When(cmd::Correct("evt-2", decided));
  const v1::Pathway state = StateAfterDecision(spec);
  ExpectDeadline(state, DeadlineId(kTsbAttendanceDecisionOut), v1::MET_ON_TIME, decided,
                 decided + 21, decided);
}

// ===============================================================================================
// Patient-postponed attribution (pasientutsatt)
// ===============================================================================================

TEST(PathwayDecider, GivenOpenDecisionDeadline_WhenPatientPostponed_ThenPointRecordedWithD01L) {
  Spec()
      .Given(StartedAndAttended())
      .When(cmd::Postponed(kAttended + 5))
      .Then({ev::Postponed(kAttended + 5)});
}

TEST(PathwayDecider,
     GivenOpenDecisionDeadline_WhenPatientPostponedWithinItsSpan_ThenAttributedToPatient) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended()).When(cmd::Postponed(kAttended + 5));
  const v1::Pathway state = StateAfterDecision(spec);
  const v1::Deadline* d = FindDeadline(state, DeadlineId(kTsbAttendanceDecisionOut));
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(d->attributed_to_patient());
}

TEST(PathwayDecider, GivenFirstAttendance_WhenPatientPostponedTheSameDay_ThenAttributedToPatient) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended()).When(cmd::Postponed(kAttended));
  const v1::Pathway state = StateAfterDecision(spec);
  const v1::Deadline* d = FindDeadline(state, DeadlineId(kTsbAttendanceDecisionOut));
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(d->attributed_to_patient()) << "the span includes its opening day";
}

TEST(PathwayDecider, GivenOpenDecisionDeadline_WhenNothingPostponed_ThenNotAttributed) {
  const v1::Pathway state = Fold(StartedAndAttended());
  const v1::Deadline* d = FindDeadline(state, DeadlineId(kTsbAttendanceDecisionOut));
  ASSERT_NE(d, nullptr);
  EXPECT_FALSE(d->attributed_to_patient());
}

TEST(PathwayDecider,
     GivenMetDecisionDeadline_WhenPatientPostponedAfterIt_ThenOnlyTheOpenDeadlineIsAttributed) {
  const Day decided = kAttended + 10;
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(), ev::Attended(), ev::Decision(decided)}))
      .When(cmd::Postponed(decided + 2));
  const v1::Pathway state = StateAfterDecision(spec);
  const v1::Deadline* met = FindDeadline(state, DeadlineId(kTsbAttendanceDecisionOut));
  const v1::Deadline* open = FindDeadline(state, DeadlineId(kTsbDecisionEvaluation));
  ASSERT_NE(met, nullptr);
  ASSERT_NE(open, nullptr);
  EXPECT_FALSE(met->attributed_to_patient()) << "postponed after the deadline was met";
  EXPECT_TRUE(open->attributed_to_patient());
}

TEST(PathwayDecider,
     GivenPostponedBeforeFirstAttendance_WhenAttended_ThenDecisionDeadlineNotAttributed) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(), ev::Postponed(kAttended - 2)})).When(cmd::Attend());
  const v1::Pathway state = StateAfterDecision(spec);
  const v1::Deadline* d = FindDeadline(state, DeadlineId(kTsbAttendanceDecisionOut));
  ASSERT_NE(d, nullptr);
  EXPECT_FALSE(d->attributed_to_patient()) << "postponed before the deadline opened";
}

TEST(PathwayDecider, GivenPostponedWithinSpan_WhenBreachRecorded_ThenBreachAttributedToPatient) {
  Spec()
      .Given(History({ev::Started(), ev::Attended(), ev::Postponed(kAttended + 5)}))
      .When(cmd::Breach(DeadlineId(kTsbAttendanceDecisionOut), kAttended + 22))
      .Then({ev::Breached(DeadlineId(kTsbAttendanceDecisionOut), kTsbAttendanceDecisionOut,
                          kAttended + 21, /*attributed_to_patient=*/true)});
}

TEST(PathwayDecider, GivenSecondPostponement_WhenRecorded_ThenOccurrenceTwo) {
  Spec()
      .Given(History({ev::Started(), ev::Attended(), ev::Postponed(kAttended + 5)}))
      .When(cmd::Postponed(kAttended + 12))
      .Then({ev::Postponed(kAttended + 12, /*occurrence=*/2)});
}

// ===============================================================================================
// Occurrence, order, outcome and date rules of RecordPoint
// ===============================================================================================

TEST(PathwayDecider, GivenTwoClinicalDecisions_WhenThirdRecorded_ThenOccurrenceRuleFails) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(), ev::Attended(), ev::Decision(kAttended + 10, "CU"),
                      ev::Decision(kAttended + 30, "CT", 2)}))
      .When(cmd::Decision(kAttended + 40, "CT"));
  ExpectFailure(spec, absl::StatusCode::kFailedPrecondition,
                {"occurrence rule", "klinisk_beslutning", "2"});
}

TEST(PathwayDecider, GivenFirstAttendance_WhenSecondFirstAttendance_ThenOccurrenceRuleFails) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended()).When(cmd::Attend(kAttended + 1));
  ExpectFailure(spec, absl::StatusCode::kFailedPrecondition,
                {"occurrence rule", "forste_fremmote"});
}

TEST(PathwayDecider, GivenNoFirstAttendance_WhenClinicalDecision_ThenOrderRuleFails) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started()})).When(cmd::Decision(kAttended));
  ExpectFailure(spec, absl::StatusCode::kFailedPrecondition,
                {"order rule", "klinisk_beslutning", "forste_fremmote"});
}

TEST(PathwayDecider, GivenNoDecision_WhenEvaluation_ThenOrderRuleFails) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended()).When(cmd::Evaluation(kAttended + 5));
  ExpectFailure(spec, absl::StatusCode::kFailedPrecondition,
                {"order rule", "evaluering", "klinisk_beslutning"});
}

TEST(PathwayDecider, GivenNoDetoxEnded_WhenNextTreatmentStarted_ThenOrderRuleFails) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended()).When(cmd::NextTreatment(kAttended + 5));
  ExpectFailure(spec, absl::StatusCode::kFailedPrecondition,
                {"order rule", "annen_behandling_start", "avrusning_avsluttet"});
}

// The order rule is about the course of care: a decision dated before the first attendance is
// accepted today, and then the attendance -> decision deadline can never be met (the engine only
// looks for a decision after the attendance) and the timer breaches it.
TEST(PathwayDecider, GivenFirstAttendanceOn9March_WhenDecisionDatedBeforeIt_ThenOrderRuleFails) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended()).When(cmd::Decision(kAttended - 4));
  ExpectFailure(spec, absl::StatusCode::kFailedPrecondition, {"order rule"});
  if (spec.result().ok()) {
    // What accepting it leads to: a recorded decision, and a decision deadline that stays open.
    const v1::Pathway state = StateAfterDecision(spec);
    const v1::Deadline* d = FindDeadline(state, DeadlineId(kTsbAttendanceDecisionOut));
    ASSERT_NE(d, nullptr);
    ADD_FAILURE() << "after the decision: " << d->ShortDebugString();
  }
}

TEST(PathwayDecider,
     GivenFirstAttendance_WhenDecisionWithoutOutcome_ThenInvalidArgumentNamingOutcome) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended()).When(cmd::Decision(kAttended + 3, ""));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"outcome", "CU"});
}

TEST(PathwayDecider,
     GivenFirstAttendance_WhenDecisionWithUnknownOutcome_ThenInvalidArgumentNamingOutcome) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended()).When(cmd::Decision(kAttended + 3, "CX"));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"outcome"});
}

TEST(PathwayDecider, GivenFirstAttendance_WhenDecisionOutcomeInLowerCase_ThenInvalidArgument) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended()).When(cmd::Decision(kAttended + 3, "cu"));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"outcome"});
}

TEST(PathwayDecider,
     GivenStarted_WhenFirstAttendanceWithAnOutcome_ThenInvalidArgumentNamingOutcome) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started()})).When(cmd::Point("forste_fremmote", kAttended, "CU"));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"outcome", "forste_fremmote"});
}

TEST(PathwayDecider, GivenStarted_WhenUnknownPoint_ThenInvalidArgumentNamingPointId) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started()}))
      .When(cmd::Point("intern_henvisning_mottatt_ocd_team", kAttended));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"point_id"});  // not a TSB point
}

TEST(PathwayDecider, GivenStarted_WhenStartPointRecorded_ThenFailedPrecondition) {
  Spec()
      .Given(History({ev::Started()}))
      .When(cmd::Point("start", kAttended))
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

TEST(PathwayDecider, GivenStarted_WhenEndPointRecorded_ThenFailedPrecondition) {
  Spec()
      .Given(History({ev::Started()}))
      .When(cmd::Point("avslutning", kAttended, "gjennomfort"))
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

TEST(PathwayDecider, GivenStarted_WhenPointDatedBeforeTheStart_ThenInvalidArgumentNamingDate) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started()})).When(cmd::Attend(kStart - 1));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"date", "before"});
}

TEST(PathwayDecider, GivenStarted_WhenPointDatedOnTheStart_ThenAccepted) {
  Spec().Given(History({ev::Started()})).When(cmd::Attend(kStart)).Then({ev::Attended(kStart)});
}

TEST(PathwayDecider, GivenStarted_WhenPointDatedTomorrow_ThenInvalidArgumentNamingDate) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started()}))
      .When(cmd::Point("forste_fremmote", kAttended, "", kAttended - 1));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"date", "future"});
}

TEST(PathwayDecider, GivenNothing_WhenPointRecorded_ThenNotFound) {
  Spec().Given({}).When(cmd::Attend()).ThenFails(absl::StatusCode::kNotFound);
}

TEST(PathwayDecider, GivenStarted_WhenPointRecordedWithInvalidPathwayId_ThenInvalidArgument) {
  RecordPoint c = cmd::Attend();
  c.pathway_id = "";
  Spec().Given(History({ev::Started()})).When(c).ThenFails(absl::StatusCode::kInvalidArgument);
}

// --- Register codes ------------------------------------------------------------------------------

TEST(PathwayDecider, GivenTsbDecision_WhenFeedbackToolUsed_ThenRegisterCodeD01UF) {
  Spec()
      .Given(History({ev::Started(), ev::Attended(), ev::Decision(kAttended + 10)}))
      .When(cmd::Point("feedbackverktoy_brukt", kAttended + 30, "F"))
      .Then({ev::Point("feedbackverktoy_brukt", catalogue::v1::FEEDBACK_TOOL_USED, kAttended + 30,
                       "F", "D01UF")});
}

TEST(PathwayDecider, GivenAdultsFirstAttendance_WhenDecisionCU_ThenRegisterCodeD11CU) {
  Spec()
      .Given(History({ev::Started(Adults()), ev::Attended(kAttended, "D11")}))
      .When(cmd::Decision(kAttended + 10, "CU"))
      .Then({ev::Decision(kAttended + 10, "CU", 1, "D11")});
}

TEST(PathwayDecider, GivenAdultsPathway_WhenPatientPostponed_ThenRegisterCodeD11L) {
  Spec()
      .Given(History({ev::Started(Adults())}))
      .When(cmd::Postponed(kStart + 3))
      .Then({ev::Point("pasientutsatt", catalogue::v1::PATIENT_POSTPONED, kStart + 3, "", "D11L")});
}

// ===============================================================================================
// The legal deadline (juridisk frist)
// ===============================================================================================

TEST(PathwayDecider, GivenStartedWithLegalDeadline_ThenLegalDeadlineTrackedFromTheStart) {
  Opts o;
  o.legal = Day(2026, 4, 1);
  const v1::Pathway state = Fold(History({ev::Started(o)}));
  v1::Deadline expected;
  expected.set_deadline_id("pw-1/legal");
  expected.set_rule_id("legal");
  expected.set_kind(v1::LEGAL);
  expected.set_from_point("start");
  expected.set_to_point("forste_fremmote");  // the catalogue's legal_deadline_met_by
  *expected.mutable_opened_on() = es::ToProtoDate(kStart);
  *expected.mutable_due_date() = es::ToProtoDate(Day(2026, 4, 1));
  expected.set_status(v1::OPEN);
  ASSERT_EQ(state.deadlines_size(), 1);
  EXPECT_THAT(state.deadlines(0), EqualsProto(expected));
}

TEST(PathwayDecider, GivenStartedWithoutLegalDeadline_ThenNoLegalDeadline) {
  const v1::Pathway state = Fold(StartedAndAttended());
  EXPECT_EQ(FindDeadline(state, LegalId()), nullptr);
}

TEST(PathwayDecider, GivenLegalDeadline_WhenFirstAttendanceOnIt_ThenLegalDeadlineMetOnTime) {
  Opts o;
  o.legal = Day(2026, 4, 1);
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(o)})).When(cmd::Attend(Day(2026, 4, 1)));
  ExpectDeadline(StateAfterDecision(spec), LegalId(), v1::MET_ON_TIME, kStart, Day(2026, 4, 1),
                 Day(2026, 4, 1));
}

TEST(PathwayDecider, GivenLegalDeadline_WhenFirstAttendanceTheDayAfter_ThenLegalDeadlineMetLate) {
  Opts o;
  o.legal = Day(2026, 4, 1);
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(o)})).When(cmd::Attend(Day(2026, 4, 2)));
  ExpectDeadline(StateAfterDecision(spec), LegalId(), v1::MET_LATE, kStart, Day(2026, 4, 1),
                 Day(2026, 4, 2));
}

TEST(PathwayDecider, GivenLegalDeadline_WhenOtherPointsRecorded_ThenLegalDeadlineStaysOpen) {
  Opts o;
  o.legal = Day(2026, 4, 1);
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(o)})).When(cmd::Postponed(kStart + 5));
  const v1::Pathway state = StateAfterDecision(spec);
  ExpectOpen(state, LegalId(), kStart, Day(2026, 4, 1));
  EXPECT_TRUE(FindDeadline(state, LegalId())->attributed_to_patient());
}

TEST(PathwayDecider,
     GivenLegalDeadlinePassedWithoutAttendance_WhenBreachRecorded_ThenDeadlineBreached) {
  Opts o;
  o.legal = Day(2026, 4, 1);
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(o)}))
      .When(cmd::Breach(LegalId(), Day(2026, 4, 2)))
      .Then({ev::Breached(LegalId(), "legal", Day(2026, 4, 1))});
  const v1::Pathway state = StateAfterDecision(spec);
  const v1::Deadline* d = FindDeadline(state, LegalId());
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(d->breach_recorded());
  EXPECT_EQ(v1::DeadlineStatus_Name(d->status()), "OPEN");
}

TEST(PathwayDecider, GivenLegalDeadlineToday_WhenBreachRecorded_ThenFailedPrecondition) {
  Opts o;
  o.legal = Day(2026, 4, 1);
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(o)})).When(cmd::Breach(LegalId(), Day(2026, 4, 1)));
  ExpectFailure(spec, absl::StatusCode::kFailedPrecondition, {"breach rule"});
}

// ChangeLegalDeadline (the referral policy, after a corrected assessment)

Event LegalDeadlineChanged(std::optional<Day> legal, std::string reason = kCorrectionReason) {
  Event e;
  if (legal.has_value()) {
    *e.mutable_legal_deadline_changed()->mutable_legal_deadline() = es::ToProtoDate(*legal);
  }
  e.mutable_legal_deadline_changed()->set_reason(std::move(reason));
  return e;
}

ChangeLegalDeadline ChangeLegal(std::optional<Day> legal) {
  return ChangeLegalDeadline{
      .pathway_id = kId, .legal_deadline = legal, .reason = kCorrectionReason};
}

TEST(PathwayDecider,
     GivenLegalDeadline_WhenCorrectedToLaterDate_ThenLegalDeadlineMovesAndStaysOpen) {
  Opts o;
  o.legal = Day(2026, 4, 1);
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(o)}))
      .When(ChangeLegal(Day(2026, 4, 15)))
      .Then({LegalDeadlineChanged(Day(2026, 4, 15))});
  const v1::Pathway state = StateAfterDecision(spec);
  ExpectOpen(state, LegalId(), kStart, Day(2026, 4, 15));
  EXPECT_EQ(CountRule(state, "legal"), 1);
  EXPECT_THAT(state.timeline(state.timeline_size() - 1).detail(), HasSubstr("2026-04-15"));
}

TEST(PathwayDecider, GivenFirstAttendance_WhenLegalDeadlineCorrectedToBeforeIt_ThenMetLate) {
  Opts o;
  o.legal = kAttended + 5;
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended(o)).When(ChangeLegal(kAttended - 1));
  spec.Then({LegalDeadlineChanged(kAttended - 1)});
  ExpectDeadline(StateAfterDecision(spec), LegalId(), v1::MET_LATE, kStart, kAttended - 1,
                 kAttended);
}

TEST(PathwayDecider, GivenNoLegalDeadline_WhenCorrectionSetsOne_ThenLegalDeadlineTracked) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started()}))
      .When(ChangeLegal(Day(2026, 5, 4)))
      .Then({LegalDeadlineChanged(Day(2026, 5, 4))});
  ExpectOpen(StateAfterDecision(spec), LegalId(), kStart, Day(2026, 5, 4));
}

TEST(PathwayDecider, GivenLegalDeadline_WhenCorrectionRemovesIt_ThenNoLegalDeadline) {
  Opts o;
  o.legal = Day(2026, 4, 1);
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(o)}))
      .When(ChangeLegal(std::nullopt))
      .Then({LegalDeadlineChanged(std::nullopt)});
  EXPECT_EQ(FindDeadline(StateAfterDecision(spec), LegalId()), nullptr);
}

TEST(PathwayDecider, GivenBreachedLegalDeadline_WhenMovedLater_ThenFailedPreconditionBreachKept) {
  Opts o;
  o.legal = Day(2026, 4, 1);
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(o), ev::Breached(LegalId(), "legal", Day(2026, 4, 1))}))
      .When(ChangeLegal(Day(2026, 4, 20)));
  ExpectFailure(spec, absl::StatusCode::kFailedPrecondition, {"already breached"});
  const v1::Deadline* d = FindDeadline(spec.state(), LegalId());
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(d->breach_recorded());
  EXPECT_EQ(d->due_date().SerializeAsString(),
            es::ToProtoDate(Day(2026, 4, 1)).SerializeAsString());
}

TEST(PathwayDecider, GivenBreachedLegalDeadline_WhenRemoved_ThenFailedPrecondition) {
  Opts o;
  o.legal = Day(2026, 4, 1);
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(o), ev::Breached(LegalId(), "legal", Day(2026, 4, 1))}))
      .When(ChangeLegal(std::nullopt));
  ExpectFailure(spec, absl::StatusCode::kFailedPrecondition, {"already breached"});
}

TEST(PathwayDecider, GivenLegalDeadline_WhenChangedToTheSameDate_ThenFailedPrecondition) {
  Opts o;
  o.legal = Day(2026, 4, 1);
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(o)})).When(ChangeLegal(Day(2026, 4, 1)));
  ExpectFailure(spec, absl::StatusCode::kFailedPrecondition, {"legal deadline"});
}

TEST(PathwayDecider, GivenLegalDeadline_WhenChangedToBeforeTheStart_ThenInvalidArgument) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started()})).When(ChangeLegal(kStart - 1));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"legal_deadline"});
}

TEST(PathwayDecider, GivenEndedPathway_WhenLegalDeadlineChanged_ThenFailedPrecondition) {
  Spec()
      .Given(History({ev::Started(), ev::Ended(kAttended)}))
      .When(ChangeLegal(Day(2026, 5, 4)))
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

TEST(PathwayDecider, GivenNoPathway_WhenLegalDeadlineChanged_ThenNotFound) {
  Spec().Given({}).When(ChangeLegal(Day(2026, 5, 4))).ThenFails(absl::StatusCode::kNotFound);
}

// ===============================================================================================
// RecordBreach
// ===============================================================================================

TEST(PathwayDecider, GivenOpenDeadlineOnItsDueDate_WhenBreachRecorded_ThenFailedPrecondition) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended())
      .When(cmd::Breach(DeadlineId(kTsbAttendanceDecisionOut), kAttended + 21));
  ExpectFailure(spec, absl::StatusCode::kFailedPrecondition, {"breach rule"});
}

TEST(PathwayDecider, GivenBreachRecorded_WhenRecordedAgain_ThenFailedPrecondition) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(), ev::Attended(),
                      ev::Breached(DeadlineId(kTsbAttendanceDecisionOut), kTsbAttendanceDecisionOut,
                                   kAttended + 21)}))
      .When(cmd::Breach(DeadlineId(kTsbAttendanceDecisionOut), kAttended + 30));
  ExpectFailure(spec, absl::StatusCode::kFailedPrecondition, {"breach rule"});
}

TEST(PathwayDecider, GivenBreachRecorded_ThenDeadlineStaysOpenWithBreachRecorded) {
  const v1::Pathway state =
      Fold(History({ev::Started(), ev::Attended(),
                    ev::Breached(DeadlineId(kTsbAttendanceDecisionOut), kTsbAttendanceDecisionOut,
                                 kAttended + 21)}));
  ExpectOpen(state, DeadlineId(kTsbAttendanceDecisionOut), kAttended, kAttended + 21);
  EXPECT_TRUE(FindDeadline(state, DeadlineId(kTsbAttendanceDecisionOut))->breach_recorded());
  EXPECT_EQ(state.timeline(2).what(), "DeadlineBreached");
  EXPECT_EQ(state.timeline(2).detail(), DeadlineId(kTsbAttendanceDecisionOut));
}

TEST(PathwayDecider, GivenBreachRecorded_WhenDecisionLate_ThenMetLateAndBreachKept) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(), ev::Attended(),
                      ev::Breached(DeadlineId(kTsbAttendanceDecisionOut), kTsbAttendanceDecisionOut,
                                   kAttended + 21)}))
      .When(cmd::Decision(kAttended + 25));
  const v1::Pathway state = StateAfterDecision(spec);
  ExpectDeadline(state, DeadlineId(kTsbAttendanceDecisionOut), v1::MET_LATE, kAttended,
                 kAttended + 21, kAttended + 25);
  EXPECT_TRUE(FindDeadline(state, DeadlineId(kTsbAttendanceDecisionOut))->breach_recorded());
}

TEST(PathwayDecider, GivenMetDeadline_WhenBreachRecorded_ThenFailedPrecondition) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(), ev::Attended(), ev::Decision(kAttended + 25)}))
      .When(cmd::Breach(DeadlineId(kTsbAttendanceDecisionOut), kAttended + 30));
  ExpectFailure(spec, absl::StatusCode::kFailedPrecondition, {"breach rule"});
}

TEST(PathwayDecider, GivenStarted_WhenBreachOfUnknownDeadline_ThenNotFound) {
  Spec()
      .Given(StartedAndAttended())
      .When(cmd::Breach(DeadlineId(kTsbAttendanceDecisionIn), kAttended + 30))
      .ThenFails(absl::StatusCode::kNotFound);
}

TEST(PathwayDecider, GivenNothing_WhenBreachRecorded_ThenNotFound) {
  Spec()
      .Given({})
      .When(cmd::Breach(DeadlineId(kTsbAttendanceDecisionOut), kAttended + 30))
      .ThenFails(absl::StatusCode::kNotFound);
}

// ===============================================================================================
// EndPathway and TransferPathway
// ===============================================================================================

TEST(PathwayDecider, GivenActivePathway_WhenEnded_ThenPathwayEndedWithReasonAndDate) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended()).When(cmd::End(kAttended + 12, "annen_arsak"));
  ASSERT_TRUE(spec.result().ok()) << spec.result().status();
  ASSERT_EQ(spec.result()->size(), 1u);
  const v1::PathwayEnded& e = spec.result()->at(0).ended();
  EXPECT_EQ(e.reason(), "annen_arsak");
  EXPECT_EQ(es::FromProtoDate(e.date()), kAttended + 12);
  const v1::Pathway state = StateAfterDecision(spec);
  EXPECT_EQ(v1::PathwayStatus_Name(state.status()), "ENDED");
  EXPECT_EQ(state.end_reason(), "annen_arsak");
  EXPECT_EQ(es::FromProtoDate(state.end_date()), kAttended + 12);
  EXPECT_EQ(state.timeline(state.timeline_size() - 1).point_id(), "avslutning");
}

TEST(PathwayDecider, GivenOpenAndMetDeadlines_WhenEnded_ThenOpenOnesCancelledAndMetOnesKept) {
  Opts o;
  o.legal = kAttended + 5;
  const Day decided = kAttended + 10;
  const Day ended = kAttended + 12;
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(o), ev::Attended(), ev::Decision(decided)}))
      .When(cmd::End(ended));
  const v1::Pathway state = StateAfterDecision(spec);
  ExpectDeadline(state, DeadlineId(kTsbAttendanceDecisionOut), v1::MET_ON_TIME, kAttended,
                 kAttended + 21, decided);
  ExpectDeadline(state, LegalId(), v1::MET_ON_TIME, kStart, kAttended + 5, kAttended);
  ExpectDeadline(state, DeadlineId(kTsbDecisionEvaluation), v1::CANCELLED, decided, decided + 7,
                 ended);
}

TEST(PathwayDecider, GivenBreachedDeadline_WhenEnded_ThenCancelledAndBreachKept) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(), ev::Attended(),
                      ev::Breached(DeadlineId(kTsbAttendanceDecisionOut), kTsbAttendanceDecisionOut,
                                   kAttended + 21)}))
      .When(cmd::End(kAttended + 30));
  const v1::Pathway state = StateAfterDecision(spec);
  ExpectDeadline(state, DeadlineId(kTsbAttendanceDecisionOut), v1::CANCELLED, kAttended,
                 kAttended + 21, kAttended + 30);
  EXPECT_TRUE(FindDeadline(state, DeadlineId(kTsbAttendanceDecisionOut))->breach_recorded());
}

TEST(PathwayDecider, GivenEndedPathway_WhenPointRecorded_ThenFailedPrecondition) {
  Spec()
      .Given(History({ev::Started(), ev::Attended(), ev::Ended(kAttended + 2)}))
      .When(cmd::Decision(kAttended + 3))
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

TEST(PathwayDecider, GivenEndedPathway_WhenPointCorrected_ThenFailedPrecondition) {
  Spec()
      .Given(History({ev::Started(), ev::Attended(), ev::Ended(kAttended + 2)}))
      .When(cmd::Correct("evt-2", kAttended + 1))
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

TEST(PathwayDecider, GivenEndedPathway_WhenEndedAgain_ThenFailedPrecondition) {
  Spec()
      .Given(History({ev::Started(), ev::Ended(kAttended)}))
      .When(cmd::End(kAttended + 1))
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

TEST(PathwayDecider, GivenEndedPathway_WhenAppointmentScheduled_ThenFailedPrecondition) {
  Spec()
      .Given(History({ev::Started(), ev::Ended(kAttended)}))
      .When(ScheduleAppointment{.pathway_id = kId,
                                .appointment_id = "appt-1",
                                .at = At(2026, 3, 20, 9),
                                .kind = "treatment"})
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

TEST(PathwayDecider, GivenEndedPathway_WhenCoordinatorAssigned_ThenFailedPrecondition) {
  Spec()
      .Given(History({ev::Started(), ev::Ended(kAttended)}))
      .When(AssignCoordinator{.pathway_id = kId, .coordinator_id = "coord-8"})
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

TEST(PathwayDecider, GivenCancelledDeadline_WhenBreachRecorded_ThenFailedPrecondition) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(), ev::Attended(), ev::Ended(kAttended + 2)}))
      .When(cmd::Breach(DeadlineId(kTsbAttendanceDecisionOut), kAttended + 30));
  ExpectFailure(spec, absl::StatusCode::kFailedPrecondition, {"breach rule"});
}

TEST(PathwayDecider,
     GivenActivePathway_WhenEndedWithUnknownReason_ThenInvalidArgumentNamingReason) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended()).When(cmd::End(kAttended + 2, "done"));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"reason", "gjennomfort"});
}

TEST(PathwayDecider, GivenActivePathway_WhenEndedWithoutReason_ThenInvalidArgumentNamingReason) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended()).When(cmd::End(kAttended + 2, ""));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"reason"});
}

TEST(PathwayDecider, GivenActivePathway_WhenEndedBeforeTheStart_ThenInvalidArgumentNamingDate) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended()).When(cmd::End(kStart - 1));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"date"});
}

TEST(PathwayDecider, GivenActivePathway_WhenEndedTomorrow_ThenInvalidArgumentNamingDate) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended()).When(cmd::End(kAttended + 3, "gjennomfort", kAttended + 2));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"date", "future"});
}

TEST(PathwayDecider, GivenNothing_WhenEnded_ThenNotFound) {
  Spec().Given({}).When(cmd::End(kAttended)).ThenFails(absl::StatusCode::kNotFound);
}

TEST(PathwayDecider, GivenActivePathway_WhenTransferred_ThenPathwayTransferred) {
  Spec()
      .Given(StartedAndAttended())
      .When(cmd::Transfer(kAttended + 5))
      .Then({ev::Transferred(kAttended + 5)});
}

TEST(PathwayDecider, GivenOpenDeadline_WhenTransferred_ThenCancelledAndPathwayClosed) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended()).When(cmd::Transfer(kAttended + 5));
  const v1::Pathway state = StateAfterDecision(spec);
  EXPECT_EQ(v1::PathwayStatus_Name(state.status()), "TRANSFERRED");
  EXPECT_EQ(state.transferred_to(), kOtherUnit);
  EXPECT_EQ(state.unit(), kUnit);
  EXPECT_EQ(es::FromProtoDate(state.end_date()), kAttended + 5);
  ExpectDeadline(state, DeadlineId(kTsbAttendanceDecisionOut), v1::CANCELLED, kAttended,
                 kAttended + 21, kAttended + 5);
}

TEST(PathwayDecider, GivenTransferredPathway_WhenPointRecorded_ThenFailedPrecondition) {
  Spec()
      .Given(History({ev::Started(), ev::Attended(), ev::Transferred(kAttended + 5)}))
      .When(cmd::Decision(kAttended + 6))
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

TEST(PathwayDecider, GivenTransferredPathway_WhenEnded_ThenFailedPrecondition) {
  Spec()
      .Given(History({ev::Started(), ev::Transferred(kAttended)}))
      .When(cmd::End(kAttended + 1))
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

TEST(PathwayDecider, GivenTransferredPathway_WhenTransferredAgain_ThenFailedPrecondition) {
  Spec()
      .Given(History({ev::Started(), ev::Transferred(kAttended)}))
      .When(cmd::Transfer(kAttended + 1, "sus-tsb"))
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

TEST(PathwayDecider,
     GivenActivePathway_WhenTransferredToItsOwnUnit_ThenInvalidArgumentNamingToUnit) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended()).When(cmd::Transfer(kAttended + 5, kUnit));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"to_unit"});
}

TEST(PathwayDecider, GivenActivePathway_WhenTransferredInTheFuture_ThenInvalidArgument) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(StartedAndAttended()).When(cmd::Transfer(kAttended + 5, kOtherUnit, kAttended + 4));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"date"});
}

// ===============================================================================================
// Appointments
// ===============================================================================================

ScheduleAppointment Schedule(std::string id, absl::Time at = At(2026, 3, 20, 9),
                             std::string kind = "treatment") {
  return ScheduleAppointment{
      .pathway_id = kId, .appointment_id = std::move(id), .at = at, .kind = std::move(kind)};
}
RecordAttendance Attendance(std::string id, bool attended) {
  return RecordAttendance{.pathway_id = kId, .appointment_id = std::move(id), .attended = attended};
}

TEST(PathwayDecider, GivenActivePathway_WhenAppointmentScheduled_ThenAppointmentScheduled) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started()}))
      .When(Schedule("appt-1", At(2026, 3, 9, 9), "first_attendance"));
  spec.Then({ev::AppointmentScheduled("appt-1", At(2026, 3, 9, 9), "first_attendance")});
  const v1::Pathway state = StateAfterDecision(spec);
  ASSERT_EQ(state.appointments_size(), 1);
  EXPECT_EQ(state.appointments(0).appointment_id(), "appt-1");
  EXPECT_EQ(state.appointments(0).status(), "scheduled");
  EXPECT_EQ(state.appointments(0).kind(), "first_attendance");
}

TEST(PathwayDecider, GivenScheduledAppointment_WhenScheduledAgain_ThenAlreadyExists) {
  Spec()
      .Given(History({ev::Started(), ev::AppointmentScheduled("appt-1", At(2026, 3, 20, 9))}))
      .When(Schedule("appt-1", At(2026, 3, 21, 9)))
      .ThenFails(absl::StatusCode::kAlreadyExists);
}

TEST(PathwayDecider, GivenActivePathway_WhenAppointmentScheduledWithoutTime_ThenInvalidArgument) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started()})).When(Schedule("appt-1", absl::InfinitePast()));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"at"});
}

TEST(PathwayDecider, GivenScheduledAppointment_WhenAttended_ThenAttendedAndNoMissedCount) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(), ev::AppointmentScheduled("appt-1", At(2026, 3, 20, 9))}))
      .When(Attendance("appt-1", true));
  spec.Then({ev::AppointmentAttended("appt-1")});
  const v1::Pathway state = StateAfterDecision(spec);
  EXPECT_EQ(state.appointments(0).status(), "attended");
  EXPECT_EQ(state.missed_appointments(), 0);
}

TEST(PathwayDecider, GivenScheduledAppointment_WhenMissed_ThenMissedWithCountOne) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(), ev::AppointmentScheduled("appt-1", At(2026, 3, 20, 9))}))
      .When(Attendance("appt-1", false));
  spec.Then({ev::AppointmentMissed("appt-1", 1)});
  const v1::Pathway state = StateAfterDecision(spec);
  EXPECT_EQ(state.appointments(0).status(), "missed");
  EXPECT_EQ(state.missed_appointments(), 1);
}

TEST(PathwayDecider, GivenOneMissedAppointment_WhenAnotherMissed_ThenMissedCountTwo) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(), ev::AppointmentScheduled("appt-1", At(2026, 3, 20, 9)),
                      ev::AppointmentScheduled("appt-2", At(2026, 3, 27, 9)),
                      ev::AppointmentScheduled("appt-3", At(2026, 4, 3, 9)),
                      ev::AppointmentMissed("appt-1", 1), ev::AppointmentAttended("appt-2")}))
      .When(Attendance("appt-3", false));
  spec.Then({ev::AppointmentMissed("appt-3", 2)});
  const v1::Pathway state = StateAfterDecision(spec);
  EXPECT_EQ(state.missed_appointments(), 2);
  EXPECT_EQ(state.appointments(0).status(), "missed");
  EXPECT_EQ(state.appointments(1).status(), "attended");
  EXPECT_EQ(state.appointments(2).status(), "missed");
}

TEST(PathwayDecider, GivenAttendedAppointment_WhenAttendanceRecordedAgain_ThenFailedPrecondition) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(), ev::AppointmentScheduled("appt-1", At(2026, 3, 20, 9)),
                      ev::AppointmentAttended("appt-1")}))
      .When(Attendance("appt-1", true));
  ExpectFailure(spec, absl::StatusCode::kFailedPrecondition, {"appt-1"});
}

TEST(PathwayDecider, GivenMissedAppointment_WhenRecordedAsAttended_ThenFailedPrecondition) {
  Spec()
      .Given(History({ev::Started(), ev::AppointmentScheduled("appt-1", At(2026, 3, 20, 9)),
                      ev::AppointmentMissed("appt-1", 1)}))
      .When(Attendance("appt-1", true))
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

TEST(PathwayDecider, GivenActivePathway_WhenAttendanceOfUnknownAppointment_ThenNotFound) {
  Spec()
      .Given(History({ev::Started(), ev::AppointmentScheduled("appt-1", At(2026, 3, 20, 9))}))
      .When(Attendance("appt-9", false))
      .ThenFails(absl::StatusCode::kNotFound);
}

// ===============================================================================================
// Collaboration meetings and coordinators
// ===============================================================================================

ScheduleMeeting Meeting(std::string id, absl::Time at = At(2026, 3, 25, 12)) {
  return ScheduleMeeting{
      .pathway_id = kId, .meeting_id = std::move(id), .at = at, .municipal_contact = Contact()};
}
RecordMeetingHeld Held(std::string id, Day date, Day today = kToday) {
  return RecordMeetingHeld{
      .pathway_id = kId, .meeting_id = std::move(id), .date = date, .today = today};
}

TEST(PathwayDecider, GivenActivePathway_WhenMeetingScheduled_ThenMeetingScheduledWithContact) {
  Spec()
      .Given(History({ev::Started()}))
      .When(Meeting("mtg-1"))
      .Then({ev::MeetingScheduled("mtg-1", At(2026, 3, 25, 12))});
}

TEST(PathwayDecider, GivenScheduledMeeting_WhenScheduledAgain_ThenAlreadyExists) {
  Spec()
      .Given(History({ev::Started(), ev::MeetingScheduled("mtg-1", At(2026, 3, 25, 12))}))
      .When(Meeting("mtg-1", At(2026, 3, 26, 12)))
      .ThenFails(absl::StatusCode::kAlreadyExists);
}

TEST(PathwayDecider, GivenScheduledMeeting_WhenHeld_ThenMeetingHeldOnTheTimeline) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(), ev::MeetingScheduled("mtg-1", At(2026, 3, 25, 12))}))
      .When(Held("mtg-1", Day(2026, 3, 25)));
  spec.Then({ev::MeetingHeld("mtg-1", Day(2026, 3, 25))});
  const v1::Pathway state = StateAfterDecision(spec);
  const v1::TimelineEntry& last = state.timeline(state.timeline_size() - 1);
  EXPECT_EQ(last.what(), "CollaborationMeetingHeld");
  EXPECT_EQ(last.detail(), "mtg-1");
  EXPECT_EQ(es::FromProtoDate(last.date()), Day(2026, 3, 25));
  EXPECT_THAT(DeadlineIds(state), IsEmpty());  // a meeting is not a measurement point
}

TEST(PathwayDecider, GivenHeldMeeting_WhenHeldAgain_ThenFailedPrecondition) {
  Spec()
      .Given(History({ev::Started(), ev::MeetingScheduled("mtg-1", At(2026, 3, 25, 12)),
                      ev::MeetingHeld("mtg-1", Day(2026, 3, 25))}))
      .When(Held("mtg-1", Day(2026, 3, 26)))
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

TEST(PathwayDecider, GivenActivePathway_WhenUnscheduledMeetingHeld_ThenNotFound) {
  Spec()
      .Given(History({ev::Started(), ev::MeetingScheduled("mtg-1", At(2026, 3, 25, 12))}))
      .When(Held("mtg-2", Day(2026, 3, 25)))
      .ThenFails(absl::StatusCode::kNotFound);
}

TEST(PathwayDecider, GivenScheduledMeeting_WhenHeldInTheFuture_ThenInvalidArgument) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started(), ev::MeetingScheduled("mtg-1", At(2026, 3, 25, 12))}))
      .When(Held("mtg-1", Day(2026, 3, 25), /*today=*/Day(2026, 3, 24)));
  ExpectFailure(spec, absl::StatusCode::kInvalidArgument, {"date"});
}

TEST(PathwayDecider, GivenActivePathway_WhenOtherCoordinatorAssigned_ThenCoordinatorAssigned) {
  DeciderSpec<PathwayDecider> spec = Spec();
  spec.Given(History({ev::Started()}))
      .When(AssignCoordinator{.pathway_id = kId, .coordinator_id = "coord-8"});
  spec.Then({ev::CoordinatorAssigned("coord-8")});
  EXPECT_EQ(StateAfterDecision(spec).coordinator_id(), "coord-8");
}

TEST(PathwayDecider, GivenAssignedCoordinator_WhenAssignedAgain_ThenFailedPrecondition) {
  Spec()
      .Given(History({ev::Started()}))
      .When(AssignCoordinator{.pathway_id = kId, .coordinator_id = kCoordinator})
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

// ===============================================================================================
// Evolve
// ===============================================================================================

TEST(PathwayDecider, GivenAnyHistory_ThenVersionIsTheLastStreamVersion) {
  const v1::Pathway state =
      Fold(History({ev::Started(), ev::Attended(), ev::Decision(kAttended + 3)}));
  EXPECT_EQ(state.version(), 3);
  ASSERT_EQ(state.timeline_size(), 3);
  EXPECT_EQ(state.timeline(2).event_id(), "evt-3");
  EXPECT_EQ(state.timeline(2).register_code(), "D01CT");
  EXPECT_EQ(state.timeline(2).outcome(), "CT");
}

TEST(PathwayDecider, GivenPointsRecordedOutOfDateOrder_ThenDeadlinesFollowTheDates) {
  // Evaluation dated before the previous one (late registration): the chain follows the dates.
  const Day decided = kAttended + 10;
  const v1::Pathway state =
      Fold(History({ev::Started(), ev::Attended(), ev::Decision(decided),
                    ev::Evaluation(decided + 70), ev::Evaluation(decided + 5, 2)}));
  ExpectDeadline(state, DeadlineId(kTsbDecisionEvaluation), v1::MET_ON_TIME, decided, decided + 7,
                 decided + 5);
  ExpectDeadline(state, DeadlineId(kTsbEvaluationOut, 1), v1::MET_LATE, decided + 5,
                 decided + 5 + 56, decided + 70);
  ExpectOpen(state, DeadlineId(kTsbEvaluationOut, 2), decided + 70, decided + 70 + 56);
}

}  // namespace
}  // namespace pathway::domain
