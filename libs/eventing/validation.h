#pragma once

// Input checks every service's domain shares: identifiers and field errors.

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace es {

// Ids the APIs accept (referrals, pathways, units, coordinators, ...): 1-64 of [A-Za-z0-9._:-].
// Never '/', so ids can be parts of view keys.
inline bool IsValidId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

inline constexpr char kIdRule[] = "must be 1-64 of [A-Za-z0-9._:-]";

// kInvalidArgument "<field>: <problem>", the form every API error about a field takes.
inline absl::Status InvalidField(std::string_view field, std::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(std::string(field), ": ", std::string(problem)));
}

}  // namespace es
