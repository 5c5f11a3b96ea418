#include "services/notify/domain/notification_policy.h"

#include "absl/strings/str_cat.h"
#include "libs/eventing/ids.h"
#include "libs/eventing/proto_time.h"
#include "services/notify/domain/templates.h"

namespace notify::domain {
namespace {

using pathway::v1::Deadline;

const Deadline* FindDeadline(const pathway::v1::Pathway& p, const std::string& id) {
  for (const Deadline& d : p.deadlines()) {
    if (d.deadline_id() == id) return &d;
  }
  return nullptr;
}

v1::Recipient Staff(const pathway::v1::Pathway& p, const PolicyContext& c) {
  v1::Recipient r;
  if (!p.coordinator_id().empty()) {
    r.set_role(v1::Recipient::COORDINATOR);
    r.set_id(p.coordinator_id());
  } else {
    r.set_role(v1::Recipient::UNIT);
    r.set_id(p.unit());
  }
  r.set_language(c.settings.staff_language);
  return r;
}

std::string DateText(const eventing::v1::Date& d) { return es::FormatDate(es::FromProtoDate(d)); }

Schedule Make(const std::string& id, v1::NotificationKind kind, v1::Recipient recipient,
              v1::Channel channel, absl::Time due_at, const std::string& unit,
              google::protobuf::Map<std::string, std::string> params,
              const std::string& patient_key) {
  Schedule s;
  s.notification_id = id;
  s.patient_key = patient_key;
  v1::NotificationScheduled& n = s.notification;
  n.set_notification_id(id);
  n.set_kind(kind);
  n.set_channel(channel);
  *n.mutable_due_at() = es::ToProtoTimestamp(due_at);
  n.set_unit(unit);
  *n.mutable_params() = std::move(params);
  RenderedMessage message = Render(kind, recipient.language(), n.params());
  n.set_subject(message.subject);
  n.set_body(message.body);
  *n.mutable_recipient() = std::move(recipient);
  return s;
}

// Ties a notification to what it is about, so lists and channels can name it.
Schedule Linked(Schedule s, const pathway::v1::Pathway& p, const std::string& deadline_id) {
  s.notification.set_pathway_id(p.pathway_id());
  s.notification.set_referral_id(p.referral_id());
  s.notification.set_deadline_id(deadline_id);
  return s;
}

// The patient-postponed suggestion in the staff's language.
std::string PostponedSuggestion(const std::string& language, const std::string& code) {
  if (language == "en") return absl::StrCat("Consider registering patient-postponed (", code, ").");
  if (language == "da") return absl::StrCat("Overvej at registrere patientudsat (", code, ").");
  return absl::StrCat("Vurder å registrere pasientutsatt (", code, ").");
}

google::protobuf::Map<std::string, std::string> DeadlineParams(const pathway::v1::Pathway& p,
                                                               const Deadline& d) {
  google::protobuf::Map<std::string, std::string> params;
  params["rule"] = d.rule_id();
  params["from"] = d.from_point();
  params["to"] = d.to_point();
  params["pathway"] = p.pathway_id();
  params["unit"] = p.unit();
  params["due_date"] = DateText(d.due_date());
  params["patient_postponed"] = d.attributed_to_patient() ? "ja" : "nei";
  return params;
}

std::string CancelReason(const Deadline& d) {
  switch (d.status()) {
    case pathway::v1::MET_ON_TIME:
    case pathway::v1::MET_LATE:
      return "deadline met";
    case pathway::v1::CANCELLED:
      return "pathway ended";
    default:
      return d.breach_recorded() ? "deadline breached" : "deadline no longer open";
  }
}

std::string AppointmentReminderId(const std::string& pathway_id, const std::string& appointment,
                                  const std::string& recipient) {
  return es::NameUuid("appointment-reminder",
                      absl::StrCat(pathway_id, "/", appointment, "/", recipient));
}

}  // namespace

std::string DeadlineReminderId(const std::string& deadline_id) {
  return es::NameUuid("deadline-reminder", deadline_id);
}
std::string BreachAlertId(const std::string& deadline_id) {
  return es::NameUuid("breach-alert", deadline_id);
}
std::string AssessmentReminderId(const std::string& referral_id) {
  return es::NameUuid("assessment-reminder", referral_id);
}

absl::Time ReminderTime(absl::CivilDay due, int working_days, int hour,
                        const clinical::Calendar& calendar, absl::TimeZone zone) {
  const absl::CivilDay day = calendar.AddWorkingDays(due, -working_days);
  return absl::FromCivil(absl::CivilSecond(day.year(), day.month(), day.day(), hour, 0, 0), zone);
}

std::vector<NotificationCommand> OnPathwayEvent(
    const pathway::v1::Pathway& before, const pathway::v1::Pathway& after,
    const pathway::v1::PathwayEvent& event, const std::optional<v1::ContactPreference>& preference,
    const PolicyContext& c) {
  std::vector<NotificationCommand> out;
  const absl::Time now = es::FromProtoTimestamp(event.metadata().recorded_at());
  const PolicySettings& s = c.settings;

  // Deadlines: reminders follow the open deadlines; breaches raise alerts.
  for (const Deadline& d : after.deadlines()) {
    const Deadline* prev = FindDeadline(before, d.deadline_id());
    const bool open = d.status() == pathway::v1::OPEN && !d.breach_recorded();
    const bool was_open =
        prev != nullptr && prev->status() == pathway::v1::OPEN && !prev->breach_recorded();
    const std::string id = DeadlineReminderId(d.deadline_id());
    if (open) {
      const absl::Time at = ReminderTime(es::FromProtoDate(d.due_date()), s.reminder_working_days,
                                         s.reminder_hour, c.calendar, c.zone);
      if (!was_open) {
        out.push_back(Linked(Make(id, v1::DEADLINE_REMINDER, Staff(after, c), s.staff_channel, at,
                                  after.unit(), DeadlineParams(after, d), after.patient_key()),
                             after, d.deadline_id()));
      } else if (prev->due_date().SerializeAsString() != d.due_date().SerializeAsString()) {
        out.push_back(Reschedule{id, at, "deadline moved"});
      }
    } else if (was_open) {
      out.push_back(Cancel{id, CancelReason(d)});
    }
    if (d.breach_recorded() && (prev == nullptr || !prev->breach_recorded())) {
      out.push_back(Linked(
          Make(BreachAlertId(d.deadline_id()), v1::BREACH_ALERT, Staff(after, c), s.staff_channel,
               now, after.unit(), DeadlineParams(after, d), after.patient_key()),
          after, d.deadline_id()));
    }
  }
  for (const Deadline& prev : before.deadlines()) {
    if (FindDeadline(after, prev.deadline_id()) == nullptr && prev.status() == pathway::v1::OPEN) {
      out.push_back(Cancel{DeadlineReminderId(prev.deadline_id()), "deadline withdrawn"});
    }
  }

  switch (event.payload_case()) {
    case pathway::v1::PathwayEvent::kAppointmentMissed: {
      const auto& missed = event.appointment_missed();
      google::protobuf::Map<std::string, std::string> params;
      params["pathway"] = after.pathway_id();
      params["unit"] = after.unit();
      params["appointment"] = missed.appointment_id();
      params["missed_count"] = std::to_string(missed.missed_count());
      params["suggestion"] =
          missed.missed_count() >= 2
              ? PostponedSuggestion(s.staff_language, after.register_type_code() + "L")
              : "";
      if (missed.missed_count() >= 2) params["suggest_code"] = after.register_type_code() + "L";
      out.push_back(Make(
          es::NameUuid("no-show", absl::StrCat(after.pathway_id(), "/", missed.appointment_id())),
          v1::NO_SHOW_ALERT, Staff(after, c), s.staff_channel, now, after.unit(), std::move(params),
          after.patient_key()));
      break;
    }
    case pathway::v1::PathwayEvent::kMeetingScheduled: {
      const auto& meeting = event.meeting_scheduled();
      if (meeting.municipal_contact().name().empty() &&
          meeting.municipal_contact().email().empty()) {
        break;
      }
      v1::Recipient r;
      r.set_role(v1::Recipient::MUNICIPAL_COORDINATOR);
      r.set_id(meeting.municipal_contact().email().empty() ? meeting.municipal_contact().name()
                                                           : meeting.municipal_contact().email());
      r.set_address(meeting.municipal_contact().email());
      r.set_language(s.staff_language);
      google::protobuf::Map<std::string, std::string> params;
      params["unit"] = after.unit();
      params["meeting"] = meeting.meeting_id();
      params["meeting_time"] =
          absl::FormatTime("%Y-%m-%d %H:%M", es::FromProtoTimestamp(meeting.at()), c.zone);
      out.push_back(Make(es::NameUuid("meeting-notice",
                                      absl::StrCat(after.pathway_id(), "/", meeting.meeting_id())),
                         v1::COLLABORATION_MEETING_NOTICE, std::move(r), s.staff_channel, now,
                         after.unit(), std::move(params), after.patient_key()));
      break;
    }
    case pathway::v1::PathwayEvent::kAppointmentScheduled: {
      if (!preference.has_value()) break;
      const auto& appointment = event.appointment_scheduled();
      const absl::Time at = es::FromProtoTimestamp(appointment.at());
      if (at <= now) break;  // recorded after the fact: nothing to remind of
      google::protobuf::Map<std::string, std::string> params;
      params["unit"] = after.unit();
      params["appointment_time"] = absl::FormatTime("%Y-%m-%d %H:%M", at, c.zone);
      auto remind = [&](const std::string& contact, v1::Recipient::Role role,
                        const std::string& address, const std::string& language) {
        v1::Recipient r;
        r.set_role(role);
        r.set_id(contact);
        r.set_address(address);
        r.set_language(IsSupportedLanguage(language) ? language : "nb");
        out.push_back(
            Make(AppointmentReminderId(after.pathway_id(), appointment.appointment_id(), contact),
                 v1::APPOINTMENT_REMINDER, std::move(r), preference->channel(),
                 std::max(now, at - s.appointment_reminder_before), after.unit(), params,
                 after.patient_key()));
      };
      if (preference->consent() && !preference->address().empty()) {
        remind(after.patient_key(), v1::Recipient::PATIENT, preference->address(),
               preference->language());
      }
      for (const auto& relative : preference->relatives()) {
        if (relative.consent() && !relative.address().empty()) {
          remind(relative.contact_id(), v1::Recipient::RELATIVE, relative.address(),
                 relative.language());
        }
      }
      break;
    }
    case pathway::v1::PathwayEvent::kEnded:
    case pathway::v1::PathwayEvent::kTransferred:
    case pathway::v1::PathwayEvent::kAppointmentAttended: {
      // Appointment reminders not yet sent have no purpose any more.
      if (!preference.has_value()) break;
      for (const auto& appointment : after.appointments()) {
        const bool this_one =
            event.payload_case() != pathway::v1::PathwayEvent::kAppointmentAttended ||
            appointment.appointment_id() == event.appointment_attended().appointment_id();
        if (!this_one) continue;
        out.push_back(Cancel{AppointmentReminderId(after.pathway_id(), appointment.appointment_id(),
                                                   after.patient_key()),
                             "appointment no longer ahead"});
        for (const auto& relative : preference->relatives()) {
          out.push_back(
              Cancel{AppointmentReminderId(after.pathway_id(), appointment.appointment_id(),
                                           relative.contact_id()),
                     "appointment no longer ahead"});
        }
      }
      break;
    }
    default:
      break;
  }
  for (NotificationCommand& command : out) {
    if (auto* schedule = std::get_if<Schedule>(&command);
        schedule != nullptr && schedule->notification.pathway_id().empty()) {
      *schedule = Linked(std::move(*schedule), after, schedule->notification.deadline_id());
    }
  }
  return out;
}

std::vector<NotificationCommand> OnReferralEvent(const referral::v1::ReferralEvent& event,
                                                 const PolicyContext& c) {
  std::vector<NotificationCommand> out;
  const std::string& referral_id = event.metadata().stream_id();
  switch (event.payload_case()) {
    case referral::v1::ReferralEvent::kSubmitted: {
      const auto& e = event.submitted();
      v1::Recipient r;
      r.set_role(v1::Recipient::UNIT);
      r.set_id(e.receiving_unit());
      r.set_language(c.settings.staff_language);
      google::protobuf::Map<std::string, std::string> params;
      params["referral"] = referral_id;
      params["unit"] = e.receiving_unit();
      params["due_date"] = DateText(e.assessment_deadline());
      Schedule reminder =
          Make(AssessmentReminderId(referral_id), v1::ASSESSMENT_REMINDER, std::move(r),
               c.settings.staff_channel,
               ReminderTime(es::FromProtoDate(e.assessment_deadline()),
                            c.settings.assessment_reminder_working_days, c.settings.reminder_hour,
                            c.calendar, c.zone),
               e.receiving_unit(), std::move(params), event.metadata().patient_key());
      reminder.notification.set_referral_id(referral_id);
      out.push_back(std::move(reminder));
      break;
    }
    case referral::v1::ReferralEvent::kAssessed:
      out.push_back(Cancel{AssessmentReminderId(referral_id), "referral assessed"});
      break;
    case referral::v1::ReferralEvent::kWithdrawn:
      out.push_back(Cancel{AssessmentReminderId(referral_id), "referral withdrawn"});
      break;
    default:
      break;
  }
  return out;
}

}  // namespace notify::domain
