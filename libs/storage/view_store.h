#pragma once

// Reads of a service's view rows, and the projection consumer's atomic "rows + offsets" write.
// Thread-safe.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/storage/rocks_db.h"
#include "libs/storage/view_write.h"

namespace es::storage {

struct ViewRow {
  std::string key;
  std::string value;
};

// Kafka position of one consumer: next offset to read per (topic, partition).
using Checkpoint = std::map<std::pair<std::string, int32_t>, int64_t>;

class ViewStore {
 public:
  explicit ViewStore(RocksDb& db) : db_(db) {}

  absl::StatusOr<std::optional<std::string>> Get(const std::string& key) const;

  // Rows whose key starts with `prefix`, in key order, starting after `start_after` (empty: from
  // the first), at most `limit`. Cost follows the rows returned.
  absl::StatusOr<std::vector<ViewRow>> Scan(const std::string& prefix,
                                            const std::string& start_after, size_t limit) const;
  // Rows with from <= key < to, at most `limit`.
  absl::StatusOr<std::vector<ViewRow>> Range(const std::string& from, const std::string& to,
                                             size_t limit) const;
  // The same rows handed to `visit` as they are read, without copying them (hot queries parse
  // them straight into their response). A visit error stops the scan and is returned. Returns
  // the number of rows visited; `last_key` (if given) receives the last one's key.
  absl::StatusOr<size_t> VisitRange(
      const std::string& from, const std::string& to, size_t limit,
      const std::function<absl::Status(std::string_view key, std::string_view value)>& visit,
      std::string* last_key = nullptr) const;

  // Writes the rows and the consumer's new offsets in one batch.
  absl::Status ApplyWithCheckpoint(const std::vector<ViewWrite>& writes,
                                   const std::string& consumer, const Checkpoint& offsets);
  absl::StatusOr<Checkpoint> ReadCheckpoint(const std::string& consumer) const;

  // Deletes every view row and consumer checkpoint (before a rebuild).
  absl::Status Clear();
  // Deletes every view row whose key starts with one of `prefixes` (one range tombstone each).
  absl::Status DeletePrefixes(const std::vector<std::string>& prefixes);
  // Writes rows without a checkpoint.
  absl::Status Apply(const std::vector<ViewWrite>& writes);

 private:
  RocksDb& db_;
};

}  // namespace es::storage
