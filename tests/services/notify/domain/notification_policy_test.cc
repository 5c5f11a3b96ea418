#include "services/notify/domain/notification_policy.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "clinical/calendar.h"
#include "clinical/catalogue.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/eventing/proto_time.h"
#include "services/notify/domain/notification_decider.h"
#include "services/notify/domain/templates.h"
#include "services/pathway/domain/pathway_decider.h"
#include "tests/support/equals_proto.h"

// Given-when-then tests of the notification policy. Pathway states are built as the notify
// service builds its mirror: real pathway events (decided by pathway::domain::PathwayDecider from
// commands, against the shipped catalogue) folded with the pathway service's own Evolve. A Story
// owns the clock: every event is stamped with the next stream version and recorded_at = the
// story's "now", which is the policy's "now". The clock only moves forward.

namespace notify::domain {
namespace {

using ::catalogue::v1::OUTPATIENT;
using ::es::testing::EqualsProto;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;
using Day = absl::CivilDay;
using PathwayEvent = pathway::v1::PathwayEvent;
namespace pw = ::pathway::domain;

constexpr char kId[] = "pw-1";
constexpr char kUnit[] = "ahus-poliklinikk-3";  // neutral: says nothing about the condition
constexpr char kPatientKey[] = "pk-3f9a";
constexpr char kCoordinator[] = "coord-7";
constexpr char kReferralId[] = "ref-2026-0001";
constexpr char kFnr[] = "01019012480";
constexpr char kCorrectionReason[] = "Date typed from the wrong appointment";

constexpr char kDecisionRule[] = "tsb.attendance-decision.outpatient";
constexpr char kFirstEvaluationRule[] = "tsb.decision-first-evaluation";

std::string DeadlineId(const std::string& rule_id, int n = 1) {
  return absl::StrCat(kId, "/", rule_id, "/", n);
}
std::string DecisionDeadline() { return DeadlineId(kDecisionRule); }
std::string LegalDeadline() { return absl::StrCat(kId, "/legal"); }

// --- Catalogue, calendar, zone -----------------------------------------------------------------

std::string SourceDir() {
  if (const char* dir = std::getenv("PATHWAYS_SOURCE_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  return PATHWAYS_SOURCE_DIR_DEFAULT;
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "%s\n", what.c_str());
  std::abort();
}

const pw::PathwayDecider& PathwayDecider() {
  static const pw::PathwayDecider* const decider = [] {
    absl::StatusOr<clinical::PathwayCatalogue> catalogue =
        clinical::PathwayCatalogue::LoadDirectories({SourceDir() + "/catalogue"});
    if (!catalogue.ok()) Die(absl::StrCat("shipped catalogue: ", catalogue.status().ToString()));
    return new pw::PathwayDecider(*new clinical::PathwayCatalogue(*std::move(catalogue)));
  }();
  return *decider;
}

// The Norwegian calendar of the shipped catalogue (Saturday and Sunday off; Easter -3 .. +50).
const clinical::Calendar& NorwegianCalendar() {
  const clinical::Calendar* calendar = PathwayDecider().catalogue().FindCalendar("NO");
  if (calendar == nullptr) Die("shipped catalogue: no calendar NO");
  return *calendar;
}

absl::TimeZone Oslo() {
  static const absl::TimeZone zone = [] {
    absl::TimeZone z;
    if (!absl::LoadTimeZone("Europe/Oslo", &z)) Die("time zone Europe/Oslo");
    return z;
  }();
  return zone;
}

absl::Time OsloTime(int y, int m, int d, int hh, int mm = 0) {
  return absl::FromCivil(absl::CivilMinute(y, m, d, hh, mm), Oslo());
}
absl::Time UtcTime(int y, int m, int d, int hh, int mm = 0) {
  return absl::FromCivil(absl::CivilMinute(y, m, d, hh, mm), absl::UTCTimeZone());
}

PolicyContext Context(PolicySettings settings = {}) {
  return PolicyContext{NorwegianCalendar(), Oslo(), std::move(settings)};
}

// --- Pathway commands (decided by the real pathway decider) -----------------------------------

referral::v1::PatientIdentifier Patient() {
  referral::v1::PatientIdentifier patient;
  patient.set_system(referral::v1::PatientIdentifier::NO_FODSELSNUMMER);
  patient.set_value(kFnr);
  return patient;
}

referral::v1::MunicipalContact Contact(std::string name, std::string email) {
  referral::v1::MunicipalContact contact;
  contact.set_name(std::move(name));
  contact.set_municipality("Lillestrøm");
  contact.set_phone("+47 66 00 00 00");
  contact.set_email(std::move(email));
  return contact;
}

// --- A story: one pathway, a clock, and the policy's answer to every event ---------------------

class Story {
 public:
  explicit Story(absl::Time now, PolicySettings settings = {})
      : now_(now), context_(Context(std::move(settings))) {}

  void MoveTo(absl::Time t) {
    if (t < now_) ADD_FAILURE() << "the clock only moves forward";
    now_ = t;
  }
  absl::Time now() const { return now_; }
  Day today() const { return clinical::CivilDayIn(now_, Oslo()); }
  void SetPreference(std::optional<v1::ContactPreference> preference) {
    preference_ = std::move(preference);
  }

  // Decides `command` on the pathway as it is, stamps the events (next version, recorded_at =
  // now), folds each and returns what the policy asks for, in order.
  std::vector<NotificationCommand> Do(const pw::PathwayCommand& command) {
    absl::StatusOr<std::vector<PathwayEvent>> events = PathwayDecider().Decide(command, pathway_);
    if (!events.ok()) {
      ADD_FAILURE() << "the pathway decider refused: " << events.status();
      return {};
    }
    std::vector<NotificationCommand> out;
    for (PathwayEvent& e : *events) {
      for (NotificationCommand& c : Fold(Stamp(std::move(e)))) out.push_back(std::move(c));
    }
    return out;
  }

  // Folds an already stamped event (e.g. one delivered again) and asks the policy.
  std::vector<NotificationCommand> Fold(const PathwayEvent& event) {
    const pathway::v1::Pathway before = pathway_;
    pathway_ = PathwayDecider().Evolve(before, event);
    history_.push_back(event);
    std::vector<NotificationCommand> out =
        OnPathwayEvent(before, pathway_, event, preference_, context_);
    answers_.push_back(out);
    return out;
  }

  // --- Commands with this story's pathway and today's date ---
  std::vector<NotificationCommand> Start(Day start, std::string coordinator = kCoordinator,
                                         std::optional<Day> legal = std::nullopt) {
    pw::StartPathway c;
    c.pathway_id = kId;
    c.pathway_type = "NO_TSB";
    c.unit = kUnit;
    c.patient = Patient();
    c.patient_key = kPatientKey;
    c.setting = OUTPATIENT;
    c.start_date = start;
    c.legal_deadline = legal;
    c.coordinator_id = std::move(coordinator);
    c.referral_id = kReferralId;
    c.today = today();
    return Do(c);
  }
  std::vector<NotificationCommand> Point(std::string point_id, Day date, std::string outcome = "") {
    return Do(pw::RecordPoint{.pathway_id = kId,
                              .point_id = std::move(point_id),
                              .outcome = std::move(outcome),
                              .date = date,
                              .today = today()});
  }
  std::vector<NotificationCommand> Attend(Day date) { return Point("forste_fremmote", date); }
  std::vector<NotificationCommand> Decision(Day date, std::string outcome = "CT") {
    return Point("klinisk_beslutning", date, std::move(outcome));
  }
  std::vector<NotificationCommand> Postponed(Day date) { return Point("pasientutsatt", date); }
  std::vector<NotificationCommand> Correct(std::string event_id, Day date) {
    return Do(pw::CorrectPoint{.pathway_id = kId,
                               .corrects_event_id = std::move(event_id),
                               .date = date,
                               .outcome = "",
                               .reason = kCorrectionReason,
                               .today = today()});
  }
  std::vector<NotificationCommand> Breach(const std::string& deadline_id) {
    return Do(pw::RecordBreach{.pathway_id = kId, .deadline_id = deadline_id, .today = today()});
  }
  std::vector<NotificationCommand> End(Day date) {
    return Do(
        pw::EndPathway{.pathway_id = kId, .reason = "gjennomfort", .date = date, .today = today()});
  }
  std::vector<NotificationCommand> Transfer(Day date) {
    return Do(pw::TransferPathway{
        .pathway_id = kId, .to_unit = "ous-poliklinikk", .date = date, .today = today()});
  }
  std::vector<NotificationCommand> Appointment(std::string id, absl::Time at,
                                               std::string kind = "first_attendance") {
    return Do(pw::ScheduleAppointment{
        .pathway_id = kId, .appointment_id = std::move(id), .at = at, .kind = std::move(kind)});
  }
  std::vector<NotificationCommand> Attendance(std::string id, bool attended) {
    return Do(pw::RecordAttendance{
        .pathway_id = kId, .appointment_id = std::move(id), .attended = attended});
  }
  std::vector<NotificationCommand> Meeting(std::string id, absl::Time at,
                                           referral::v1::MunicipalContact contact) {
    return Do(pw::ScheduleMeeting{.pathway_id = kId,
                                  .meeting_id = std::move(id),
                                  .at = at,
                                  .municipal_contact = std::move(contact)});
  }
  std::vector<NotificationCommand> AssignCoordinator(std::string id) {
    return Do(pw::AssignCoordinator{.pathway_id = kId, .coordinator_id = std::move(id)});
  }

  const pathway::v1::Pathway& pathway() const { return pathway_; }
  const std::vector<PathwayEvent>& history() const { return history_; }
  const std::vector<std::vector<NotificationCommand>>& answers() const { return answers_; }
  const PolicyContext& context() const { return context_; }
  const std::optional<v1::ContactPreference>& preference() const { return preference_; }

 private:
  PathwayEvent Stamp(PathwayEvent event) const {
    const int64_t version = pathway_.version() + 1;
    eventing::v1::EventMetadata& m = *event.mutable_metadata();
    m.set_event_id(absl::StrCat("evt-", version));
    m.set_stream_id(kId);
    m.set_stream_version(version);
    m.set_patient_key(kPatientKey);
    *m.mutable_recorded_at() = es::ToProtoTimestamp(now_);
    *m.mutable_occurred_at() = es::ToProtoTimestamp(now_);
    return event;
  }

  absl::Time now_;
  PolicyContext context_;
  std::optional<v1::ContactPreference> preference_;
  pathway::v1::Pathway pathway_;
  std::vector<PathwayEvent> history_;
  std::vector<std::vector<NotificationCommand>> answers_;
};

// --- Looking at the commands -------------------------------------------------------------------

template <typename T>
std::vector<T> All(const std::vector<NotificationCommand>& commands) {
  std::vector<T> out;
  for (const NotificationCommand& c : commands) {
    if (const T* t = std::get_if<T>(&c)) out.push_back(*t);
  }
  return out;
}

std::vector<Schedule> Schedules(const std::vector<NotificationCommand>& c) {
  return All<Schedule>(c);
}
std::vector<Cancel> Cancels(const std::vector<NotificationCommand>& c) { return All<Cancel>(c); }
std::vector<Reschedule> Reschedules(const std::vector<NotificationCommand>& c) {
  return All<Reschedule>(c);
}

std::vector<Schedule> SchedulesOf(const std::vector<NotificationCommand>& c,
                                  v1::NotificationKind kind) {
  std::vector<Schedule> out;
  for (const Schedule& s : Schedules(c)) {
    if (s.notification.kind() == kind) out.push_back(s);
  }
  return out;
}

// The one schedule of `kind` among `c` (a failure, and an empty one, when there is not exactly
// one).
Schedule OnlyScheduleOf(const std::vector<NotificationCommand>& c, v1::NotificationKind kind) {
  std::vector<Schedule> found = SchedulesOf(c, kind);
  if (found.size() != 1) {
    ADD_FAILURE() << "expected one " << v1::NotificationKind_Name(kind) << ", have "
                  << found.size();
    return Schedule();
  }
  return found[0];
}

absl::Time DueAt(const Schedule& s) { return es::FromProtoTimestamp(s.notification.due_at()); }

std::map<std::string, std::string> Params(const Schedule& s) {
  return {s.notification.params().begin(), s.notification.params().end()};
}

std::string Describe(const NotificationCommand& c) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Schedule>) {
          return absl::StrCat("Schedule{", x.notification_id, " ",
                              v1::NotificationKind_Name(x.notification.kind()), "}");
        } else if constexpr (std::is_same_v<T, Cancel>) {
          return absl::StrCat("Cancel{", x.notification_id, " ", x.reason, "}");
        } else if constexpr (std::is_same_v<T, Reschedule>) {
          return absl::StrCat("Reschedule{", x.notification_id, " ", absl::FormatTime(x.due_at),
                              " ", x.reason, "}");
        } else {
          return absl::StrCat("other{", x.notification_id, "}");
        }
      },
      c);
}
std::string Describe(const std::vector<NotificationCommand>& commands) {
  std::string out;
  for (const NotificationCommand& c : commands) absl::StrAppend(&out, Describe(c), "; ");
  return out;
}

