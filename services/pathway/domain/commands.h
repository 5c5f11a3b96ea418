#pragma once

// Commands of the pathway aggregate: plain values built by the API adapter or the policy.
// Time comes in with the command (`today` is the unit's civil date when it was issued); the
// domain never reads a clock.

#include <map>
#include <optional>
#include <string>
#include <variant>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "catalogue/v1/catalogue.pb.h"
#include "referral/v1/events.pb.h"

namespace pathway::domain {

struct StartPathway {
  std::string pathway_id;
  std::string pathway_type;
  std::string unit;
  referral::v1::PatientIdentifier patient;  // validated by the application
  std::string patient_key;
  catalogue::v1::Setting setting = catalogue::v1::SETTING_UNSPECIFIED;
  std::map<std::string, std::string> conditions;
  absl::CivilDay start_date;
  std::optional<absl::CivilDay> legal_deadline;
  std::string coordinator_id;
  std::string referral_id;
  absl::CivilDay today;
};

struct RecordPoint {
  std::string pathway_id;
  std::string point_id;
  std::string outcome;
  absl::CivilDay date;
  absl::CivilDay today;
};

struct CorrectPoint {
  std::string pathway_id;
  std::string corrects_event_id;
  absl::CivilDay date;
  std::string outcome;
  std::string reason;
  absl::CivilDay today;
};

struct ScheduleAppointment {
  std::string pathway_id;
  std::string appointment_id;
  absl::Time at = absl::InfinitePast();
  std::string kind;
};

struct RecordAttendance {
  std::string pathway_id;
  std::string appointment_id;
  bool attended = false;
};

struct ScheduleMeeting {
  std::string pathway_id;
  std::string meeting_id;
  absl::Time at = absl::InfinitePast();
  referral::v1::MunicipalContact municipal_contact;
};

struct RecordMeetingHeld {
  std::string pathway_id;
  std::string meeting_id;
  absl::CivilDay date;
  absl::CivilDay today;
};

struct AssignCoordinator {
  std::string pathway_id;
  std::string coordinator_id;
};

struct TransferPathway {
  std::string pathway_id;
  std::string to_unit;
  absl::CivilDay date;
  absl::CivilDay today;
};

struct EndPathway {
  std::string pathway_id;
  std::string reason;
  absl::CivilDay date;
  absl::CivilDay today;
};

// Issued by the referral policy when an assessment is corrected after the pathway started: the
// legal deadline follows the corrected assessment.
struct ChangeLegalDeadline {
  std::string pathway_id;
  std::optional<absl::CivilDay> legal_deadline;  // nullopt: no legal deadline any more
  std::string reason;
};

// Issued by the deadline timer when `today` is past a deadline's due date.
struct RecordBreach {
  std::string pathway_id;
  std::string deadline_id;
  absl::CivilDay today;
};

using PathwayCommand =
    std::variant<StartPathway, RecordPoint, CorrectPoint, ScheduleAppointment, RecordAttendance,
                 ScheduleMeeting, RecordMeetingHeld, AssignCoordinator, TransferPathway, EndPathway,
                 RecordBreach, ChangeLegalDeadline>;

}  // namespace pathway::domain
