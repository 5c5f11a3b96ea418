#include "libs/storage/sorted_batch.h"

#include <algorithm>
#include <utility>

namespace es::storage {

void SortedBatch::Put(Family family, std::string key, std::string value) {
  entries_.push_back(Entry{family, std::move(key), std::move(value)});
}

void SortedBatch::Delete(Family family, std::string key) {
  entries_.push_back(Entry{family, std::move(key), std::nullopt});
}

void SortedBatch::WriteTo(const RocksDb& db, rocksdb::WriteBatch& batch) {
  batch.Clear();
  // Stable: two entries for one key stay in the order they were added.
  std::stable_sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
    if (a.family != b.family) return a.family < b.family;
    return a.key < b.key;
  });
  for (const Entry& entry : entries_) {
    rocksdb::ColumnFamilyHandle* handle = db.handle(entry.family);
    if (entry.value.has_value()) {
      batch.Put(handle, entry.key, *entry.value);
    } else {
      batch.Delete(handle, entry.key);
    }
  }
}

}  // namespace es::storage