// A full, comparable form of a command (the kind of command, its id and every field).
std::string Canonical(const NotificationCommand& c) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Schedule>) {
          return absl::StrCat("S|", x.notification_id, "|", x.patient_key, "|",
                              x.notification.ShortDebugString());
        } else if constexpr (std::is_same_v<T, Cancel>) {
          return absl::StrCat("C|", x.notification_id, "|", x.reason);
        } else if constexpr (std::is_same_v<T, Reschedule>) {
          return absl::StrCat("R|", x.notification_id, "|", absl::FormatTime(x.due_at), "|",
                              x.reason);
        } else {
          return absl::StrCat("?|", x.notification_id);
        }
      },
      c);
}
std::vector<std::string> Canonical(const std::vector<NotificationCommand>& commands) {
  std::vector<std::string> out;
  for (const NotificationCommand& c : commands) out.push_back(Canonical(c));
  return out;
}

// Notifications as the notify service keeps them: every command through the real
// NotificationDecider, with the reactor's tolerance (not found, not allowed in the status and
// already scheduled are harmless). Refusals are counted by code.
class NotificationBook {
 public:
  void Apply(const std::vector<NotificationCommand>& commands) {
    for (const NotificationCommand& c : commands) Apply(c);
  }
  void Apply(const NotificationCommand& command) {
    const std::string id = std::visit([](const auto& x) { return x.notification_id; }, command);
    v1::Notification& state = notifications_[id];
    absl::StatusOr<std::vector<v1::NotificationEvent>> events = decider_.Decide(command, state);
    if (!events.ok()) {
      ++refused_[events.status().code()];
      if (state.status() == v1::NOTIFICATION_STATUS_UNSPECIFIED) notifications_.erase(id);
      const absl::StatusCode code = events.status().code();
      EXPECT_TRUE(code == absl::StatusCode::kNotFound ||
                  code == absl::StatusCode::kFailedPrecondition ||
                  code == absl::StatusCode::kAlreadyExists)
          << Describe(command) << ": " << events.status();
      return;
    }
    for (v1::NotificationEvent& e : *events) {
      e.mutable_metadata()->set_stream_id(id);
      e.mutable_metadata()->set_stream_version(state.version() + 1);
      if (const Schedule* s = std::get_if<Schedule>(&command)) {
        e.mutable_metadata()->set_patient_key(s->patient_key);
      }
      state = decider_.Evolve(std::move(state), e);
    }
  }
  const v1::Notification* Find(const std::string& id) const {
    auto it = notifications_.find(id);
    return it == notifications_.end() ? nullptr : &it->second;
  }
  size_t size() const { return notifications_.size(); }
  int refused(absl::StatusCode code) const {
    auto it = refused_.find(code);
    return it == refused_.end() ? 0 : it->second;
  }
  const std::map<std::string, v1::Notification>& all() const { return notifications_; }

 private:
  NotificationDecider decider_;
  std::map<std::string, v1::Notification> notifications_;
  std::map<absl::StatusCode, int> refused_;
};

v1::ContactPreference Preference(bool consent, std::string address, std::string language,
                                 v1::Channel channel = v1::WEBHOOK) {
  v1::ContactPreference p;
  p.set_consent(consent);
  p.set_channel(channel);
  p.set_address(std::move(address));
  p.set_language(std::move(language));
  return p;
}
void AddRelative(v1::ContactPreference& p, std::string id, bool consent, std::string address,
                 std::string language) {
  v1::ContactPreference::Relative& r = *p.add_relatives();
  r.set_contact_id(std::move(id));
  r.set_consent(consent);
  r.set_address(std::move(address));
  r.set_language(std::move(language));
}

// Words that would tell a reader of a patient's or relative's message what the patient is
// treated for, or who the patient is.
void ExpectNothingClinical(const std::string& text) {
  for (const char* word : {"NO_TSB", "TSB", "tsb", "D01", "rus", "Rus", "F10", "klinisk",
                           "forste_fremmote", "first_attendance", "pakkeforl", kFnr}) {
    EXPECT_THAT(text, Not(HasSubstr(word))) << "names '" << word << "'";
  }
}

// ===============================================================================================
// Reminder time: N working days before the due date, at the reminder hour, Oslo time
// ===============================================================================================

TEST(ReminderTime, GivenDueMonday_ThenThreeWorkingDaysBeforeIsTheWednesdayBeforeTheWeekend) {
  EXPECT_EQ(ReminderTime(Day(2026, 3, 30), 3, 8, NorwegianCalendar(), Oslo()),
            OsloTime(2026, 3, 25, 8));
  EXPECT_EQ(ReminderTime(Day(2026, 3, 30), 3, 8, NorwegianCalendar(), Oslo()),
            UtcTime(2026, 3, 25, 7));  // CET
}

TEST(ReminderTime, GivenDueOnASaturday_ThenCountedFromTheFridayBefore) {
  // Sat 18 April 2026: Fri 17 (1), Thu 16 (2), Wed 15 (3).
  EXPECT_EQ(ReminderTime(Day(2026, 4, 18), 3, 8, NorwegianCalendar(), Oslo()),
            OsloTime(2026, 4, 15, 8));
}

