#pragma once

// The notification rules, as pure functions from what happened to the notifications that
// should exist: schedule, move or cancel. Ids are deterministic (the same trigger always names
// the same notification), so replayed events ask for nothing new.
//
// Rules (defaults in PolicySettings, configurable):
// - remind the pathway's coordinator (or the unit's inbox when none) `reminder_working_days`
//   working days before each open pathway deadline, at `reminder_hour` local time; a deadline
//   moved by a correction moves its reminder; one met, cancelled or breached cancels it;
// - remind the unit `assessment_reminder_working_days` before a referral's assessment deadline;
//   assessed or withdrawn cancels it;
// - alert on every recorded breach, naming the rule and whether the patient postponed;
// - alert at once on a missed appointment; from the second, suggest the patient-postponed code;
// - tell the municipal coordinator about a collaboration meeting scheduled for their patient;
// - remind a patient (and relatives) of an appointment only with recorded consent and contact
//   preference, in their language, without any diagnosis.

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "clinical/calendar.h"
#include "notify/v1/state.pb.h"
#include "pathway/v1/events.pb.h"
#include "pathway/v1/state.pb.h"
#include "referral/v1/events.pb.h"
#include "services/notify/domain/commands.h"

namespace notify::domain {

struct PolicySettings {
  int reminder_working_days = 3;
  int assessment_reminder_working_days = 3;
  absl::Duration appointment_reminder_before = absl::Hours(24);
  int reminder_hour = 8;  // local time of reminders
  std::string staff_language = "nb";
  v1::Channel staff_channel = v1::FILE;
};

struct PolicyContext {
  const clinical::Calendar& calendar;
  absl::TimeZone zone;
  PolicySettings settings;
};

// `before` and `after` are the pathway folded without and with `event`.
std::vector<NotificationCommand> OnPathwayEvent(
    const pathway::v1::Pathway& before, const pathway::v1::Pathway& after,
    const pathway::v1::PathwayEvent& event,
    const std::optional<v1::ContactPreference>& patient_preference, const PolicyContext& context);

std::vector<NotificationCommand> OnReferralEvent(const referral::v1::ReferralEvent& event,
                                                 const PolicyContext& context);

// Deterministic notification ids.
std::string DeadlineReminderId(const std::string& deadline_id);
std::string BreachAlertId(const std::string& deadline_id);
std::string AssessmentReminderId(const std::string& referral_id);

// `working_days` before `due` at `hour` local time.
absl::Time ReminderTime(absl::CivilDay due, int working_days, int hour,
                        const clinical::Calendar& calendar, absl::TimeZone zone);

}  // namespace notify::domain
