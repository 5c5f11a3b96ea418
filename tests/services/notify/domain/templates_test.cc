#include "services/notify/domain/templates.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

// The message texts: every kind in bokmål, Danish and English with its parameters filled; an
// unknown language falls back to bokmål; a missing parameter shows as "?".

namespace notify::domain {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Params = google::protobuf::Map<std::string, std::string>;

Params Of(const std::map<std::string, std::string>& values) {
  Params params;
  for (const auto& [k, v] : values) params[k] = v;
  return params;
}

// Every parameter any template uses, with values that are easy to find in a text.
Params AllParams() {
  return Of({{"rule", "RULE-1"},
             {"from", "FROM-P"},
             {"to", "TO-P"},
             {"pathway", "PW-9"},
             {"unit", "UNIT-X"},
             {"due_date", "2026-03-30"},
             {"patient_postponed", "ja"},
             {"referral", "REF-5"},
             {"appointment", "APPT-3"},
             {"missed_count", "2"},
             {"suggestion", "SUGGESTION."},
             {"meeting", "MEET-4"},
             {"meeting_time", "2026-03-20 10:00"},
             {"appointment_time", "2026-03-16 10:30"}});
}

const std::vector<v1::NotificationKind>& AllKinds() {
  static const std::vector<v1::NotificationKind> kinds = {
      v1::DEADLINE_REMINDER, v1::ASSESSMENT_REMINDER,          v1::BREACH_ALERT,
      v1::NO_SHOW_ALERT,     v1::COLLABORATION_MEETING_NOTICE, v1::APPOINTMENT_REMINDER};
  return kinds;
}

struct Expected {
  v1::NotificationKind kind;
  std::string language;
  std::string subject;
  std::string body;
};

// Each kind in each language with every parameter filled.
const std::vector<Expected>& Texts() {
  static const std::vector<Expected> texts = {
      {v1::DEADLINE_REMINDER, "nb", "Frist nærmer seg: RULE-1",
       "Forløpsfrist RULE-1 (FROM-P til TO-P) for forløp PW-9 ved UNIT-X går ut 2026-03-30."},
      {v1::DEADLINE_REMINDER, "da", "Frist nærmer sig: RULE-1",
       "Forløbsfrist RULE-1 (FROM-P til TO-P) for forløb PW-9 på UNIT-X udløber 2026-03-30."},
      {v1::DEADLINE_REMINDER, "en", "Deadline approaching: RULE-1",
       "Pathway deadline RULE-1 (FROM-P to TO-P) for pathway PW-9 at UNIT-X is due 2026-03-30."},
      {v1::ASSESSMENT_REMINDER, "nb", "Henvisning må vurderes innen 2026-03-30",
       "Henvisning REF-5 ved UNIT-X må vurderes innen 2026-03-30 (10 virkedager)."},
      {v1::ASSESSMENT_REMINDER, "da", "Henvisning skal vurderes senest 2026-03-30",
       "Henvisning REF-5 på UNIT-X skal vurderes senest 2026-03-30."},
      {v1::ASSESSMENT_REMINDER, "en", "Referral to assess by 2026-03-30",
       "Referral REF-5 at UNIT-X must be assessed by 2026-03-30 (10 working days)."},
      {v1::BREACH_ALERT, "nb", "Frist brutt: RULE-1",
       "Frist RULE-1 for forløp PW-9 ved UNIT-X gikk ut 2026-03-30. Pasientutsatt: ja."},
      {v1::BREACH_ALERT, "da", "Frist overskredet: RULE-1",
       "Frist RULE-1 for forløb PW-9 på UNIT-X udløb 2026-03-30. Patientudsat: ja."},
      {v1::BREACH_ALERT, "en", "Deadline breached: RULE-1",
       "Deadline RULE-1 for pathway PW-9 at UNIT-X passed on 2026-03-30. Patient postponed: ja."},
      {v1::NO_SHOW_ALERT, "nb", "Pasienten møtte ikke",
       "Pasienten i forløp PW-9 ved UNIT-X møtte ikke til avtale APPT-3 (2. gang). SUGGESTION."},
      {v1::NO_SHOW_ALERT, "da", "Patienten udeblev",
       "Patienten i forløb PW-9 på UNIT-X udeblev fra aftale APPT-3 (2. gang). SUGGESTION."},
      {v1::NO_SHOW_ALERT, "en", "Patient did not attend",
       "The patient in pathway PW-9 at UNIT-X missed appointment APPT-3 (no-show 2). SUGGESTION."},
      {v1::COLLABORATION_MEETING_NOTICE, "nb", "Samarbeidsmøte 2026-03-20 10:00",
       "Det er avtalt samarbeidsmøte 2026-03-20 10:00 for en felles pasient ved UNIT-X (møte "
       "MEET-4)."},
      {v1::COLLABORATION_MEETING_NOTICE, "da", "Samarbejdsmøde 2026-03-20 10:00",
       "Der er aftalt samarbejdsmøde 2026-03-20 10:00 om en fælles patient på UNIT-X (møde "
       "MEET-4)."},
      {v1::COLLABORATION_MEETING_NOTICE, "en", "Collaboration meeting 2026-03-20 10:00",
       "A collaboration meeting about a shared patient at UNIT-X is scheduled for 2026-03-20 "
       "10:00 (meeting MEET-4)."},
      {v1::APPOINTMENT_REMINDER, "nb", "Påminnelse om time",
       "Du har time 2026-03-16 10:30 ved UNIT-X. Gi beskjed hvis du ikke kan komme."},
      {v1::APPOINTMENT_REMINDER, "da", "Påmindelse om tid",
       "Du har en tid 2026-03-16 10:30 på UNIT-X. Giv besked, hvis du ikke kan komme."},
      {v1::APPOINTMENT_REMINDER, "en", "Appointment reminder",
       "You have an appointment at 2026-03-16 10:30 at UNIT-X. Please tell us if you cannot "
       "come."},
  };
  return texts;
}

TEST(Templates, GivenEveryKindAndLanguage_WhenRendered_ThenParametersFilledInThatLanguage) {
  for (const Expected& t : Texts()) {
    SCOPED_TRACE(v1::NotificationKind_Name(t.kind) + "/" + t.language);
    const RenderedMessage m = Render(t.kind, t.language, AllParams());
    EXPECT_EQ(m.subject, t.subject);
    EXPECT_EQ(m.body, t.body);
  }
}

TEST(Templates, GivenEveryKind_ThenTheThreeLanguagesDiffer) {
  for (v1::NotificationKind kind : AllKinds()) {
    SCOPED_TRACE(v1::NotificationKind_Name(kind));
    const std::set<std::string> bodies = {Render(kind, "nb", AllParams()).body,
                                          Render(kind, "da", AllParams()).body,
                                          Render(kind, "en", AllParams()).body};
    EXPECT_EQ(bodies.size(), 3u);
  }
}

TEST(Templates, GivenEveryKindAndLanguage_WhenRendered_ThenNoPlaceholderLeft) {
  for (v1::NotificationKind kind : AllKinds()) {
    for (const char* language : {"nb", "da", "en"}) {
      SCOPED_TRACE(v1::NotificationKind_Name(kind) + "/" + language);
      const RenderedMessage m = Render(kind, language, AllParams());
      EXPECT_FALSE(m.subject.empty());
      EXPECT_FALSE(m.body.empty());
      for (const std::string& text : {m.subject, m.body}) {
        EXPECT_THAT(text, Not(HasSubstr("{")));
        EXPECT_THAT(text, Not(HasSubstr("}")));
        EXPECT_THAT(text, Not(HasSubstr("?")));
      }
    }
  }
}

TEST(Templates, GivenUnknownLanguage_WhenRendered_ThenBokmal) {
  for (v1::NotificationKind kind : AllKinds()) {
    SCOPED_TRACE(v1::NotificationKind_Name(kind));
    const RenderedMessage nb = Render(kind, "nb", AllParams());
    for (const char* language : {"sv", "", "EN", "nn", "de"}) {
      const RenderedMessage m = Render(kind, language, AllParams());
      EXPECT_EQ(m.subject, nb.subject) << language;
      EXPECT_EQ(m.body, nb.body) << language;
    }
  }
}

TEST(Templates, GivenMissingParameter_WhenRendered_ThenQuestionMark) {
  Params params = AllParams();
  params.erase("rule");
  params.erase("due_date");
  const RenderedMessage m = Render(v1::DEADLINE_REMINDER, "en", params);
  EXPECT_EQ(m.subject, "Deadline approaching: ?");
  EXPECT_EQ(m.body, "Pathway deadline ? (FROM-P to TO-P) for pathway PW-9 at UNIT-X is due ?.");
}

TEST(Templates, GivenNoParameters_WhenRendered_ThenEveryPlaceholderIsAQuestionMark) {
  const RenderedMessage m = Render(v1::APPOINTMENT_REMINDER, "nb", Params());
  EXPECT_EQ(m.subject, "Påminnelse om time");
  EXPECT_EQ(m.body, "Du har time ? ved ?. Gi beskjed hvis du ikke kan komme.");
}

TEST(Templates, GivenParameterValueWithBraces_WhenRendered_ThenInsertedAsIs) {
  // Values are not templates: a value containing "{rule}" is not expanded again.
  Params params = AllParams();
  params["unit"] = "{rule}";
  EXPECT_EQ(Render(v1::APPOINTMENT_REMINDER, "en", params).body,
            "You have an appointment at 2026-03-16 10:30 at {rule}. Please tell us if you cannot "
            "come.");
}

TEST(Templates, GivenUnspecifiedKind_WhenRendered_ThenEmpty) {
  const RenderedMessage m = Render(v1::NOTIFICATION_KIND_UNSPECIFIED, "nb", AllParams());
  EXPECT_EQ(m.subject, "");
  EXPECT_EQ(m.body, "");
}

TEST(Templates, GivenLanguages_ThenOnlyBokmalDanishAndEnglishSupported) {
  EXPECT_TRUE(IsSupportedLanguage("nb"));
  EXPECT_TRUE(IsSupportedLanguage("da"));
  EXPECT_TRUE(IsSupportedLanguage("en"));
  for (const char* other : {"", "sv", "nn", "no", "NB", "en-GB"}) {
    EXPECT_FALSE(IsSupportedLanguage(other)) << other;
  }
}

}  // namespace
}  // namespace notify::domain