TEST(ReminderTime, GivenDueAfterEaster2026_ThenMaundyThursdayToEasterMondaySkipped) {
  // Easter Sunday 5 April 2026: Thu 2, Fri 3 and Mon 6 April are holidays.
  // Thu 9 April: Wed 8 (1), Tue 7 (2), Wed 1 April (3).
  EXPECT_EQ(ReminderTime(Day(2026, 4, 9), 3, 8, NorwegianCalendar(), Oslo()),
            OsloTime(2026, 4, 1, 8));
  // Tue 7 April: Wed 1 (1), Tue 31 March (2), Mon 30 March (3); summer time since 29 March.
  EXPECT_EQ(ReminderTime(Day(2026, 4, 7), 3, 8, NorwegianCalendar(), Oslo()),
            OsloTime(2026, 3, 30, 8));
  EXPECT_EQ(ReminderTime(Day(2026, 4, 7), 3, 8, NorwegianCalendar(), Oslo()),
            UtcTime(2026, 3, 30, 6));  // CEST
}

TEST(ReminderTime, GivenOtherSettings_ThenWorkingDaysAndHourFollowThem) {
  // Mon 18 May 2026 (17 May is a Sunday; no Monday holiday): 5 working days back skips 14 May
  // (Ascension, Easter + 39): Fri 15 (1), Wed 13 (2), Tue 12 (3), Mon 11 (4), Fri 8 (5).
  EXPECT_EQ(ReminderTime(Day(2026, 5, 18), 5, 7, NorwegianCalendar(), Oslo()),
            OsloTime(2026, 5, 8, 7));
  EXPECT_EQ(ReminderTime(Day(2026, 5, 18), 0, 14, NorwegianCalendar(), Oslo()),
            OsloTime(2026, 5, 18, 14));
}

// ===============================================================================================
// Deadline reminders
// ===============================================================================================

TEST(NotificationPolicy, GivenStartedTsbPathway_WhenStartedWithoutLegalDeadline_ThenNothing) {
  Story s(OsloTime(2026, 3, 2, 10));
  EXPECT_THAT(s.Start(Day(2026, 3, 2)), IsEmpty());  // TSB rules start at the first attendance
}

TEST(
    NotificationPolicy,
    GivenStartedTsbPathway_WhenFirstAttendanceRecorded_ThenCoordinatorRemindedThreeWorkingDaysBefore) {
  Story s(OsloTime(2026, 3, 2, 10));
  s.Start(Day(2026, 3, 2));
  s.MoveTo(OsloTime(2026, 3, 9, 14, 30));
  const std::vector<NotificationCommand> commands = s.Attend(Day(2026, 3, 9));
  ASSERT_THAT(commands, SizeIs(1)) << Describe(commands);
  const Schedule r = OnlyScheduleOf(commands, v1::DEADLINE_REMINDER);

  EXPECT_EQ(r.notification_id, DeadlineReminderId(DecisionDeadline()));
  EXPECT_EQ(r.notification.notification_id(), r.notification_id);
  EXPECT_EQ(r.patient_key, kPatientKey);
  v1::Recipient coordinator;
  coordinator.set_role(v1::Recipient::COORDINATOR);
  coordinator.set_id(kCoordinator);
  coordinator.set_language("nb");
  EXPECT_THAT(r.notification.recipient(), EqualsProto(coordinator));
  EXPECT_EQ(r.notification.channel(), v1::FILE);
  EXPECT_EQ(r.notification.unit(), kUnit);
  // Due Monday 30 March (9 March + 21): three working days before is Wednesday 25 March, across
  // the weekend, at 08:00 in Oslo.
  EXPECT_EQ(DueAt(r), OsloTime(2026, 3, 25, 8));
  EXPECT_EQ(Params(r), (std::map<std::string, std::string>{{"rule", kDecisionRule},
                                                           {"from", "forste_fremmote"},
                                                           {"to", "klinisk_beslutning"},
                                                           {"pathway", kId},
                                                           {"unit", kUnit},
                                                           {"due_date", "2026-03-30"},
                                                           {"patient_postponed", "nei"}}));
  EXPECT_EQ(r.notification.subject(), "Frist nærmer seg: tsb.attendance-decision.outpatient");
  EXPECT_EQ(r.notification.body(),
            "Forløpsfrist tsb.attendance-decision.outpatient (forste_fremmote til "
            "klinisk_beslutning) for forløp pw-1 ved ahus-poliklinikk-3 går ut 2026-03-30.");
}

TEST(NotificationPolicy, GivenPathwayWithoutCoordinator_WhenDeadlineOpens_ThenUnitInboxReminded) {
  Story s(OsloTime(2026, 3, 9, 10));
  s.Start(Day(2026, 3, 2), /*coordinator=*/"");
  const Schedule r = OnlyScheduleOf(s.Attend(Day(2026, 3, 9)), v1::DEADLINE_REMINDER);
  EXPECT_EQ(r.notification.recipient().role(), v1::Recipient::UNIT);
  EXPECT_EQ(r.notification.recipient().id(), kUnit);
  EXPECT_EQ(r.notification.recipient().language(), "nb");
  EXPECT_EQ(DueAt(r), OsloTime(2026, 3, 25, 8));
}

TEST(NotificationPolicy, GivenFirstAttendanceOn19March_ThenReminderSkipsEasterToWednesday1April) {
  Story s(OsloTime(2026, 3, 19, 12));
  s.Start(Day(2026, 3, 16));
  const Schedule r = OnlyScheduleOf(s.Attend(Day(2026, 3, 19)), v1::DEADLINE_REMINDER);
  EXPECT_EQ(Params(r).at("due_date"), "2026-04-09");  // Thursday after Easter
  // Wed 8 (1), Tue 7 (2), then Mon 6 (Easter Monday), Sun 5, Sat 4, Fri 3 and Thu 2 (Good Friday,
  // Maundy Thursday) are skipped: Wed 1 April (3), in summer time.
  EXPECT_EQ(DueAt(r), OsloTime(2026, 4, 1, 8));
  EXPECT_EQ(DueAt(r), UtcTime(2026, 4, 1, 6));
}

TEST(NotificationPolicy,
     GivenFirstAttendanceOn17March_ThenReminderForTuesdayAfterEasterOnMonday30March) {
  Story s(OsloTime(2026, 3, 17, 12));
  s.Start(Day(2026, 3, 16));
  const Schedule r = OnlyScheduleOf(s.Attend(Day(2026, 3, 17)), v1::DEADLINE_REMINDER);
  EXPECT_EQ(Params(r).at("due_date"), "2026-04-07");
  EXPECT_EQ(DueAt(r), OsloTime(2026, 3, 30, 8));
  EXPECT_EQ(DueAt(r), UtcTime(2026, 3, 30, 6));
}

TEST(NotificationPolicy, GivenLegalDeadlineOnASaturday_WhenPathwayStarted_ThenRemindedOnWednesday) {
  Story s(OsloTime(2026, 3, 2, 10));
  const std::vector<NotificationCommand> commands =
      s.Start(Day(2026, 3, 2), kCoordinator, /*legal=*/Day(2026, 4, 18));
  ASSERT_THAT(commands, SizeIs(1)) << Describe(commands);
  const Schedule r = OnlyScheduleOf(commands, v1::DEADLINE_REMINDER);
  EXPECT_EQ(r.notification_id, DeadlineReminderId(LegalDeadline()));
  EXPECT_EQ(Params(r).at("rule"), "legal");
  EXPECT_EQ(Params(r).at("due_date"), "2026-04-18");
  EXPECT_EQ(DueAt(r), OsloTime(2026, 4, 15, 8));  // Fri 17 (1), Thu 16 (2), Wed 15 (3)
}

TEST(NotificationPolicy, GivenOtherReminderSettings_WhenDeadlineOpens_ThenTheyAreUsed) {
  PolicySettings settings;
  settings.reminder_working_days = 5;
  settings.reminder_hour = 7;
  settings.staff_language = "en";
  settings.staff_channel = v1::WEBHOOK;
  Story s(OsloTime(2026, 3, 9, 10), settings);
  s.Start(Day(2026, 3, 2));
  const Schedule r = OnlyScheduleOf(s.Attend(Day(2026, 3, 9)), v1::DEADLINE_REMINDER);
  // Mon 30 March: Fri 27 (1), Thu 26 (2), Wed 25 (3), Tue 24 (4), Mon 23 (5).
  EXPECT_EQ(DueAt(r), OsloTime(2026, 3, 23, 7));
  EXPECT_EQ(r.notification.channel(), v1::WEBHOOK);
  EXPECT_EQ(r.notification.recipient().language(), "en");
  EXPECT_EQ(r.notification.subject(), "Deadline approaching: tsb.attendance-decision.outpatient");
}

TEST(NotificationPolicy,
     GivenOpenDeadline_WhenFirstAttendanceDateCorrected_ThenReminderRescheduled) {
  Story s(OsloTime(2026, 3, 9, 10));
  s.Start(Day(2026, 3, 2));
  s.Attend(Day(2026, 3, 9));  // evt-2; decision due Mon 30 March, reminder Wed 25 March
  s.MoveTo(OsloTime(2026, 3, 12, 16));
  const std::vector<NotificationCommand> commands = s.Correct("evt-2", Day(2026, 3, 12));
  // Due Thu 2 April (Maundy Thursday): Wed 1 (1), Tue 31 (2), Mon 30 March (3).
  ASSERT_THAT(commands, SizeIs(1)) << Describe(commands);
  const std::vector<Reschedule> moved = Reschedules(commands);
  ASSERT_THAT(moved, SizeIs(1));
  EXPECT_EQ(moved[0].notification_id, DeadlineReminderId(DecisionDeadline()));
  EXPECT_EQ(moved[0].due_at, OsloTime(2026, 3, 30, 8));
  EXPECT_EQ(moved[0].reason, "deadline moved");

  // The notification follows.
  NotificationBook book;
  for (const auto& answer : s.answers()) book.Apply(answer);
  const v1::Notification* n = book.Find(DeadlineReminderId(DecisionDeadline()));
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->status(), v1::SCHEDULED);
  EXPECT_EQ(es::FromProtoTimestamp(n->due_at()), OsloTime(2026, 3, 30, 8));
}

