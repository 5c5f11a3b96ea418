#include "services/notify/domain/templates.h"

#include <array>

namespace notify::domain {
namespace {

struct Template {
  const char* subject;
  const char* body;
};

// {name} is replaced by params[name].
struct KindTemplates {
  v1::NotificationKind kind;
  Template nb, da, en;
};

constexpr std::array<KindTemplates, 6> kTemplates = {{
    {v1::DEADLINE_REMINDER,
     {"Frist nærmer seg: {rule}",
      "Forløpsfrist {rule} ({from} til {to}) for forløp {pathway} ved {unit} går ut {due_date}."},
     {"Frist nærmer sig: {rule}",
      "Forløbsfrist {rule} ({from} til {to}) for forløb {pathway} på {unit} udløber {due_date}."},
     {"Deadline approaching: {rule}",
      "Pathway deadline {rule} ({from} to {to}) for pathway {pathway} at {unit} is due "
      "{due_date}."}},
    {v1::ASSESSMENT_REMINDER,
     {"Henvisning må vurderes innen {due_date}",
      "Henvisning {referral} ved {unit} må vurderes innen {due_date} (10 virkedager)."},
     {"Henvisning skal vurderes senest {due_date}",
      "Henvisning {referral} på {unit} skal vurderes senest {due_date}."},
     {"Referral to assess by {due_date}",
      "Referral {referral} at {unit} must be assessed by {due_date} (10 working days)."}},
    {v1::BREACH_ALERT,
     {"Frist brutt: {rule}",
      "Frist {rule} for forløp {pathway} ved {unit} gikk ut {due_date}. Pasientutsatt: "
      "{patient_postponed}."},
     {"Frist overskredet: {rule}",
      "Frist {rule} for forløb {pathway} på {unit} udløb {due_date}. Patientudsat: "
      "{patient_postponed}."},
     {"Deadline breached: {rule}",
      "Deadline {rule} for pathway {pathway} at {unit} passed on {due_date}. Patient postponed: "
      "{patient_postponed}."}},
    {v1::NO_SHOW_ALERT,
     {"Pasienten møtte ikke",
      "Pasienten i forløp {pathway} ved {unit} møtte ikke til avtale {appointment} "
      "({missed_count}. gang). {suggestion}"},
     {"Patienten udeblev",
      "Patienten i forløb {pathway} på {unit} udeblev fra aftale {appointment} ({missed_count}. "
      "gang). {suggestion}"},
     {"Patient did not attend",
      "The patient in pathway {pathway} at {unit} missed appointment {appointment} (no-show "
      "{missed_count}). {suggestion}"}},
    {v1::COLLABORATION_MEETING_NOTICE,
     {"Samarbeidsmøte {meeting_time}",
      "Det er avtalt samarbeidsmøte {meeting_time} for en felles pasient ved {unit} (møte "
      "{meeting})."},
     {"Samarbejdsmøde {meeting_time}",
      "Der er aftalt samarbejdsmøde {meeting_time} om en fælles patient på {unit} (møde "
      "{meeting})."},
     {"Collaboration meeting {meeting_time}",
      "A collaboration meeting about a shared patient at {unit} is scheduled for {meeting_time} "
      "(meeting {meeting})."}},
    {v1::APPOINTMENT_REMINDER,
     {"Påminnelse om time",
      "Du har time {appointment_time} ved {unit}. Gi beskjed hvis du ikke kan komme."},
     {"Påmindelse om tid",
      "Du har en tid {appointment_time} på {unit}. Giv besked, hvis du ikke kan komme."},
     {"Appointment reminder",
      "You have an appointment at {appointment_time} at {unit}. Please tell us if you cannot "
      "come."}},
}};

std::string Fill(const char* text, const google::protobuf::Map<std::string, std::string>& params) {
  std::string out;
  for (const char* p = text; *p != '\0'; ++p) {
    if (*p != '{') {
      out.push_back(*p);
      continue;
    }
    const char* end = p + 1;
    while (*end != '\0' && *end != '}') ++end;
    if (*end == '\0') {
      out.append(p);
      break;
    }
    auto it = params.find(std::string(p + 1, end));
    out += it == params.end() ? "?" : it->second;
    p = end;
  }
  return out;
}

}  // namespace

bool IsSupportedLanguage(const std::string& language) {
  return language == "nb" || language == "da" || language == "en";
}

RenderedMessage Render(v1::NotificationKind kind, const std::string& language,
                       const google::protobuf::Map<std::string, std::string>& params) {
  for (const KindTemplates& t : kTemplates) {
    if (t.kind != kind) continue;
    const Template& chosen = language == "da" ? t.da : language == "en" ? t.en : t.nb;
    return {Fill(chosen.subject, params), Fill(chosen.body, params)};
  }
  return {"", ""};
}

}  // namespace notify::domain
