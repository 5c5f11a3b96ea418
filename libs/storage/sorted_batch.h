#pragma once

// A WriteBatch whose entries are applied to each column family in key order.
//
// RocksDB inserts a batch into the memtables entry by entry, and each memtable's skiplist
// starts an insert from where the previous one ended (its splice): an insert next to the
// previous key touches a few nodes, an insert far away searches from the top, a cache miss per
// level. One group commit mixes many commands, each writing its own event, head, idempotency
// and view keys scattered over the key space; handing them over sorted per family makes
// neighbouring inserts neighbours in the skiplist too. Entries for the same key keep the order
// they were added in (a later put or delete still wins).

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "libs/storage/rocks_db.h"
#include "rocksdb/write_batch.h"

namespace es::storage {

class SortedBatch {
 public:
  void Put(Family family, std::string key, std::string value);
  void Delete(Family family, std::string key);
  size_t Count() const { return entries_.size(); }

  // Fills `batch` (cleared first): families in enum order, keys ascending within each.
  void WriteTo(const RocksDb& db, rocksdb::WriteBatch& batch);

 private:
  struct Entry {
    Family family;
    std::string key;
    std::optional<std::string> value;  // nullopt: delete
  };
  std::vector<Entry> entries_;
};

}  // namespace es::storage
