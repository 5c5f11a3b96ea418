#pragma once

// Cursor paging over view-row scans: a page token is the last key returned (web-safe base64),
// checked on the way back in to lie inside the query's own key range.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "libs/storage/view_store.h"

namespace es::app {

inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 500;

// 0 means the default; kInvalidArgument outside 0..kMaxPageSize.
inline absl::StatusOr<int> PageSize(int requested) {
  if (requested < 0 || requested > kMaxPageSize) {
    return absl::InvalidArgumentError(absl::StrCat("page_size: must be 0..", kMaxPageSize));
  }
  return requested == 0 ? kDefaultPageSize : requested;
}

// The key to continue after; empty for the first page. kInvalidArgument for a foreign token.
inline absl::StatusOr<std::string> DecodePageToken(const std::string& token,
                                                   const std::string& prefix) {
  if (token.empty()) return std::string();
  std::string key;
  if (!absl::WebSafeBase64Unescape(token, &key) || key.rfind(prefix, 0) != 0) {
    return absl::InvalidArgumentError("page_token: not a token of this query");
  }
  return key;
}

// A token when the page is full (there may be more), else empty.
inline std::string NextPageToken(const std::vector<storage::ViewRow>& rows, size_t page_size) {
  if (rows.empty() || rows.size() < page_size) return "";
  return absl::WebSafeBase64Escape(rows.back().key);
}

// The same from a scan that visited `visited` rows, the last of them `last_key`.
inline std::string NextPageToken(size_t visited, const std::string& last_key, size_t page_size) {
  if (visited == 0 || visited < page_size) return "";
  return absl::WebSafeBase64Escape(last_key);
}

}  // namespace es::app
