#pragma once

#include <optional>
#include <string>

namespace es::storage {

// One view-row mutation, produced by pure projectors; value nullopt deletes the row.
struct ViewWrite {
  std::string key;
  std::optional<std::string> value;

  bool operator==(const ViewWrite&) const = default;
};

}  // namespace es::storage
