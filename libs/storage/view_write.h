#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace es::storage {

// One view-row mutation, produced by pure projectors; value nullopt deletes the row.
struct ViewWrite {
  std::string key;
  std::optional<std::string> value;

  bool operator==(const ViewWrite&) const = default;
};

// The writes that turn the rows `before` into the rows `after` (key -> value): deletes of the
// keys that are gone, then puts of the keys that are new or changed, each in key order. Rows
// that stay the same are not written again.
inline std::vector<ViewWrite> RowChanges(const std::map<std::string, std::string>& before,
                                         const std::map<std::string, std::string>& after) {
  std::vector<ViewWrite> writes;
  for (const auto& [key, value] : before) {
    if (!after.contains(key)) writes.push_back({key, std::nullopt});
  }
  for (const auto& [key, value] : after) {
    auto it = before.find(key);
    if (it == before.end() || it->second != value) writes.push_back({key, value});
  }
  return writes;
}

}  // namespace es::storage