TEST(NotificationPolicy, GivenOpenDeadline_WhenCoordinatorAssigned_ThenNoDeadlineCommands) {
  Story s(OsloTime(2026, 3, 9, 10));
  s.Start(Day(2026, 3, 2), "");
  s.Attend(Day(2026, 3, 9));
  EXPECT_THAT(s.AssignCoordinator("coord-9"), IsEmpty());
}

TEST(NotificationPolicy,
     GivenOpenDeadline_WhenClinicalDecisionInTime_ThenReminderCancelledDeadlineMet) {
  Story s(OsloTime(2026, 3, 9, 10));
  s.Start(Day(2026, 3, 2));
  s.Attend(Day(2026, 3, 9));
  s.MoveTo(OsloTime(2026, 3, 20, 11));
  const std::vector<NotificationCommand> commands = s.Decision(Day(2026, 3, 20));
  ASSERT_THAT(commands, SizeIs(2)) << Describe(commands);
  const std::vector<Cancel> cancels = Cancels(commands);
  ASSERT_THAT(cancels, SizeIs(1));
  EXPECT_EQ(cancels[0].notification_id, DeadlineReminderId(DecisionDeadline()));
  EXPECT_EQ(cancels[0].reason, "deadline met");
  // The decision opens decision -> first evaluation (7 days: due Fri 27 March): its reminder is
  // Tue 24 March.
  const Schedule next = OnlyScheduleOf(commands, v1::DEADLINE_REMINDER);
  EXPECT_EQ(next.notification_id, DeadlineReminderId(DeadlineId(kFirstEvaluationRule)));
  EXPECT_EQ(Params(next).at("rule"), kFirstEvaluationRule);
  EXPECT_EQ(DueAt(next), OsloTime(2026, 3, 24, 8));

  NotificationBook book;
  for (const auto& answer : s.answers()) book.Apply(answer);
  const v1::Notification* n = book.Find(DeadlineReminderId(DecisionDeadline()));
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->status(), v1::CANCELLED);
  EXPECT_EQ(n->cancel_reason(), "deadline met");
}

TEST(NotificationPolicy,
     GivenOpenDeadline_WhenClinicalDecisionLateButNoBreachRecorded_ThenDeadlineMet) {
  Story s(OsloTime(2026, 3, 9, 10));
  s.Start(Day(2026, 3, 2));
  s.Attend(Day(2026, 3, 9));
  s.MoveTo(OsloTime(2026, 3, 31, 9));
  const std::vector<Cancel> cancels = Cancels(s.Decision(Day(2026, 3, 31)));
  ASSERT_THAT(cancels, SizeIs(1));
  EXPECT_EQ(cancels[0].notification_id, DeadlineReminderId(DecisionDeadline()));
  EXPECT_EQ(cancels[0].reason, "deadline met");
}

TEST(NotificationPolicy,
     GivenLegalDeadline_WhenFirstAttendance_ThenLegalReminderCancelledAndDecisionReminded) {
  Story s(OsloTime(2026, 3, 2, 10));
  s.Start(Day(2026, 3, 2), kCoordinator, Day(2026, 4, 18));
  s.MoveTo(OsloTime(2026, 3, 9, 10));
  const std::vector<NotificationCommand> commands = s.Attend(Day(2026, 3, 9));
  ASSERT_THAT(Cancels(commands), SizeIs(1)) << Describe(commands);
  EXPECT_EQ(Cancels(commands)[0].notification_id, DeadlineReminderId(LegalDeadline()));
  EXPECT_EQ(Cancels(commands)[0].reason, "deadline met");
  EXPECT_EQ(OnlyScheduleOf(commands, v1::DEADLINE_REMINDER).notification_id,
            DeadlineReminderId(DecisionDeadline()));
}

TEST(NotificationPolicy,
     GivenOpenDeadlines_WhenPathwayEnded_ThenEveryReminderCancelledPathwayEnded) {
  Story s(OsloTime(2026, 3, 2, 10));
  s.Start(Day(2026, 3, 2), kCoordinator, Day(2026, 4, 18));
  s.MoveTo(OsloTime(2026, 3, 9, 10));
  s.Attend(Day(2026, 3, 9));
  s.MoveTo(OsloTime(2026, 3, 13, 15));
  const std::vector<NotificationCommand> commands = s.End(Day(2026, 3, 13));
  ASSERT_THAT(commands, SizeIs(1)) << Describe(commands);  // the legal deadline is already met
  const std::vector<Cancel> cancels = Cancels(commands);
  ASSERT_THAT(cancels, SizeIs(1));
  EXPECT_EQ(cancels[0].notification_id, DeadlineReminderId(DecisionDeadline()));
  EXPECT_EQ(cancels[0].reason, "pathway ended");
}

TEST(NotificationPolicy, GivenOpenDeadline_WhenPathwayTransferred_ThenReminderCancelled) {
  Story s(OsloTime(2026, 3, 9, 10));
  s.Start(Day(2026, 3, 2));
  s.Attend(Day(2026, 3, 9));
  s.MoveTo(OsloTime(2026, 3, 11, 10));
  const std::vector<Cancel> cancels = Cancels(s.Transfer(Day(2026, 3, 11)));
  ASSERT_THAT(cancels, SizeIs(1));
  EXPECT_EQ(cancels[0].notification_id, DeadlineReminderId(DecisionDeadline()));
  EXPECT_EQ(cancels[0].reason, "pathway ended");
}

// ===============================================================================================
// Breach alerts
// ===============================================================================================

TEST(NotificationPolicy,
     GivenPassedDeadline_WhenBreachRecorded_ThenAlertNamingRuleAndReminderCancelled) {
  Story s(OsloTime(2026, 3, 9, 10));
  s.Start(Day(2026, 3, 2));
  s.Attend(Day(2026, 3, 9));
  s.MoveTo(OsloTime(2026, 3, 31, 2, 15));  // the timer's night run after the due date
  const std::vector<NotificationCommand> commands = s.Breach(DecisionDeadline());
  ASSERT_THAT(commands, SizeIs(2)) << Describe(commands);

  const std::vector<Cancel> cancels = Cancels(commands);
  ASSERT_THAT(cancels, SizeIs(1));
  EXPECT_EQ(cancels[0].notification_id, DeadlineReminderId(DecisionDeadline()));
  EXPECT_EQ(cancels[0].reason, "deadline breached");

  const Schedule alert = OnlyScheduleOf(commands, v1::BREACH_ALERT);
  EXPECT_EQ(alert.notification_id, BreachAlertId(DecisionDeadline()));
  EXPECT_NE(alert.notification_id, DeadlineReminderId(DecisionDeadline()));
  EXPECT_EQ(DueAt(alert), OsloTime(2026, 3, 31, 2, 15));  // at once
  EXPECT_EQ(alert.notification.recipient().role(), v1::Recipient::COORDINATOR);
  EXPECT_EQ(alert.notification.recipient().id(), kCoordinator);
  EXPECT_EQ(alert.notification.unit(), kUnit);
  EXPECT_EQ(alert.patient_key, kPatientKey);
  EXPECT_EQ(Params(alert).at("rule"), kDecisionRule);
  EXPECT_EQ(Params(alert).at("due_date"), "2026-03-30");
  EXPECT_EQ(Params(alert).at("patient_postponed"), "nei");
  EXPECT_EQ(alert.notification.subject(), "Frist brutt: tsb.attendance-decision.outpatient");
  EXPECT_EQ(alert.notification.body(),
            "Frist tsb.attendance-decision.outpatient for forløp pw-1 ved ahus-poliklinikk-3 gikk "
            "ut 2026-03-30. Pasientutsatt: nei.");

  NotificationBook book;
  for (const auto& answer : s.answers()) book.Apply(answer);
  ASSERT_NE(book.Find(DeadlineReminderId(DecisionDeadline())), nullptr);
  EXPECT_EQ(book.Find(DeadlineReminderId(DecisionDeadline()))->status(), v1::CANCELLED);
  ASSERT_NE(book.Find(BreachAlertId(DecisionDeadline())), nullptr);
  EXPECT_EQ(book.Find(BreachAlertId(DecisionDeadline()))->status(), v1::SCHEDULED);
}

TEST(NotificationPolicy,
     GivenPatientPostponedWithinSpan_WhenBreachRecorded_ThenAlertSaysPatientPostponed) {
  Story s(OsloTime(2026, 3, 9, 10));
  s.Start(Day(2026, 3, 2));
  s.Attend(Day(2026, 3, 9));
  s.MoveTo(OsloTime(2026, 3, 12, 10));
  EXPECT_THAT(s.Postponed(Day(2026, 3, 12)), IsEmpty());
  s.MoveTo(OsloTime(2026, 4, 1, 3));
  const Schedule alert = OnlyScheduleOf(s.Breach(DecisionDeadline()), v1::BREACH_ALERT);
  EXPECT_EQ(Params(alert).at("patient_postponed"), "ja");
  EXPECT_THAT(alert.notification.body(), HasSubstr("Pasientutsatt: ja."));
  EXPECT_THAT(alert.notification.body(), HasSubstr(kDecisionRule));
}

