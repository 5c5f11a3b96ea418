#include "services/referral/domain/referral_decider.h"

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "clinical/calendar.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/eventing/proto_time.h"
#include "tests/support/decider_spec.h"
#include "tests/support/equals_proto.h"

// Given-when-then tests of the referral decider, with the real Norwegian calendar (Saturday off)
// and the Europe/Oslo zone. Histories are built with the ev:: builders (payloads as the decider
// emits them) and stamped by History() with the metadata the application would add: event i of
// the stream gets stream_version i and event_id "evt-i".

namespace referral::domain {
namespace {

using ::es::testing::DeciderSpec;
using ::es::testing::EqualsProto;
using ::testing::HasSubstr;
using ::testing::Not;
using Event = v1::ReferralEvent;
using Date = ::eventing::v1::Date;

constexpr char kId[] = "ref-2026-0001";
constexpr char kUnit[] = "ahus-tsb";
constexpr char kOtherUnit[] = "ous-tsb";
constexpr char kPatientKey[] = "pk-3f9a";
constexpr char kReason[] = "Alcohol dependence; wants specialised treatment";
constexpr char kCorrectionReason[] = "Assessment registered on the wrong referral outcome";

// A Norwegian fødselsnummer built for these tests: born 01.01.1990, individual number 124
// (000-499 means 1900-1999), check digits computed by hand:
//   k1 = 11 - (0*3 + 1*7 + 0*6 + 1*1 + 9*8 + 0*9 + 1*4 + 2*5 + 4*2) % 11 = 11 - 102 % 11 = 8
//   k2 = 11 - (0*5 + 1*4 + 0*3 + 1*2 + 9*7 + 0*6 + 1*5 + 2*4 + 4*3 + 8*2) % 11
//      = 11 - 110 % 11 = 11, which gives 0
// (Individual number 123 would give k1 = 10, which no valid number has.)
constexpr char kFnrInput[] = "010190 124 80";  // as typed, with spaces
constexpr char kFnrDigits[] = "01019012480";
constexpr char kFnrBadCheck[] = "01019012481";  // second check digit off by one
// A Danish CPR number with a real date (7th digit 1 with year 90: 1990) that fails mod 11:
// 0*4 + 1*3 + 0*2 + 1*7 + 9*6 + 0*5 + 1*4 + 2*3 + 3*2 + 4*1 = 84, and 84 % 11 = 7.
constexpr char kCprInput[] = "010190-1234";
constexpr char kCprDigits[] = "0101901234";

absl::Time Utc(int y, int m, int d, int hh, int mm) {
  return absl::FromCivil(absl::CivilMinute(y, m, d, hh, mm), absl::UTCTimeZone());
}

Date D(int y, int m, int d) {
  Date date;
  date.set_year(y);
  date.set_month(m);
  date.set_day(d);
  return date;
}

// Thursday 26 March 2026, 23:30 UTC: Oslo is still on winter time (UTC+1; summer time starts
// Sunday 29 March), so the unit received it on Friday 27 March at 00:30.
const absl::Time kReceivedAt = Utc(2026, 3, 26, 23, 30);
const Date kReceivedDate = D(2026, 3, 27);
// Friday 27 March 2026 + 10 working days (Saturdays, Sundays and holidays skipped), with Easter
// Sunday 2026 on 5 April:
//   Mon 30 Mar (1), Tue 31 Mar (2), Wed 1 Apr (3),
//   Thu 2 Apr Maundy Thursday, Fri 3 Apr Good Friday, Sat 4, Sun 5, Mon 6 Apr Easter Monday,
//   Tue 7 (4), Wed 8 (5), Thu 9 (6), Fri 10 (7), Mon 13 (8), Tue 14 (9), Wed 15 Apr (10).
// (Counting from the UTC date, Thursday 26 March, would give Tuesday 14 April instead.)
const Date kDeadline = D(2026, 4, 15);
const absl::Time kAssessedAt = Utc(2026, 4, 8, 9, 0);  // 11:00 CEST, well before the deadline
const absl::Time kAssignedAt = Utc(2026, 4, 9, 8, 0);
const absl::Time kWithdrawnAt = Utc(2026, 4, 10, 8, 0);

const ReferralDecider& Decider() {
  static const ReferralDecider* const decider = [] {
    absl::StatusOr<clinical::Calendar> calendar = clinical::Calendar::Create(
        clinical::NorwegianCalendarSpec(/*saturday_is_working_day=*/false));
    absl::TimeZone zone;
    if (!calendar.ok() || !absl::LoadTimeZone("Europe/Oslo", &zone)) {
      std::fprintf(stderr, "cannot build the Norwegian calendar or load Europe/Oslo\n");
      std::abort();
    }
    return new ReferralDecider(*std::move(calendar), zone);
  }();
  return *decider;
}

DeciderSpec<ReferralDecider> Spec() { return DeciderSpec<ReferralDecider>(Decider()); }

v1::Referrer Referrer() {
  v1::Referrer referrer;
  referrer.set_hpr_number("9144889");
  referrer.set_name("Kari Lege");
  referrer.set_organisation("Strømmen legekontor");
  return referrer;
}

v1::MunicipalContact Contact() {
  v1::MunicipalContact contact;
  contact.set_name("Ola Koordinator");
  contact.set_municipality("Lillestrøm");
  contact.set_phone("+47 66 00 00 00");
  return contact;
}

// --- Assessments -------------------------------------------------------------------------------

namespace outcome {

v1::Assessment At(v1::Assessment a, absl::Time at) {
  *a.mutable_assessed_at() = es::ToProtoTimestamp(at);
  a.set_assessed_by("clin-7");
  return a;
}

v1::Assessment RightToCare(absl::Time at = kAssessedAt, Date legal_deadline = D(2026, 6, 1)) {
  v1::Assessment a;
  *a.mutable_right_to_care()->mutable_legal_deadline() = legal_deadline;
  a.mutable_right_to_care()->set_pathway_type("NO_TSB");
  return At(std::move(a), at);
}

v1::Assessment NoRight(absl::Time at = kAssessedAt) {
  v1::Assessment a;
  a.mutable_no_right()->set_reason("No need for specialised care; follow-up by the GP");
  return At(std::move(a), at);
}

v1::Assessment Forwarded(std::string to_unit = kOtherUnit, absl::Time at = kAssessedAt) {
  v1::Assessment a;
  a.mutable_forwarded()->set_to_unit(std::move(to_unit));
  a.mutable_forwarded()->set_reason("Patient lives in the other unit's catchment area");
  return At(std::move(a), at);
}

v1::Assessment Returned(absl::Time at = kAssessedAt) {
  v1::Assessment a;
  a.mutable_returned()->set_reason("Please add current medication");
  return At(std::move(a), at);
}

}  // namespace outcome

struct NamedOutcome {
  std::string name;
  v1::Assessment assessment;
  v1::ReferralStatus status;
};

std::vector<NamedOutcome> AllOutcomes() {
  return {{"right_to_care", outcome::RightToCare(), v1::RIGHT_TO_CARE},
          {"no_right", outcome::NoRight(), v1::NO_RIGHT},
          {"forwarded", outcome::Forwarded(), v1::FORWARDED},
          {"returned", outcome::Returned(), v1::RETURNED}};
}

// --- Events ------------------------------------------------------------------------------------

namespace ev {

// What the decider emits for ValidSubmit().
Event Submitted() {
  Event e;
  v1::ReferralSubmitted& s = *e.mutable_submitted();
  s.set_referral_id(kId);
  s.mutable_patient()->set_system(v1::PatientIdentifier::NO_FODSELSNUMMER);
  s.mutable_patient()->set_value(kFnrDigits);
  *s.mutable_referrer() = Referrer();
  s.set_receiving_unit(kUnit);
  *s.mutable_received_at() = es::ToProtoTimestamp(kReceivedAt);
  *s.mutable_received_date() = kReceivedDate;
  s.set_reason(kReason);
  s.set_suspected_condition("F10.2");
  s.set_priority(v1::PRIORITY_ORDINARY);
  *s.mutable_municipal_contact() = Contact();
  *s.mutable_assessment_deadline() = kDeadline;
  s.set_calendar_id("NO");
  return e;
}

Event Assessed(v1::Assessment assessment, bool on_time = true) {
  Event e;
  e.mutable_assessed()->set_referral_id(kId);
  *e.mutable_assessed()->mutable_assessment() = std::move(assessment);
  e.mutable_assessed()->set_assessed_on_time(on_time);
  return e;
}

Event Corrected(v1::Assessment assessment, std::string corrects_event_id,
                std::string reason = kCorrectionReason) {
  Event e;
  v1::AssessmentCorrected& c = *e.mutable_assessment_corrected();
  c.set_referral_id(kId);
  *c.mutable_assessment() = std::move(assessment);
  c.set_corrects_event_id(std::move(corrects_event_id));
  c.set_reason(std::move(reason));
  return e;
}

Event CoordinatorAssigned(std::string coordinator_id, std::string name = "Nina Berg",
                          absl::Time at = kAssignedAt) {
  Event e;
  v1::CoordinatorAssigned& c = *e.mutable_coordinator_assigned();
  c.set_referral_id(kId);
  c.set_coordinator_id(std::move(coordinator_id));
  c.set_coordinator_name(std::move(name));
  *c.mutable_assigned_at() = es::ToProtoTimestamp(at);
  return e;
}

Event Withdrawn(std::string reason = "Patient moved abroad", absl::Time at = kWithdrawnAt) {
  Event e;
  e.mutable_withdrawn()->set_referral_id(kId);
  e.mutable_withdrawn()->set_reason(std::move(reason));
  *e.mutable_withdrawn()->mutable_withdrawn_at() = es::ToProtoTimestamp(at);
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
  for (size_t i = 0; i < events.size(); ++i) events[i] = Stamped(std::move(events[i]), i + 1);
  return events;
}

std::vector<Event> Received() { return History({ev::Submitted()}); }
std::vector<Event> AssessedAs(const v1::Assessment& a) {
  return History({ev::Submitted(), ev::Assessed(a)});
}
std::vector<Event> WithdrawnWhileReceived() { return History({ev::Submitted(), ev::Withdrawn()}); }

v1::Referral Fold(const std::vector<Event>& history) {
  v1::Referral state = Decider().Initial();
  for (const Event& e : history) state = Decider().Evolve(std::move(state), e);
  return state;
}

// The state after the decision's events are stamped (next versions) and folded in.
v1::Referral StateAfterDecision(const DeciderSpec<ReferralDecider>& spec) {
  v1::Referral state = spec.state();
  if (!spec.result().ok()) {
    ADD_FAILURE() << "decision failed: " << spec.result().status();
    return state;
  }
  for (const Event& e : *spec.result()) {
    state = Decider().Evolve(std::move(state), Stamped(e, state.version() + 1));
  }
  return state;
}

// --- Commands ----------------------------------------------------------------------------------

SubmitReferral ValidSubmit() {
  SubmitReferral c;
  c.referral_id = kId;
  c.patient.set_system(v1::PatientIdentifier::NO_FODSELSNUMMER);
  c.patient.set_value(kFnrInput);
  c.patient_key = kPatientKey;
  c.referrer = Referrer();
  c.receiving_unit = kUnit;
  c.received_at = kReceivedAt;
  c.reason = kReason;
  c.suspected_condition = "F10.2";
  c.priority = v1::PRIORITY_ORDINARY;
  c.municipal_contact = Contact();
  return c;
}

AssessReferral Assess(v1::Assessment a) {
  return AssessReferral{.referral_id = kId, .assessment = std::move(a)};
}

CorrectAssessment Correct(v1::Assessment a, std::string reason = kCorrectionReason) {
  return CorrectAssessment{
      .referral_id = kId, .assessment = std::move(a), .reason = std::move(reason)};
}

AssignCoordinator Assign(std::string coordinator_id, std::string name = "Nina Berg",
                         absl::Time at = kAssignedAt) {
  return AssignCoordinator{.referral_id = kId,
                           .coordinator_id = std::move(coordinator_id),
                           .coordinator_name = std::move(name),
                           .assigned_at = at};
}

WithdrawReferral Withdraw(std::string reason = "Patient moved abroad",
                          absl::Time at = kWithdrawnAt) {
  return WithdrawReferral{.referral_id = kId, .reason = std::move(reason), .withdrawn_at = at};
}

// --- Rejection checks --------------------------------------------------------------------------

// No part of the patient's number (all digits, birth date, individual number + checks) may
// appear in a status message.
void ExpectNoPatientDigits(const std::string& message, const std::string& raw_id) {
  std::string digits;
  for (char c : raw_id) {
    if (std::isdigit(static_cast<unsigned char>(c))) digits.push_back(c);
  }
  if (digits.size() < 6) return;
  EXPECT_THAT(message, Not(HasSubstr(digits)));
  EXPECT_THAT(message, Not(HasSubstr(digits.substr(0, 6))));
  EXPECT_THAT(message, Not(HasSubstr(digits.substr(6))));
}

// `command` on an empty stream fails with kInvalidArgument, the message names `field`, and it
// leaks no part of the patient's number.
void ExpectSubmitRejected(const SubmitReferral& command, std::string_view field) {
  SCOPED_TRACE(absl::StrCat("field ", std::string(field)));
  DeciderSpec<ReferralDecider> spec = Spec();
  spec.Given({}).When(command).ThenFails(absl::StatusCode::kInvalidArgument);
  if (spec.result().ok()) return;
  const std::string message(spec.result().status().message());
  EXPECT_THAT(message, HasSubstr(std::string(field)));
  ExpectNoPatientDigits(message, command.patient.value());
}

// `spec` was decided and failed with kInvalidArgument naming `field`.
void ExpectRejectedNaming(const DeciderSpec<ReferralDecider>& spec, std::string_view field) {
  spec.ThenFails(absl::StatusCode::kInvalidArgument);
  if (spec.result().ok()) return;
  EXPECT_THAT(std::string(spec.result().status().message()), HasSubstr(std::string(field)));
}

// ===============================================================================================
// SubmitReferral
// ===============================================================================================

TEST(ReferralDecider, GivenNothing_WhenSubmitted_ThenReferralSubmittedWithNormalisedIdAndDeadline) {
  Spec().Given({}).When(ValidSubmit()).Then({ev::Submitted()});
}

TEST(ReferralDecider, GivenNothing_WhenSubmittedJustBeforeUtcMidnightInWinter_ThenOsloDateCounts) {
  DeciderSpec<ReferralDecider> spec = Spec();
  spec.Given({}).When(ValidSubmit());
  ASSERT_TRUE(spec.result().ok()) << spec.result().status();
  const v1::ReferralSubmitted& e = spec.result()->at(0).submitted();
  EXPECT_THAT(e.received_date(), EqualsProto(D(2026, 3, 27)));        // not 26 March (UTC)
  EXPECT_THAT(e.assessment_deadline(), EqualsProto(D(2026, 4, 15)));  // not 14 April
  EXPECT_EQ(e.patient().value(), kFnrDigits);
  EXPECT_EQ(e.calendar_id(), "NO");
}

TEST(ReferralDecider,
     GivenNothing_WhenSubmittedAfterUtcMidnightInSummer_ThenDeadlineSkipsAscensionAndWhitMonday) {
  // Monday 11 May 2026, 22:30 UTC is Tuesday 12 May, 00:30 CEST (UTC+2). + 10 working days:
  //   Wed 13 (1), Thu 14 Ascension Day, Fri 15 (2), Mon 18 (3), Tue 19 (4), Wed 20 (5),
  //   Thu 21 (6), Fri 22 (7), Mon 25 Whit Monday, Tue 26 (8), Wed 27 (9), Thu 28 May (10).
  // (17 May falls on a Sunday in 2026.)
  SubmitReferral command = ValidSubmit();
  command.received_at = Utc(2026, 5, 11, 22, 30);
  Event expected = ev::Submitted();
  *expected.mutable_submitted()->mutable_received_at() = es::ToProtoTimestamp(command.received_at);
  *expected.mutable_submitted()->mutable_received_date() = D(2026, 5, 12);
  *expected.mutable_submitted()->mutable_assessment_deadline() = D(2026, 5, 28);
  Spec().Given({}).When(command).Then({expected});
}

TEST(ReferralDecider, GivenNothing_WhenSubmittedWithoutMunicipalContact_ThenEventHasNone) {
  SubmitReferral command = ValidSubmit();
  command.municipal_contact.reset();
  Event expected = ev::Submitted();
  expected.mutable_submitted()->clear_municipal_contact();
  Spec().Given({}).When(command).Then({expected});
}

TEST(ReferralDecider, GivenNothing_WhenSubmittedWithDanishCprFailingMod11_ThenAccepted) {
  SubmitReferral command = ValidSubmit();
  command.patient.set_system(v1::PatientIdentifier::DK_CPR);
  command.patient.set_value(kCprInput);
  Event expected = ev::Submitted();
  expected.mutable_submitted()->mutable_patient()->set_system(v1::PatientIdentifier::DK_CPR);
  expected.mutable_submitted()->mutable_patient()->set_value(kCprDigits);
  Spec().Given({}).When(command).Then({expected});
}

TEST(ReferralDecider, GivenNothing_WhenSubmittedWithReferrerNameOnlyOrHprOnly_ThenAccepted) {
  SubmitReferral name_only = ValidSubmit();
  name_only.referrer.clear_hpr_number();
  Spec().Given({}).When(name_only).Then({[] {
    Event e = ev::Submitted();
    e.mutable_submitted()->mutable_referrer()->clear_hpr_number();
    return e;
  }()});
  SubmitReferral hpr_only = ValidSubmit();
  hpr_only.referrer.clear_name();
  Spec().Given({}).When(hpr_only).Then({[] {
    Event e = ev::Submitted();
    e.mutable_submitted()->mutable_referrer()->clear_name();
    return e;
  }()});
}

TEST(ReferralDecider, GivenNothing_WhenSubmittedWithReasonOfExactly10000Chars_ThenAccepted) {
  SubmitReferral command = ValidSubmit();
  command.reason = std::string(10000, 'x');
  Event expected = ev::Submitted();
  expected.mutable_submitted()->set_reason(command.reason);
  Spec().Given({}).When(command).Then({expected});
}

TEST(ReferralDecider, GivenNothing_WhenSubmittedWithBadReferralId_ThenInvalidArgument) {
  for (const std::string& bad :
       {std::string(""), std::string("ref/1"), std::string("ref 1"), std::string("ref#1"),
        std::string("référence"), std::string(65, 'a')}) {
    SCOPED_TRACE(absl::StrCat("referral_id '", bad, "'"));
    SubmitReferral command = ValidSubmit();
    command.referral_id = bad;
    ExpectSubmitRejected(command, "referral_id");
  }
}

TEST(ReferralDecider, GivenNothing_WhenSubmittedWith64CharReferralId_ThenAccepted) {
  SubmitReferral command = ValidSubmit();
  command.referral_id = std::string(60, 'a') + "._:-";
  DeciderSpec<ReferralDecider> spec = Spec();
  spec.Given({}).When(command);
  EXPECT_TRUE(spec.result().ok()) << spec.result().status();
}

TEST(ReferralDecider, GivenNothing_WhenSubmittedWithPatientSystemUnset_ThenInvalidArgument) {
  SubmitReferral command = ValidSubmit();
  command.patient.set_system(v1::PatientIdentifier::SYSTEM_UNSPECIFIED);
  ExpectSubmitRejected(command, "patient.system");
}

TEST(ReferralDecider,
     GivenNothing_WhenSubmittedWithFodselsnummerFailingCheckDigit_ThenInvalidArgument) {
  SubmitReferral command = ValidSubmit();
  command.patient.set_value(kFnrBadCheck);
  ExpectSubmitRejected(command, "patient.value");
}

TEST(ReferralDecider, GivenNothing_WhenSubmittedWithMalformedPatientValue_ThenInvalidArgument) {
  for (const char* bad : {"", "0101901248", "010190124800", "0101901248O", "15058532107x"}) {
    SCOPED_TRACE(absl::StrCat("patient.value '", bad, "'"));
    SubmitReferral command = ValidSubmit();
    command.patient.set_value(bad);
    ExpectSubmitRejected(command, "patient.value");
  }
}

TEST(ReferralDecider,
     GivenNothing_WhenSubmittedWithCprUnderFodselsnummerSystem_ThenInvalidArgument) {
  SubmitReferral command = ValidSubmit();
  command.patient.set_value(kCprInput);  // 10 digits: not a fødselsnummer
  ExpectSubmitRejected(command, "patient.value");
}

TEST(ReferralDecider, GivenNothing_WhenSubmittedWithoutReferrer_ThenInvalidArgument) {
  SubmitReferral command = ValidSubmit();
  command.referrer.clear_name();
  command.referrer.clear_hpr_number();  // organisation alone is not enough
  ExpectSubmitRejected(command, "referrer");
}

TEST(ReferralDecider, GivenNothing_WhenSubmittedWithoutReceivingUnit_ThenInvalidArgument) {
  SubmitReferral command = ValidSubmit();
  command.receiving_unit = "";
  ExpectSubmitRejected(command, "receiving_unit");
  command.receiving_unit = "ahus/tsb";
  ExpectSubmitRejected(command, "receiving_unit");
}

TEST(ReferralDecider, GivenNothing_WhenSubmittedWithoutReceivedAt_ThenInvalidArgument) {
  SubmitReferral command = ValidSubmit();
  command.received_at = absl::InfinitePast();
  ExpectSubmitRejected(command, "received_at");
}

TEST(ReferralDecider, GivenNothing_WhenSubmittedWithoutReason_ThenInvalidArgument) {
  SubmitReferral command = ValidSubmit();
  command.reason = "";
  ExpectSubmitRejected(command, "reason");
}

TEST(ReferralDecider, GivenNothing_WhenSubmittedWithReasonOver10000Chars_ThenInvalidArgument) {
  SubmitReferral command = ValidSubmit();
  command.reason = std::string(10001, 'x');
  ExpectSubmitRejected(command, "reason");
}

TEST(ReferralDecider, GivenNothing_WhenSubmittedWithPriorityUnset_ThenInvalidArgument) {
  SubmitReferral command = ValidSubmit();
  command.priority = v1::PRIORITY_UNSPECIFIED;
  ExpectSubmitRejected(command, "priority");
  command.priority = static_cast<v1::Priority>(7);  // unknown value on the wire
  ExpectSubmitRejected(command, "priority");
}

TEST(ReferralDecider,
     GivenNothing_WhenSubmittedWithMunicipalContactWithoutName_ThenInvalidArgument) {
  SubmitReferral command = ValidSubmit();
  command.municipal_contact->clear_name();
  ExpectSubmitRejected(command, "municipal_contact");
}

TEST(ReferralDecider,
     GivenNothing_WhenSubmittedWithMunicipalContactWithoutMunicipality_ThenInvalidArgument) {
  SubmitReferral command = ValidSubmit();
  command.municipal_contact->clear_municipality();
  ExpectSubmitRejected(command, "municipal_contact");
}

TEST(ReferralDecider, GivenNothing_WhenSubmittedWithoutPatientKey_ThenInternal) {
  SubmitReferral command = ValidSubmit();
  command.patient_key = "";
  Spec().Given({}).When(command).ThenFails(absl::StatusCode::kInternal);
}

TEST(ReferralDecider, GivenExistingReferral_WhenSubmittedAgain_ThenAlreadyExists) {
  Spec().Given(Received()).When(ValidSubmit()).ThenFails(absl::StatusCode::kAlreadyExists);
  Spec()
      .Given(AssessedAs(outcome::NoRight()))
      .When(ValidSubmit())
      .ThenFails(absl::StatusCode::kAlreadyExists);
  Spec()
      .Given(WithdrawnWhileReceived())
      .When(ValidSubmit())
      .ThenFails(absl::StatusCode::kAlreadyExists);
}

// ===============================================================================================
// AssessReferral
// ===============================================================================================

TEST(ReferralDecider, GivenReceivedReferral_WhenAssessedWithRightToCare_ThenReferralAssessed) {
  DeciderSpec<ReferralDecider> spec = Spec();
  spec.Given(Received()).When(Assess(outcome::RightToCare()));
  spec.Then({ev::Assessed(outcome::RightToCare(), /*on_time=*/true)});
  const v1::Referral after = StateAfterDecision(spec);
  EXPECT_EQ(after.status(), v1::RIGHT_TO_CARE);
  EXPECT_THAT(after.assessment(), EqualsProto(outcome::RightToCare()));
  EXPECT_EQ(after.assessment_event_id(), "evt-2");
  EXPECT_TRUE(after.assessed_on_time());
  EXPECT_EQ(after.version(), 2);
}

TEST(ReferralDecider, GivenReceivedReferral_WhenAssessedWithNoRight_ThenReferralAssessed) {
  DeciderSpec<ReferralDecider> spec = Spec();
  spec.Given(Received()).When(Assess(outcome::NoRight()));
  spec.Then({ev::Assessed(outcome::NoRight())});
  EXPECT_EQ(StateAfterDecision(spec).status(), v1::NO_RIGHT);
}

TEST(ReferralDecider, GivenReceivedReferral_WhenForwarded_ThenReferralAssessed) {
  DeciderSpec<ReferralDecider> spec = Spec();
  spec.Given(Received()).When(Assess(outcome::Forwarded()));
  spec.Then({ev::Assessed(outcome::Forwarded())});
  EXPECT_EQ(StateAfterDecision(spec).status(), v1::FORWARDED);
}

TEST(ReferralDecider, GivenReceivedReferral_WhenReturned_ThenReferralAssessed) {
  DeciderSpec<ReferralDecider> spec = Spec();
  spec.Given(Received()).When(Assess(outcome::Returned()));
  spec.Then({ev::Assessed(outcome::Returned())});
  EXPECT_EQ(StateAfterDecision(spec).status(), v1::RETURNED);
}

TEST(ReferralDecider, GivenReceivedReferral_WhenAssessedLateOnDeadlineDayInOslo_ThenOnTime) {
  // 15 April 21:30 UTC is 23:30 CEST on the deadline day (summer time, UTC+2).
  const v1::Assessment a = outcome::RightToCare(Utc(2026, 4, 15, 21, 30));
  Spec().Given(Received()).When(Assess(a)).Then({ev::Assessed(a, /*on_time=*/true)});
}

TEST(ReferralDecider, GivenReceivedReferral_WhenAssessedDayAfterDeadlineInOslo_ThenNotOnTime) {
  // 15 April 22:30 UTC is already 00:30 CEST on 16 April, the day after the deadline.
  const v1::Assessment a = outcome::NoRight(Utc(2026, 4, 15, 22, 30));
  DeciderSpec<ReferralDecider> spec = Spec();
  spec.Given(Received()).When(Assess(a));
  spec.Then({ev::Assessed(a, /*on_time=*/false)});
  EXPECT_FALSE(StateAfterDecision(spec).assessed_on_time());
}

TEST(ReferralDecider, GivenReceivedReferral_WhenAssessedAtTheMomentOfReceipt_ThenAccepted) {
  const v1::Assessment a = outcome::Returned(kReceivedAt);
  Spec().Given(Received()).When(Assess(a)).Then({ev::Assessed(a)});
}

TEST(ReferralDecider,
     GivenReceivedReferral_WhenLegalDeadlineBeforeReceivedDate_ThenInvalidArgument) {
  // Received on 27 March (Oslo); 26 March is the day before.
  DeciderSpec<ReferralDecider> spec = Spec();
  spec.Given(Received()).When(Assess(outcome::RightToCare(kAssessedAt, D(2026, 3, 26))));
  ExpectRejectedNaming(spec, "assessment.right_to_care.legal_deadline");
}

TEST(ReferralDecider, GivenReceivedReferral_WhenLegalDeadlineOnReceivedDate_ThenAccepted) {
  const v1::Assessment a = outcome::RightToCare(kAssessedAt, kReceivedDate);
  Spec().Given(Received()).When(Assess(a)).Then({ev::Assessed(a)});
}

TEST(ReferralDecider,
     GivenReceivedReferral_WhenLegalDeadlineMissingOrNotARealDate_ThenInvalidArgument) {
  v1::Assessment missing = outcome::RightToCare();
  missing.mutable_right_to_care()->clear_legal_deadline();
  DeciderSpec<ReferralDecider> spec1 = Spec();
  spec1.Given(Received()).When(Assess(missing));
  ExpectRejectedNaming(spec1, "assessment.right_to_care.legal_deadline");

  DeciderSpec<ReferralDecider> spec2 = Spec();
  spec2.Given(Received()).When(Assess(outcome::RightToCare(kAssessedAt, D(2026, 4, 31))));
  ExpectRejectedNaming(spec2, "assessment.right_to_care.legal_deadline");
}

TEST(ReferralDecider, GivenReceivedReferral_WhenForwardedToItsOwnUnit_ThenInvalidArgument) {
  DeciderSpec<ReferralDecider> spec = Spec();
  spec.Given(Received()).When(Assess(outcome::Forwarded(kUnit)));
  ExpectRejectedNaming(spec, "assessment.forwarded.to_unit");
}

TEST(ReferralDecider, GivenReceivedReferral_WhenForwardedToInvalidUnit_ThenInvalidArgument) {
  DeciderSpec<ReferralDecider> spec = Spec();
  spec.Given(Received()).When(Assess(outcome::Forwarded("")));
  ExpectRejectedNaming(spec, "assessment.forwarded.to_unit");
}

TEST(ReferralDecider,
     GivenReceivedReferral_WhenNoRightOrReturnedWithoutReason_ThenInvalidArgument) {
  v1::Assessment no_right = outcome::NoRight();
  no_right.mutable_no_right()->clear_reason();
  DeciderSpec<ReferralDecider> spec1 = Spec();
  spec1.Given(Received()).When(Assess(no_right));
  ExpectRejectedNaming(spec1, "assessment.no_right.reason");

  v1::Assessment returned = outcome::Returned();
  returned.mutable_returned()->clear_reason();
  DeciderSpec<ReferralDecider> spec2 = Spec();
  spec2.Given(Received()).When(Assess(returned));
  ExpectRejectedNaming(spec2, "assessment.returned.reason");
}

TEST(ReferralDecider, GivenReceivedReferral_WhenAssessedWithoutOutcome_ThenInvalidArgument) {
  v1::Assessment a = outcome::At(v1::Assessment(), kAssessedAt);
  DeciderSpec<ReferralDecider> spec = Spec();
  spec.Given(Received()).When(Assess(a));
  ExpectRejectedNaming(spec, "assessment.outcome");
}

TEST(ReferralDecider, GivenReceivedReferral_WhenAssessedWithoutAssessedAt_ThenInvalidArgument) {
  v1::Assessment a = outcome::RightToCare();
  a.clear_assessed_at();
  DeciderSpec<ReferralDecider> spec = Spec();
  spec.Given(Received()).When(Assess(a));
  ExpectRejectedNaming(spec, "assessment.assessed_at");
}

TEST(ReferralDecider, GivenReceivedReferral_WhenAssessedBeforeItWasReceived_ThenInvalidArgument) {
  DeciderSpec<ReferralDecider> spec = Spec();
  spec.Given(Received()).When(Assess(outcome::NoRight(kReceivedAt - absl::Seconds(1))));
  ExpectRejectedNaming(spec, "assessment.assessed_at");
}

TEST(ReferralDecider, GivenNothing_WhenAssessed_ThenNotFound) {
  Spec().Given({}).When(Assess(outcome::RightToCare())).ThenFails(absl::StatusCode::kNotFound);
}

TEST(ReferralDecider, GivenNothing_WhenAssessedWithBadReferralId_ThenInvalidArgument) {
  AssessReferral command = Assess(outcome::RightToCare());
  command.referral_id = "ref/1";
  DeciderSpec<ReferralDecider> spec = Spec();
  spec.Given({}).When(command);
  ExpectRejectedNaming(spec, "referral_id");
}

TEST(ReferralDecider, GivenAssessedReferral_WhenAssessedAgain_ThenFailedPrecondition) {
  for (const NamedOutcome& first : AllOutcomes()) {
    SCOPED_TRACE(absl::StrCat("assessed as ", first.name));
    ASSERT_EQ(Fold(AssessedAs(first.assessment)).status(), first.status);
    Spec()
        .Given(AssessedAs(first.assessment))
        .When(Assess(outcome::RightToCare()))
        .ThenFails(absl::StatusCode::kFailedPrecondition);
  }
}

TEST(ReferralDecider, GivenWithdrawnReferral_WhenAssessed_ThenFailedPrecondition) {
  Spec()
      .Given(WithdrawnWhileReceived())
      .When(Assess(outcome::RightToCare()))
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

// ===============================================================================================
// CorrectAssessment
// ===============================================================================================

TEST(ReferralDecider,
     GivenAssessedReferral_WhenAssessmentCorrected_ThenCorrectionReferencesAssessment) {
  DeciderSpec<ReferralDecider> spec = Spec();
  spec.Given(AssessedAs(outcome::RightToCare()))  // ReferralAssessed is evt-2
      .When(Correct(outcome::NoRight()));
  spec.Then({ev::Corrected(outcome::NoRight(), "evt-2")});
  const v1::Referral after = StateAfterDecision(spec);
  EXPECT_EQ(after.status(), v1::NO_RIGHT);
  EXPECT_THAT(after.assessment(), EqualsProto(outcome::NoRight()));
  EXPECT_EQ(after.assessment_event_id(), "evt-3");
  EXPECT_EQ(after.correction_count(), 1);
}

TEST(ReferralDecider, GivenCorrectedAssessment_WhenCorrectedAgain_ThenReferencesFirstCorrection) {
  const std::vector<Event> history =
      History({ev::Submitted(), ev::Assessed(outcome::RightToCare()),
               ev::Corrected(outcome::NoRight(), "evt-2")});  // the correction is evt-3
  DeciderSpec<ReferralDecider> spec = Spec();
  spec.Given(history).When(Correct(outcome::Forwarded(), "Belongs to the other unit after all"));
  spec.Then({ev::Corrected(outcome::Forwarded(), "evt-3", "Belongs to the other unit after all")});
  const v1::Referral after = StateAfterDecision(spec);
  EXPECT_EQ(after.status(), v1::FORWARDED);
  EXPECT_EQ(after.correction_count(), 2);
  EXPECT_EQ(after.assessment_event_id(), "evt-4");
}

TEST(ReferralDecider,
     GivenAssessedReferralWithCoordinator_WhenAssessmentCorrected_ThenReferencesTheAssessment) {
  // evt-2 is the assessment, evt-3 the assignment: the correction names the assessment.
  Spec()
      .Given(History({ev::Submitted(), ev::Assessed(outcome::RightToCare()),
                      ev::CoordinatorAssigned("coord-17")}))
      .When(Correct(outcome::NoRight()))
      .Then({ev::Corrected(outcome::NoRight(), "evt-2")});
}

TEST(ReferralDecider,
     GivenAssessedReferral_WhenCorrectedToEachOutcome_ThenStatusFollowsCorrection) {
  for (const NamedOutcome& corrected : AllOutcomes()) {
    SCOPED_TRACE(absl::StrCat("corrected to ", corrected.name));
    DeciderSpec<ReferralDecider> spec = Spec();
    spec.Given(AssessedAs(outcome::Returned())).When(Correct(corrected.assessment));
    spec.Then({ev::Corrected(corrected.assessment, "evt-2")});
    EXPECT_EQ(StateAfterDecision(spec).status(), corrected.status);
  }
}

TEST(ReferralDecider, GivenReceivedReferral_WhenAssessmentCorrected_ThenFailedPrecondition) {
  Spec()
      .Given(Received())
      .When(Correct(outcome::NoRight()))
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

TEST(ReferralDecider, GivenWithdrawnReferral_WhenAssessmentCorrected_ThenFailedPrecondition) {
  Spec()
      .Given(History({ev::Submitted(), ev::Assessed(outcome::RightToCare()), ev::Withdrawn()}))
      .When(Correct(outcome::NoRight()))
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

TEST(ReferralDecider, GivenAssessedReferral_WhenCorrectedWithoutReason_ThenInvalidArgument) {
  DeciderSpec<ReferralDecider> spec = Spec();
  spec.Given(AssessedAs(outcome::RightToCare())).When(Correct(outcome::NoRight(), ""));
  ExpectRejectedNaming(spec, "reason");
}

TEST(ReferralDecider, GivenAssessedReferral_WhenCorrectedToForwardToOwnUnit_ThenInvalidArgument) {
  DeciderSpec<ReferralDecider> spec = Spec();
  spec.Given(AssessedAs(outcome::RightToCare())).When(Correct(outcome::Forwarded(kUnit)));
  ExpectRejectedNaming(spec, "assessment.forwarded.to_unit");
}

TEST(ReferralDecider, GivenNothing_WhenAssessmentCorrected_ThenNotFound) {
  Spec().Given({}).When(Correct(outcome::NoRight())).ThenFails(absl::StatusCode::kNotFound);
}

// ===============================================================================================
// AssignCoordinator
// ===============================================================================================

TEST(ReferralDecider, GivenReceivedReferral_WhenCoordinatorAssigned_ThenCoordinatorAssigned) {
  DeciderSpec<ReferralDecider> spec = Spec();
  spec.Given(Received()).When(Assign("coord-17"));
  spec.Then({ev::CoordinatorAssigned("coord-17")});
  const v1::Referral after = StateAfterDecision(spec);
  EXPECT_EQ(after.coordinator_id(), "coord-17");
  EXPECT_EQ(after.coordinator_name(), "Nina Berg");
  EXPECT_EQ(after.status(), v1::RECEIVED);
}

TEST(ReferralDecider, GivenRightToCare_WhenCoordinatorAssigned_ThenCoordinatorAssigned) {
  DeciderSpec<ReferralDecider> spec = Spec();
  spec.Given(AssessedAs(outcome::RightToCare())).When(Assign("coord-17"));
  spec.Then({ev::CoordinatorAssigned("coord-17")});
  EXPECT_EQ(StateAfterDecision(spec).status(), v1::RIGHT_TO_CARE);
}

TEST(ReferralDecider, GivenAssignedCoordinator_WhenAnotherCoordinatorAssigned_ThenReassigned) {
  DeciderSpec<ReferralDecider> spec = Spec();
  spec.Given(History({ev::Submitted(), ev::CoordinatorAssigned("coord-17")}))
      .When(Assign("coord-22", "Per Vik"));
  spec.Then({ev::CoordinatorAssigned("coord-22", "Per Vik")});
  const v1::Referral after = StateAfterDecision(spec);
  EXPECT_EQ(after.coordinator_id(), "coord-22");
  EXPECT_EQ(after.coordinator_name(), "Per Vik");
}

TEST(ReferralDecider, GivenAssignedCoordinator_WhenSameCoordinatorAssigned_ThenFailedPrecondition) {
  Spec()
      .Given(History({ev::Submitted(), ev::CoordinatorAssigned("coord-17")}))
      .When(Assign("coord-17"))
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

TEST(ReferralDecider, GivenClosedReferral_WhenCoordinatorAssigned_ThenFailedPrecondition) {
  struct Case {
    std::string name;
    std::vector<Event> history;
  };
  const std::vector<Case> cases = {
      {"NO_RIGHT", AssessedAs(outcome::NoRight())},
      {"FORWARDED", AssessedAs(outcome::Forwarded())},
      {"RETURNED", AssessedAs(outcome::Returned())},
      {"WITHDRAWN", WithdrawnWhileReceived()},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Spec()
        .Given(c.history)
        .When(Assign("coord-17"))
        .ThenFails(absl::StatusCode::kFailedPrecondition);
  }
}

TEST(ReferralDecider, GivenReceivedReferral_WhenCoordinatorIdInvalid_ThenInvalidArgument) {
  for (const std::string& bad :
       {std::string(""), std::string("coord 17"), std::string("a/b"), std::string(65, 'c')}) {
    SCOPED_TRACE(absl::StrCat("coordinator_id '", bad, "'"));
    DeciderSpec<ReferralDecider> spec = Spec();
    spec.Given(Received()).When(Assign(bad));
    ExpectRejectedNaming(spec, "coordinator_id");
  }
}

TEST(ReferralDecider, GivenReceivedReferral_WhenAssignedWithoutAssignedAt_ThenInvalidArgument) {
  DeciderSpec<ReferralDecider> spec = Spec();
  spec.Given(Received()).When(Assign("coord-17", "Nina Berg", absl::InfinitePast()));
  ExpectRejectedNaming(spec, "assigned_at");
}

TEST(ReferralDecider, GivenNothing_WhenCoordinatorAssigned_ThenNotFound) {
  Spec().Given({}).When(Assign("coord-17")).ThenFails(absl::StatusCode::kNotFound);
}

// ===============================================================================================
// WithdrawReferral
// ===============================================================================================

TEST(ReferralDecider, GivenReceivedReferral_WhenWithdrawn_ThenReferralWithdrawn) {
  DeciderSpec<ReferralDecider> spec = Spec();
  spec.Given(Received()).When(Withdraw("Patient moved abroad"));
  spec.Then({ev::Withdrawn("Patient moved abroad")});
  const v1::Referral after = StateAfterDecision(spec);
  EXPECT_EQ(after.status(), v1::WITHDRAWN);
  EXPECT_EQ(after.withdrawal_reason(), "Patient moved abroad");
}

TEST(ReferralDecider, GivenRightToCare_WhenWithdrawn_ThenReferralWithdrawn) {
  DeciderSpec<ReferralDecider> spec = Spec();
  spec.Given(AssessedAs(outcome::RightToCare())).When(Withdraw("Patient declined treatment"));
  spec.Then({ev::Withdrawn("Patient declined treatment")});
  EXPECT_EQ(StateAfterDecision(spec).status(), v1::WITHDRAWN);
}

TEST(ReferralDecider, GivenWithdrawnReferral_WhenWithdrawnAgain_ThenFailedPrecondition) {
  Spec()
      .Given(WithdrawnWhileReceived())
      .When(Withdraw())
      .ThenFails(absl::StatusCode::kFailedPrecondition);
}

TEST(ReferralDecider, GivenNoRightForwardedOrReturned_WhenWithdrawn_ThenFailedPrecondition) {
  for (const NamedOutcome& o : AllOutcomes()) {
    if (o.status == v1::RIGHT_TO_CARE) continue;
    SCOPED_TRACE(o.name);
    Spec()
        .Given(AssessedAs(o.assessment))
        .When(Withdraw())
        .ThenFails(absl::StatusCode::kFailedPrecondition);
  }
}

TEST(ReferralDecider, GivenReceivedReferral_WhenWithdrawnWithoutReason_ThenInvalidArgument) {
  DeciderSpec<ReferralDecider> spec = Spec();
  spec.Given(Received()).When(Withdraw(""));
  ExpectRejectedNaming(spec, "reason");
}

TEST(ReferralDecider, GivenReceivedReferral_WhenWithdrawnWithoutWithdrawnAt_ThenInvalidArgument) {
  DeciderSpec<ReferralDecider> spec = Spec();
  spec.Given(Received()).When(Withdraw("Patient moved abroad", absl::InfinitePast()));
  ExpectRejectedNaming(spec, "withdrawn_at");
}

TEST(ReferralDecider, GivenNothing_WhenWithdrawn_ThenNotFound) {
  Spec().Given({}).When(Withdraw()).ThenFails(absl::StatusCode::kNotFound);
}

// ===============================================================================================
// Evolve
// ===============================================================================================

TEST(ReferralDecider, GivenReceivedReferral_WhenSubmittedEvolved_ThenStateHoldsTheReferral) {
  const v1::Referral state = Fold(Received());
  EXPECT_EQ(state.referral_id(), kId);
  EXPECT_EQ(state.status(), v1::RECEIVED);
  EXPECT_EQ(state.patient().value(), kFnrDigits);
  EXPECT_EQ(state.patient_key(), kPatientKey);  // from the metadata, not the payload
  EXPECT_EQ(state.receiving_unit(), kUnit);
  EXPECT_THAT(state.received_date(), EqualsProto(kReceivedDate));
  EXPECT_THAT(state.assessment_deadline(), EqualsProto(kDeadline));
  EXPECT_THAT(state.municipal_contact(), EqualsProto(Contact()));
  EXPECT_EQ(state.version(), 1);
}

TEST(ReferralDecider, GivenReceivedReferral_WhenEventWithoutPayloadEvolved_ThenStateUnchanged) {
  const v1::Referral before = Fold(Received());
  const Event empty = Stamped(Event(), 2);  // metadata but no payload
  EXPECT_THAT(Decider().Evolve(before, empty), EqualsProto(before));
  EXPECT_THAT(Decider().Evolve(Decider().Initial(), empty), EqualsProto(Decider().Initial()));
}

TEST(ReferralDecider, GivenHistory_WhenEvolved_ThenVersionFollowsMetadata) {
  EXPECT_EQ(Fold(History({ev::Submitted(), ev::Assessed(outcome::RightToCare()),
                          ev::CoordinatorAssigned("coord-17")}))
                .version(),
            3);
  // The version is taken from the metadata, not counted.
  const v1::Referral state =
      Decider().Evolve(Fold(Received()), Stamped(ev::CoordinatorAssigned("coord-17"), 42));
  EXPECT_EQ(state.version(), 42);
  EXPECT_EQ(state.coordinator_id(), "coord-17");
}

}  // namespace
}  // namespace referral::domain
