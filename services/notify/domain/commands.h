#pragma once

// Commands of the notification aggregate. Issued by the notification policy (schedule, cancel,
// reschedule), the dispatcher (sent, failed) and the API (acknowledge). Time comes with them.

#include <optional>
#include <string>
#include <variant>

#include "absl/time/time.h"
#include "notify/v1/events.pb.h"

namespace notify::domain {

struct Schedule {
  std::string notification_id;
  v1::NotificationScheduled notification;  // complete, rendered
  std::string patient_key;                 // pseudonymous; empty when not about one patient
};

struct Reschedule {
  std::string notification_id;
  absl::Time due_at;
  std::string reason;
};

struct Cancel {
  std::string notification_id;
  std::string reason;
};

struct MarkSent {
  std::string notification_id;
  int attempt = 0;
  absl::Time at;
};

struct MarkFailed {
  std::string notification_id;
  int attempt = 0;
  std::string reason;
  std::optional<absl::Time> next_attempt_at;  // nullopt: dead-letter, no more attempts
};

struct Acknowledge {
  std::string notification_id;
  std::string by;
  absl::Time at;
};

using NotificationCommand =
    std::variant<Schedule, Reschedule, Cancel, MarkSent, MarkFailed, Acknowledge>;

}  // namespace notify::domain