TEST(NotificationPolicy, GivenPathwayWithoutCoordinator_WhenBreachRecorded_ThenUnitInboxAlerted) {
  Story s(OsloTime(2026, 3, 9, 10));
  s.Start(Day(2026, 3, 2), "");
  s.Attend(Day(2026, 3, 9));
  s.MoveTo(OsloTime(2026, 4, 2, 3));
  const Schedule alert = OnlyScheduleOf(s.Breach(DecisionDeadline()), v1::BREACH_ALERT);
  EXPECT_EQ(alert.notification.recipient().role(), v1::Recipient::UNIT);
  EXPECT_EQ(alert.notification.recipient().id(), kUnit);
}

TEST(NotificationPolicy, GivenBreachedDeadline_WhenLaterMet_ThenNothingMoreForIt) {
  Story s(OsloTime(2026, 3, 9, 10));
  s.Start(Day(2026, 3, 2));
  s.Attend(Day(2026, 3, 9));
  s.MoveTo(OsloTime(2026, 3, 31, 3));
  s.Breach(DecisionDeadline());
  s.MoveTo(OsloTime(2026, 4, 1, 10));
  const std::vector<NotificationCommand> commands = s.Decision(Day(2026, 4, 1));
  for (const NotificationCommand& c : commands) {
    const std::string id = std::visit([](const auto& x) { return x.notification_id; }, c);
    EXPECT_NE(id, DeadlineReminderId(DecisionDeadline())) << Describe(c);
    EXPECT_NE(id, BreachAlertId(DecisionDeadline())) << Describe(c);
  }
}

// ===============================================================================================
// Referrals: the assessment reminder
// ===============================================================================================

referral::v1::ReferralEvent ReferralEvent(int64_t version, absl::Time recorded_at) {
  referral::v1::ReferralEvent e;
  eventing::v1::EventMetadata& m = *e.mutable_metadata();
  m.set_event_id(absl::StrCat("ref-evt-", version));
  m.set_stream_id(kReferralId);
  m.set_stream_version(version);
  m.set_patient_key(kPatientKey);
  *m.mutable_recorded_at() = es::ToProtoTimestamp(recorded_at);
  return e;
}

referral::v1::ReferralEvent Submitted(absl::Time at) {
  referral::v1::ReferralEvent e = ReferralEvent(1, at);
  referral::v1::ReferralSubmitted& s = *e.mutable_submitted();
  s.set_referral_id(kReferralId);
  *s.mutable_patient() = Patient();
  s.mutable_referrer()->set_name("Dr. Fastlege");
  s.set_receiving_unit(kUnit);
  *s.mutable_received_at() = es::ToProtoTimestamp(at);
  *s.mutable_received_date() = es::ToProtoDate(Day(2026, 3, 23));
  s.set_reason("Alkoholavhengighet");
  s.set_suspected_condition("F10.2");
  s.set_priority(referral::v1::PRIORITY_ORDINARY);
  // 10 working days from Mon 23 March 2026, Easter skipped: Thu 9 April.
  *s.mutable_assessment_deadline() = es::ToProtoDate(Day(2026, 4, 9));
  s.set_calendar_id("NO");
  return e;
}

TEST(NotificationPolicy,
     GivenNothing_WhenReferralSubmitted_ThenUnitRemindedBeforeThe10DayDeadline) {
  const std::vector<NotificationCommand> commands =
      OnReferralEvent(Submitted(OsloTime(2026, 3, 23, 9, 12)), Context());
  ASSERT_THAT(commands, SizeIs(1)) << Describe(commands);
  const Schedule r = OnlyScheduleOf(commands, v1::ASSESSMENT_REMINDER);
  EXPECT_EQ(r.notification_id, AssessmentReminderId(kReferralId));
  EXPECT_EQ(r.patient_key, kPatientKey);
  EXPECT_EQ(r.notification.recipient().role(), v1::Recipient::UNIT);
  EXPECT_EQ(r.notification.recipient().id(), kUnit);
  EXPECT_EQ(r.notification.recipient().language(), "nb");
  EXPECT_EQ(r.notification.channel(), v1::FILE);
  EXPECT_EQ(r.notification.unit(), kUnit);
  // Thu 9 April: Wed 8 (1), Tue 7 (2), Wed 1 April (3), Easter skipped.
  EXPECT_EQ(DueAt(r), OsloTime(2026, 4, 1, 8));
  EXPECT_EQ(Params(r),
            (std::map<std::string, std::string>{
                {"referral", kReferralId}, {"unit", kUnit}, {"due_date", "2026-04-09"}}));
  EXPECT_EQ(r.notification.subject(), "Henvisning må vurderes innen 2026-04-09");
  EXPECT_EQ(r.notification.body(),
            "Henvisning ref-2026-0001 ved ahus-poliklinikk-3 må vurderes innen 2026-04-09 (10 "
            "virkedager).");
  // Neither the suspected condition nor the reason for referral goes into a message.
  EXPECT_THAT(r.notification.body(), Not(HasSubstr("F10")));
  EXPECT_THAT(r.notification.body(), Not(HasSubstr("Alkohol")));
  EXPECT_THAT(r.notification.ShortDebugString(), Not(HasSubstr(kFnr)));
}

TEST(NotificationPolicy, GivenSubmittedReferral_WhenAssessed_ThenAssessmentReminderCancelled) {
  referral::v1::ReferralEvent e = ReferralEvent(2, OsloTime(2026, 3, 30, 10));
  e.mutable_assessed()->set_referral_id(kReferralId);
  e.mutable_assessed()->mutable_assessment()->mutable_no_right()->set_reason("not needed");
  const std::vector<NotificationCommand> commands = OnReferralEvent(e, Context());
  ASSERT_THAT(commands, SizeIs(1)) << Describe(commands);
  const std::vector<Cancel> cancels = Cancels(commands);
  ASSERT_THAT(cancels, SizeIs(1));
  EXPECT_EQ(cancels[0].notification_id, AssessmentReminderId(kReferralId));
  EXPECT_EQ(cancels[0].reason, "referral assessed");
}

TEST(NotificationPolicy, GivenSubmittedReferral_WhenWithdrawn_ThenAssessmentReminderCancelled) {
  referral::v1::ReferralEvent e = ReferralEvent(2, OsloTime(2026, 3, 25, 10));
  e.mutable_withdrawn()->set_referral_id(kReferralId);
  e.mutable_withdrawn()->set_reason("patient moved");
  const std::vector<NotificationCommand> commands = OnReferralEvent(e, Context());
  ASSERT_THAT(commands, SizeIs(1)) << Describe(commands);
  ASSERT_THAT(Cancels(commands), SizeIs(1));
  EXPECT_EQ(Cancels(commands)[0].notification_id, AssessmentReminderId(kReferralId));
  EXPECT_EQ(Cancels(commands)[0].reason, "referral withdrawn");
}

TEST(NotificationPolicy,
     GivenSubmittedReferral_WhenCoordinatorAssignedOrAssessmentCorrected_ThenNothing) {
  referral::v1::ReferralEvent assigned = ReferralEvent(2, OsloTime(2026, 3, 24, 10));
  assigned.mutable_coordinator_assigned()->set_referral_id(kReferralId);
  assigned.mutable_coordinator_assigned()->set_coordinator_id(kCoordinator);
  EXPECT_THAT(OnReferralEvent(assigned, Context()), IsEmpty());
  referral::v1::ReferralEvent corrected = ReferralEvent(4, OsloTime(2026, 3, 31, 10));
  corrected.mutable_assessment_corrected()->set_referral_id(kReferralId);
  EXPECT_THAT(OnReferralEvent(corrected, Context()), IsEmpty());
}

TEST(NotificationPolicy, GivenSubmittedReferral_WhenAssessedThroughTheBook_ThenReminderCancelled) {
  NotificationBook book;
  book.Apply(OnReferralEvent(Submitted(OsloTime(2026, 3, 23, 9)), Context()));
  referral::v1::ReferralEvent assessed = ReferralEvent(2, OsloTime(2026, 3, 30, 10));
  assessed.mutable_assessed()->set_referral_id(kReferralId);
  book.Apply(OnReferralEvent(assessed, Context()));
  const v1::Notification* n = book.Find(AssessmentReminderId(kReferralId));
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->status(), v1::CANCELLED);
  EXPECT_EQ(n->cancel_reason(), "referral assessed");
}

// ===============================================================================================
// No-shows
// ===============================================================================================

