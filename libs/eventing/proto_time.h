#pragma once

// Conversions between absl time types and their protobuf forms.

#include <google/protobuf/timestamp.pb.h>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "eventing/v1/types.pb.h"

namespace es {

inline google::protobuf::Timestamp ToProtoTimestamp(absl::Time t) {
  google::protobuf::Timestamp out;
  const int64_t nanos = absl::ToUnixNanos(t);
  int64_t seconds = nanos / 1'000'000'000;
  int64_t rest = nanos % 1'000'000'000;
  if (rest < 0) {
    rest += 1'000'000'000;
    --seconds;
  }
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>(rest));
  return out;
}

inline absl::Time FromProtoTimestamp(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

inline eventing::v1::Date ToProtoDate(absl::CivilDay day) {
  eventing::v1::Date out;
  out.set_year(static_cast<int32_t>(day.year()));
  out.set_month(day.month());
  out.set_day(day.day());
  return out;
}

inline absl::CivilDay FromProtoDate(const eventing::v1::Date& date) {
  return absl::CivilDay(date.year(), date.month(), date.day());
}

// True when the date names a real calendar day (absl::CivilDay would silently normalise 31 Feb).
inline bool IsValidProtoDate(const eventing::v1::Date& date) {
  if (date.year() < 1900 || date.year() > 2199) return false;
  absl::CivilDay day(date.year(), date.month(), date.day());
  return day.year() == date.year() && day.month() == date.month() && day.day() == date.day();
}

// "2026-11-25", for messages and sortable keys.
inline std::string FormatDate(absl::CivilDay day) { return absl::FormatCivilTime(day); }

}  // namespace es