TEST(NotificationPolicy, GivenScheduledAppointment_WhenPatientDoesNotAttend_ThenNoShowAlertAtOnce) {
  Story s(OsloTime(2026, 3, 9, 10));
  s.Start(Day(2026, 3, 2));
  s.Appointment("appt-1", OsloTime(2026, 3, 16, 10));
  s.MoveTo(OsloTime(2026, 3, 16, 10, 40));
  const std::vector<NotificationCommand> commands = s.Attendance("appt-1", /*attended=*/false);
  ASSERT_THAT(commands, SizeIs(1)) << Describe(commands);
  const Schedule alert = OnlyScheduleOf(commands, v1::NO_SHOW_ALERT);
  EXPECT_FALSE(alert.notification_id.empty());
  EXPECT_EQ(DueAt(alert), OsloTime(2026, 3, 16, 10, 40));
  EXPECT_EQ(alert.notification.recipient().role(), v1::Recipient::COORDINATOR);
  EXPECT_EQ(alert.notification.recipient().id(), kCoordinator);
  EXPECT_EQ(alert.notification.unit(), kUnit);
  EXPECT_EQ(alert.patient_key, kPatientKey);
  EXPECT_EQ(Params(alert).at("appointment"), "appt-1");
  EXPECT_EQ(Params(alert).at("missed_count"), "1");
  EXPECT_EQ(Params(alert).count("suggest_code"), 0u);
  EXPECT_EQ(alert.notification.subject(), "Pasienten møtte ikke");
  EXPECT_THAT(alert.notification.body(),
              HasSubstr("Pasienten i forløp pw-1 ved ahus-poliklinikk-3 møtte ikke til avtale "
                        "appt-1 (1. gang)."));
  EXPECT_THAT(alert.notification.body(), Not(HasSubstr("D01L")));
}

TEST(NotificationPolicy, GivenOneNoShow_WhenSecondNoShow_ThenAlertSuggestsThePatientPostponedCode) {
  Story s(OsloTime(2026, 3, 9, 10));
  s.Start(Day(2026, 3, 2));
  s.Appointment("appt-1", OsloTime(2026, 3, 16, 10));
  s.Appointment("appt-2", OsloTime(2026, 3, 23, 10));
  s.MoveTo(OsloTime(2026, 3, 16, 11));
  const Schedule first = OnlyScheduleOf(s.Attendance("appt-1", false), v1::NO_SHOW_ALERT);
  s.MoveTo(OsloTime(2026, 3, 23, 11));
  const Schedule second = OnlyScheduleOf(s.Attendance("appt-2", false), v1::NO_SHOW_ALERT);
  EXPECT_NE(second.notification_id, first.notification_id);
  EXPECT_EQ(DueAt(second), OsloTime(2026, 3, 23, 11));
  EXPECT_EQ(Params(second).at("missed_count"), "2");
  EXPECT_EQ(Params(second).at("suggest_code"), "D01L");
  EXPECT_THAT(second.notification.body(), HasSubstr("(2. gang)"));
  EXPECT_THAT(second.notification.body(), HasSubstr("Vurder å registrere pasientutsatt (D01L)."));
}

TEST(NotificationPolicy, GivenScheduledAppointment_WhenAttended_ThenNoAlert) {
  Story s(OsloTime(2026, 3, 9, 10));
  s.Start(Day(2026, 3, 2));
  s.Appointment("appt-1", OsloTime(2026, 3, 16, 10));
  s.MoveTo(OsloTime(2026, 3, 16, 11));
  EXPECT_THAT(SchedulesOf(s.Attendance("appt-1", true), v1::NO_SHOW_ALERT), IsEmpty());
}

// ===============================================================================================
// Collaboration meetings
// ===============================================================================================

TEST(NotificationPolicy,
     GivenMunicipalContact_WhenMeetingScheduled_ThenMunicipalCoordinatorNotified) {
  Story s(OsloTime(2026, 3, 9, 10));
  s.Start(Day(2026, 3, 2));
  const std::vector<NotificationCommand> commands =
      s.Meeting("meet-1", OsloTime(2026, 3, 20, 10),
                Contact("Ola Koordinator", "ola.koordinator@lillestrom.kommune.no"));
  ASSERT_THAT(commands, SizeIs(1)) << Describe(commands);
  const Schedule notice = OnlyScheduleOf(commands, v1::COLLABORATION_MEETING_NOTICE);
  EXPECT_FALSE(notice.notification_id.empty());
  v1::Recipient expected;
  expected.set_role(v1::Recipient::MUNICIPAL_COORDINATOR);
  expected.set_id("ola.koordinator@lillestrom.kommune.no");
  expected.set_address("ola.koordinator@lillestrom.kommune.no");
  expected.set_language("nb");
  EXPECT_THAT(notice.notification.recipient(), EqualsProto(expected));
  EXPECT_EQ(notice.notification.channel(), v1::FILE);
  EXPECT_EQ(DueAt(notice), OsloTime(2026, 3, 9, 10));  // at once
  EXPECT_EQ(Params(notice),
            (std::map<std::string, std::string>{
                {"unit", kUnit}, {"meeting", "meet-1"}, {"meeting_time", "2026-03-20 10:00"}}));
  EXPECT_EQ(notice.notification.subject(), "Samarbeidsmøte 2026-03-20 10:00");
  EXPECT_EQ(notice.notification.body(),
            "Det er avtalt samarbeidsmøte 2026-03-20 10:00 for en felles pasient ved "
            "ahus-poliklinikk-3 (møte meet-1).");
  EXPECT_THAT(notice.notification.ShortDebugString(), Not(HasSubstr(kFnr)));
}

TEST(NotificationPolicy,
     GivenMunicipalContactWithoutEmail_WhenMeetingScheduled_ThenNamedCoordinatorNotified) {
  Story s(OsloTime(2026, 3, 9, 10));
  s.Start(Day(2026, 3, 2));
  const Schedule notice =
      OnlyScheduleOf(s.Meeting("meet-1", OsloTime(2026, 3, 20, 10), Contact("Ola Koordinator", "")),
                     v1::COLLABORATION_MEETING_NOTICE);
  EXPECT_EQ(notice.notification.recipient().role(), v1::Recipient::MUNICIPAL_COORDINATOR);
  EXPECT_EQ(notice.notification.recipient().id(), "Ola Koordinator");
  EXPECT_EQ(notice.notification.recipient().address(), "");
}

TEST(NotificationPolicy, GivenNoMunicipalContact_WhenMeetingScheduled_ThenNothing) {
  Story s(OsloTime(2026, 3, 9, 10));
  s.Start(Day(2026, 3, 2));
  EXPECT_THAT(s.Meeting("meet-1", OsloTime(2026, 3, 20, 10), referral::v1::MunicipalContact()),
              IsEmpty());
}

// ===============================================================================================
// Appointment reminders to patients and relatives
// ===============================================================================================

// A patient who consented (English, by webhook) with three relatives: one who consented (Danish),
// one who did not, one who consented without an address.
v1::ContactPreference FamilyPreference() {
  v1::ContactPreference p = Preference(true, "+4790000001", "en");
  AddRelative(p, "rel-1", true, "+4590000002", "da");
  AddRelative(p, "rel-2", false, "+4790000003", "nb");
  AddRelative(p, "rel-3", true, "", "nb");
  return p;
}

TEST(NotificationPolicy,
     GivenConsent_WhenAppointmentScheduled_ThenPatientAndConsentingRelativeReminded) {
  Story s(OsloTime(2026, 3, 9, 10));
  s.SetPreference(FamilyPreference());
  s.Start(Day(2026, 3, 2));
  const std::vector<NotificationCommand> commands =
      s.Appointment("appt-1", OsloTime(2026, 3, 16, 10, 30));
  const std::vector<Schedule> reminders = SchedulesOf(commands, v1::APPOINTMENT_REMINDER);
  ASSERT_THAT(commands, SizeIs(2)) << Describe(commands);
  ASSERT_THAT(reminders, SizeIs(2));
  const Schedule& patient = reminders[0].notification.recipient().role() == v1::Recipient::PATIENT
                                ? reminders[0]
                                : reminders[1];
  const Schedule& relative = &patient == &reminders[0] ? reminders[1] : reminders[0];
  EXPECT_NE(patient.notification_id, relative.notification_id);

  v1::Recipient to_patient;
  to_patient.set_role(v1::Recipient::PATIENT);
  to_patient.set_id(kPatientKey);  // pseudonymous, never the national id
  to_patient.set_address("+4790000001");
  to_patient.set_language("en");
  EXPECT_THAT(patient.notification.recipient(), EqualsProto(to_patient));
  EXPECT_EQ(patient.notification.channel(), v1::WEBHOOK);
  EXPECT_EQ(DueAt(patient), OsloTime(2026, 3, 15, 10, 30));  // 24 hours before
  EXPECT_EQ(patient.notification.subject(), "Appointment reminder");
  EXPECT_EQ(patient.notification.body(),
            "You have an appointment at 2026-03-16 10:30 at ahus-poliklinikk-3. Please tell us if "
            "you cannot come.");

  v1::Recipient to_relative;
  to_relative.set_role(v1::Recipient::RELATIVE);
  to_relative.set_id("rel-1");
  to_relative.set_address("+4590000002");
  to_relative.set_language("da");
  EXPECT_THAT(relative.notification.recipient(), EqualsProto(to_relative));
  EXPECT_EQ(DueAt(relative), OsloTime(2026, 3, 15, 10, 30));
  EXPECT_EQ(relative.notification.subject(), "Påmindelse om tid");
  EXPECT_EQ(relative.notification.body(),
            "Du har en tid 2026-03-16 10:30 på ahus-poliklinikk-3. Giv besked, hvis du ikke kan "
            "komme.");

  // Nothing about the condition, the pathway or the patient's identity.
  for (const Schedule* r : {&patient, &relative}) {
    EXPECT_EQ(Params(*r), (std::map<std::string, std::string>{
                              {"unit", kUnit}, {"appointment_time", "2026-03-16 10:30"}}));
    ExpectNothingClinical(r->notification.subject());
    ExpectNothingClinical(r->notification.body());
  }
}

TEST(NotificationPolicy, GivenNorwegianConsent_WhenAppointmentScheduled_ThenReminderInBokmal) {
  Story s(OsloTime(2026, 3, 9, 10));
  s.SetPreference(Preference(true, "+4790000001", "nb", v1::FILE));
  s.Start(Day(2026, 3, 2));
  const Schedule r = OnlyScheduleOf(s.Appointment("appt-1", OsloTime(2026, 3, 16, 10, 30)),
                                    v1::APPOINTMENT_REMINDER);
  EXPECT_EQ(r.notification.channel(), v1::FILE);
  EXPECT_EQ(r.notification.subject(), "Påminnelse om time");
  EXPECT_EQ(r.notification.body(),
            "Du har time 2026-03-16 10:30 ved ahus-poliklinikk-3. Gi beskjed hvis du ikke kan "
            "komme.");
  ExpectNothingClinical(r.notification.body());
}

TEST(NotificationPolicy, GivenUnsupportedLanguage_WhenAppointmentScheduled_ThenReminderInBokmal) {
  Story s(OsloTime(2026, 3, 9, 10));
  s.SetPreference(Preference(true, "+4790000001", "sv"));
  s.Start(Day(2026, 3, 2));
  const Schedule r = OnlyScheduleOf(s.Appointment("appt-1", OsloTime(2026, 3, 16, 10, 30)),
                                    v1::APPOINTMENT_REMINDER);
  EXPECT_EQ(r.notification.recipient().language(), "nb");
  EXPECT_EQ(r.notification.subject(), "Påminnelse om time");
}

TEST(NotificationPolicy, GivenNoPreference_WhenAppointmentScheduled_ThenNoReminder) {
  Story s(OsloTime(2026, 3, 9, 10));
  s.Start(Day(2026, 3, 2));
  EXPECT_THAT(s.Appointment("appt-1", OsloTime(2026, 3, 16, 10, 30)), IsEmpty());
}

TEST(NotificationPolicy, GivenNoConsent_WhenAppointmentScheduled_ThenNoReminder) {
  Story s(OsloTime(2026, 3, 9, 10));
  v1::ContactPreference p = Preference(false, "+4790000001", "nb");
  AddRelative(p, "rel-2", false, "+4790000003", "nb");
  s.SetPreference(p);
  s.Start(Day(2026, 3, 2));
  EXPECT_THAT(s.Appointment("appt-1", OsloTime(2026, 3, 16, 10, 30)), IsEmpty());
}

TEST(NotificationPolicy, GivenConsentWithoutAddress_WhenAppointmentScheduled_ThenNoReminder) {
  Story s(OsloTime(2026, 3, 9, 10));
  s.SetPreference(Preference(true, "", "nb"));
  s.Start(Day(2026, 3, 2));
  EXPECT_THAT(s.Appointment("appt-1", OsloTime(2026, 3, 16, 10, 30)), IsEmpty());
}

TEST(NotificationPolicy,
     GivenOnlyARelativeConsented_WhenAppointmentScheduled_ThenOnlyTheRelativeReminded) {
  Story s(OsloTime(2026, 3, 9, 10));
  v1::ContactPreference p = Preference(false, "", "nb");
  AddRelative(p, "rel-1", true, "+4590000002", "da");
  s.SetPreference(p);
  s.Start(Day(2026, 3, 2));
  const Schedule r = OnlyScheduleOf(s.Appointment("appt-1", OsloTime(2026, 3, 16, 10, 30)),
                                    v1::APPOINTMENT_REMINDER);
  EXPECT_EQ(r.notification.recipient().role(), v1::Recipient::RELATIVE);
  EXPECT_EQ(r.notification.recipient().id(), "rel-1");
}

TEST(NotificationPolicy, GivenConsent_WhenAppointmentWithinADay_ThenReminderDueAtOnce) {
  Story s(OsloTime(2026, 3, 16, 8));
  s.SetPreference(Preference(true, "+4790000001", "nb"));
  s.Start(Day(2026, 3, 2));
  const Schedule r =
      OnlyScheduleOf(s.Appointment("appt-1", OsloTime(2026, 3, 16, 13)), v1::APPOINTMENT_REMINDER);
  EXPECT_EQ(DueAt(r), OsloTime(2026, 3, 16, 8));
}

TEST(NotificationPolicy, GivenReminders_WhenAppointmentAttended_ThenItsRemindersCancelled) {
  Story s(OsloTime(2026, 3, 9, 10));
  s.SetPreference(FamilyPreference());
  s.Start(Day(2026, 3, 2));
  std::set<std::string> first, second;
  for (const Schedule& r : Schedules(s.Appointment("appt-1", OsloTime(2026, 3, 16, 10)))) {
    first.insert(r.notification_id);
  }
  for (const Schedule& r : Schedules(s.Appointment("appt-2", OsloTime(2026, 3, 23, 10)))) {
    second.insert(r.notification_id);
  }
  ASSERT_THAT(first, SizeIs(2));
  ASSERT_THAT(second, SizeIs(2));
  s.MoveTo(OsloTime(2026, 3, 16, 11));
  const std::vector<NotificationCommand> commands = s.Attendance("appt-1", true);
  std::set<std::string> cancelled;
  for (const Cancel& c : Cancels(commands)) {
    cancelled.insert(c.notification_id);
    EXPECT_EQ(c.reason, "appointment no longer ahead");
  }
  for (const std::string& id : first) EXPECT_EQ(cancelled.count(id), 1u) << id;
  for (const std::string& id : second) EXPECT_EQ(cancelled.count(id), 0u) << id;
  EXPECT_THAT(Schedules(commands), IsEmpty());

  // Through the book (nothing dispatched them here): appt-1's reminders end cancelled, appt-2's
  // stay scheduled.
  NotificationBook book;
  for (const auto& answer : s.answers()) book.Apply(answer);
  for (const std::string& id : first) EXPECT_EQ(book.Find(id)->status(), v1::CANCELLED) << id;
  for (const std::string& id : second) EXPECT_EQ(book.Find(id)->status(), v1::SCHEDULED) << id;
}

TEST(NotificationPolicy, GivenReminders_WhenPathwayEnded_ThenEveryAppointmentReminderCancelled) {
  Story s(OsloTime(2026, 3, 9, 10));
  s.SetPreference(FamilyPreference());
  s.Start(Day(2026, 3, 2));
  std::set<std::string> scheduled;
  for (const char* id : {"appt-1", "appt-2"}) {
    for (const Schedule& r : Schedules(s.Appointment(id, OsloTime(2026, 3, 23, 10)))) {
      scheduled.insert(r.notification_id);
    }
  }
  ASSERT_THAT(scheduled, SizeIs(4));
  s.MoveTo(OsloTime(2026, 3, 12, 10));
  const std::vector<NotificationCommand> commands = s.End(Day(2026, 3, 12));
  std::set<std::string> cancelled;
  for (const Cancel& c : Cancels(commands)) cancelled.insert(c.notification_id);
  for (const std::string& id : scheduled) EXPECT_EQ(cancelled.count(id), 1u) << id;

  NotificationBook book;
  for (const auto& answer : s.answers()) book.Apply(answer);
  for (const std::string& id : scheduled) EXPECT_EQ(book.Find(id)->status(), v1::CANCELLED) << id;
}

TEST(NotificationPolicy,
     GivenReminderAlreadySent_WhenAppointmentAttended_ThenCancelIsRefusedHarmlessly) {
  Story s(OsloTime(2026, 3, 9, 10));
  s.SetPreference(Preference(true, "+4790000001", "nb"));
  s.Start(Day(2026, 3, 2));
  NotificationBook book;
  for (const auto& answer : s.answers()) book.Apply(answer);
  const Schedule r =
      OnlyScheduleOf(s.Appointment("appt-1", OsloTime(2026, 3, 16, 10)), v1::APPOINTMENT_REMINDER);
  book.Apply(s.answers().back());
  book.Apply(MarkSent{r.notification_id, 1, OsloTime(2026, 3, 15, 10)});
  s.MoveTo(OsloTime(2026, 3, 16, 11));
  book.Apply(s.Attendance("appt-1", true));
  EXPECT_EQ(book.Find(r.notification_id)->status(), v1::SENT);
  EXPECT_GE(book.refused(absl::StatusCode::kFailedPrecondition), 1);
}

// ===============================================================================================
// Determinism: the same trigger names the same notification
// ===============================================================================================

// A history that exercises every rule: a legal deadline, attendance, correction, appointments
// with reminders, a meeting, two no-shows, a decision, a breach and the end.
Story FullStory() {
  Story s(OsloTime(2026, 3, 2, 10));
  s.SetPreference(FamilyPreference());
  s.Start(Day(2026, 3, 2), kCoordinator, Day(2026, 4, 18));
  s.MoveTo(OsloTime(2026, 3, 9, 10));
  s.Attend(Day(2026, 3, 9));
  s.Appointment("appt-1", OsloTime(2026, 3, 16, 10));
  s.Appointment("appt-2", OsloTime(2026, 3, 23, 10));
  s.Meeting("meet-1", OsloTime(2026, 3, 20, 10), Contact("Ola", "ola@lillestrom.kommune.no"));
  s.MoveTo(OsloTime(2026, 3, 12, 10));
  s.Correct("evt-2", Day(2026, 3, 10));
  s.MoveTo(OsloTime(2026, 3, 16, 11));
  s.Attendance("appt-1", false);
  s.MoveTo(OsloTime(2026, 3, 23, 11));
  s.Attendance("appt-2", false);
  s.MoveTo(OsloTime(2026, 4, 1, 3));
  s.Breach(DeadlineId(kDecisionRule));
  s.MoveTo(OsloTime(2026, 4, 2, 10));
  s.Decision(Day(2026, 4, 2));
  s.MoveTo(OsloTime(2026, 4, 20, 10));
  s.End(Day(2026, 4, 20));
  return s;
}

TEST(NotificationPolicyDeterminism,
     GivenAHistory_WhenFoldedAgain_ThenTheSameCommandsWithTheSameIds) {
  const Story first = FullStory();
  Story again(OsloTime(2026, 4, 20, 10));  // the events carry their own recorded_at
  again.SetPreference(first.preference());
  for (const PathwayEvent& e : first.history()) again.Fold(e);
  ASSERT_EQ(again.answers().size(), first.answers().size());
  for (size_t i = 0; i < first.answers().size(); ++i) {
    EXPECT_EQ(Canonical(again.answers()[i]), Canonical(first.answers()[i])) << "event " << i + 1;
  }
  // Every kind of notification was asked for.
  std::set<v1::NotificationKind> kinds;
  for (const auto& answer : first.answers()) {
    for (const Schedule& s : Schedules(answer)) kinds.insert(s.notification.kind());
  }
  EXPECT_THAT(kinds,
              UnorderedElementsAre(v1::DEADLINE_REMINDER, v1::BREACH_ALERT, v1::NO_SHOW_ALERT,
                                   v1::COLLABORATION_MEETING_NOTICE, v1::APPOINTMENT_REMINDER));
}

TEST(NotificationPolicyDeterminism,
     GivenAHistory_WhenEveryEventIsDeliveredTwice_ThenNoSecondNotification) {
  const Story story = FullStory();
  NotificationBook once;
  for (const auto& answer : story.answers()) once.Apply(answer);

  // Each event delivered again right after itself: the mirror already holds it, so "before" is
  // the state with the event folded in.
  Story twice(OsloTime(2026, 3, 2, 10));
  twice.SetPreference(story.preference());
  NotificationBook book;
  for (const PathwayEvent& e : story.history()) {
    book.Apply(twice.Fold(e));
    const pathway::v1::Pathway mirror = twice.pathway();
    const pathway::v1::Pathway again = PathwayDecider().Evolve(mirror, e);
    const std::vector<NotificationCommand> repeat =
        OnPathwayEvent(mirror, again, e, twice.preference(), twice.context());
    for (const Schedule& s : Schedules(repeat)) {
      EXPECT_NE(book.Find(s.notification_id), nullptr)
          << "a repeat asks for a notification the first delivery did not: " << Describe(s);
    }
    book.Apply(repeat);
  }
  ASSERT_EQ(book.size(), once.size());
  for (const auto& [id, n] : once.all()) {
    const v1::Notification* other = book.Find(id);
    ASSERT_NE(other, nullptr) << id;
    EXPECT_EQ(other->status(), n.status()) << id;
    EXPECT_EQ(other->due_at().SerializeAsString(), n.due_at().SerializeAsString()) << id;
  }
}

TEST(NotificationPolicyDeterminism, GivenTheSameEvent_WhenAskedTwice_ThenIdenticalAnswers) {
  Story s(OsloTime(2026, 3, 9, 10));
  s.SetPreference(FamilyPreference());
  s.Start(Day(2026, 3, 2));
  const pathway::v1::Pathway before = s.pathway();
  s.Appointment("appt-1", OsloTime(2026, 3, 16, 10));
  const PathwayEvent& event = s.history().back();
  const pathway::v1::Pathway after = s.pathway();
  EXPECT_EQ(Canonical(OnPathwayEvent(before, after, event, s.preference(), s.context())),
            Canonical(s.answers().back()));
  EXPECT_EQ(Canonical(OnReferralEvent(Submitted(OsloTime(2026, 3, 23, 9)), Context())),
            Canonical(OnReferralEvent(Submitted(OsloTime(2026, 3, 23, 9)), Context())));
}

TEST(NotificationPolicyDeterminism, GivenDifferentTriggers_ThenDifferentIds) {
  const std::set<std::string> ids = {
      DeadlineReminderId("pw-1/legal"),      DeadlineReminderId("pw-2/legal"),
      BreachAlertId("pw-1/legal"),           BreachAlertId("pw-2/legal"),
      AssessmentReminderId("ref-1"),         AssessmentReminderId("ref-2"),
      DeadlineReminderId(DecisionDeadline())};
  EXPECT_THAT(ids, SizeIs(7));
  EXPECT_EQ(DeadlineReminderId("pw-1/legal"), DeadlineReminderId("pw-1/legal"));
  for (const std::string& id : ids) {
    EXPECT_LE(id.size(), 64u) << id;  // a valid notification id
  }
}

// ===============================================================================================
// Defects found while writing these tests. Each test states the expected behaviour and fails
// until the policy is fixed (see the report).
// ===============================================================================================

// notification_policy.cc, Make(): NotificationScheduled.pathway_id / deadline_id / referral_id
// are never set, so every notification (state, list rows, file/webhook JSON) has them empty.
TEST(NotificationPolicyBug, GivenOpenDeadline_ThenReminderNamesItsPathwayAndDeadline) {
  Story s(OsloTime(2026, 3, 9, 10));
  s.Start(Day(2026, 3, 2));
  const Schedule r = OnlyScheduleOf(s.Attend(Day(2026, 3, 9)), v1::DEADLINE_REMINDER);
  EXPECT_EQ(r.notification.pathway_id(), kId);
  EXPECT_EQ(r.notification.deadline_id(), DecisionDeadline());
  EXPECT_EQ(r.notification.referral_id(), kReferralId);
}

TEST(NotificationPolicyBug, GivenBreach_ThenAlertNamesItsPathwayAndDeadline) {
  Story s(OsloTime(2026, 3, 9, 10));
  s.Start(Day(2026, 3, 2));
  s.Attend(Day(2026, 3, 9));
  s.MoveTo(OsloTime(2026, 3, 31, 3));
  const Schedule alert = OnlyScheduleOf(s.Breach(DecisionDeadline()), v1::BREACH_ALERT);
  EXPECT_EQ(alert.notification.pathway_id(), kId);
  EXPECT_EQ(alert.notification.deadline_id(), DecisionDeadline());
}

TEST(NotificationPolicyBug, GivenSubmittedReferral_ThenAssessmentReminderNamesItsReferral) {
  const Schedule r = OnlyScheduleOf(OnReferralEvent(Submitted(OsloTime(2026, 3, 23, 9)), Context()),
                                    v1::ASSESSMENT_REMINDER);
  EXPECT_EQ(r.notification.referral_id(), kReferralId);
}

TEST(NotificationPolicyBug, GivenNoShow_ThenAlertNamesItsPathway) {
  Story s(OsloTime(2026, 3, 9, 10));
  s.Start(Day(2026, 3, 2));
  s.Appointment("appt-1", OsloTime(2026, 3, 16, 10));
  s.MoveTo(OsloTime(2026, 3, 16, 11));
  const Schedule alert = OnlyScheduleOf(s.Attendance("appt-1", false), v1::NO_SHOW_ALERT);
  EXPECT_EQ(alert.notification.pathway_id(), kId);
}

// notification_policy.cc, kAppointmentMissed: the suggestion parameter is Norwegian text
// whatever the staff language, so English and Danish alerts carry a Norwegian sentence.
TEST(NotificationPolicyBug, GivenEnglishStaffLanguage_WhenSecondNoShow_ThenTheSuggestionIsEnglish) {
  PolicySettings settings;
  settings.staff_language = "en";
  Story s(OsloTime(2026, 3, 9, 10), settings);
  s.Start(Day(2026, 3, 2));
  s.Appointment("appt-1", OsloTime(2026, 3, 16, 10));
  s.Appointment("appt-2", OsloTime(2026, 3, 23, 10));
  s.MoveTo(OsloTime(2026, 3, 23, 11));
  s.Attendance("appt-1", false);
  const Schedule alert = OnlyScheduleOf(s.Attendance("appt-2", false), v1::NO_SHOW_ALERT);
  EXPECT_THAT(alert.notification.body(), HasSubstr("D01L"));
  EXPECT_THAT(alert.notification.body(), Not(HasSubstr("Vurder")));
  EXPECT_THAT(alert.notification.body(), Not(HasSubstr("pasientutsatt")));
}

// notification_policy.cc, kAppointmentScheduled: due = max(now, at - 24h), so an appointment
// recorded after its time (back-registration from the EHR) reminds the patient at once of an
// appointment that is already over.
TEST(NotificationPolicyBug, GivenConsent_WhenAppointmentRecordedAfterItsTime_ThenNoReminder) {
  Story s(OsloTime(2026, 3, 16, 15));
  s.SetPreference(Preference(true, "+4790000001", "nb"));
  s.Start(Day(2026, 3, 2));
  EXPECT_THAT(
      SchedulesOf(s.Appointment("appt-1", OsloTime(2026, 3, 16, 10)), v1::APPOINTMENT_REMINDER),
      IsEmpty());
}

}  // namespace
}  // namespace notify::domain
