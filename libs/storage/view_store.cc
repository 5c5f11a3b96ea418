#include "libs/storage/view_store.h"

#include "absl/strings/str_cat.h"
#include "rocksdb/write_batch.h"

namespace es::storage {
namespace {

// Checkpoint rows: consumer \0 topic \0 partition(be64) -> next offset(be64).
std::string CheckpointPrefix(const std::string& consumer) {
  std::string prefix = consumer;
  prefix.push_back('\0');
  return prefix;
}

}  // namespace

absl::StatusOr<std::optional<std::string>> ViewStore::Get(const std::string& key) const {
  std::string value;
  rocksdb::Status status =
      db_.db()->Get(rocksdb::ReadOptions(), db_.handle(Family::kViews), key, &value);
  if (status.IsNotFound()) return std::nullopt;
  if (!status.ok()) return FromRocks(status, "read view");
  return value;
}

absl::StatusOr<std::vector<ViewRow>> ViewStore::Scan(const std::string& prefix,
                                                     const std::string& start_after,
                                                     size_t limit) const {
  std::vector<ViewRow> rows;
  rocksdb::ReadOptions read_options;
  std::unique_ptr<rocksdb::Iterator> it(
      db_.db()->NewIterator(read_options, db_.handle(Family::kViews)));
  if (start_after.empty()) {
    it->Seek(prefix);
  } else {
    it->Seek(start_after);
    if (it->Valid() && it->key() == start_after) it->Next();
  }
  for (; it->Valid() && rows.size() < limit && it->key().starts_with(prefix); it->Next()) {
    rows.push_back(ViewRow{it->key().ToString(), it->value().ToString()});
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan view");
  return rows;
}

absl::StatusOr<std::vector<ViewRow>> ViewStore::Range(const std::string& from,
                                                      const std::string& to, size_t limit) const {
  std::vector<ViewRow> rows;
  rocksdb::ReadOptions read_options;
  rocksdb::Slice upper(to);
  read_options.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(
      db_.db()->NewIterator(read_options, db_.handle(Family::kViews)));
  for (it->Seek(from); it->Valid() && rows.size() < limit; it->Next()) {
    rows.push_back(ViewRow{it->key().ToString(), it->value().ToString()});
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan view");
  return rows;
}

absl::StatusOr<size_t> ViewStore::VisitRange(
    const std::string& from, const std::string& to, size_t limit,
    const std::function<absl::Status(std::string_view key, std::string_view value)>& visit,
    std::string* last_key) const {
  rocksdb::ReadOptions read_options;
  rocksdb::Slice upper(to);
  read_options.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(
      db_.db()->NewIterator(read_options, db_.handle(Family::kViews)));
  size_t visited = 0;
  for (it->Seek(from); it->Valid() && visited < limit; it->Next()) {
    absl::Status status = visit(it->key().ToStringView(), it->value().ToStringView());
    if (!status.ok()) return status;
    ++visited;
    if (last_key != nullptr) last_key->assign(it->key().data(), it->key().size());
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan view");
  return visited;
}

absl::Status ViewStore::ApplyWithCheckpoint(const std::vector<ViewWrite>& writes,
                                            const std::string& consumer,
                                            const Checkpoint& offsets) {
  rocksdb::WriteBatch batch;
  for (const ViewWrite& write : writes) {
    if (write.value.has_value()) {
      batch.Put(db_.handle(Family::kViews), write.key, *write.value);
    } else {
      batch.Delete(db_.handle(Family::kViews), write.key);
    }
  }
  for (const auto& [topic_partition, offset] : offsets) {
    std::string key = CheckpointPrefix(consumer);
    key += topic_partition.first;
    key.push_back('\0');
    key += EncodeBigEndian64(static_cast<uint64_t>(topic_partition.second));
    batch.Put(db_.handle(Family::kOffsets), key, EncodeBigEndian64(static_cast<uint64_t>(offset)));
  }
  return db_.Write(batch);
}

absl::StatusOr<Checkpoint> ViewStore::ReadCheckpoint(const std::string& consumer) const {
  Checkpoint checkpoint;
  std::string prefix = CheckpointPrefix(consumer);
  std::unique_ptr<rocksdb::Iterator> it(
      db_.db()->NewIterator(rocksdb::ReadOptions(), db_.handle(Family::kOffsets)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string_view rest = it->key().ToStringView().substr(prefix.size());
    size_t nul = rest.find('\0');
    if (nul == std::string_view::npos || rest.size() != nul + 9) {
      return absl::DataLossError("consumer checkpoint: malformed key");
    }
    std::string topic(rest.substr(0, nul));
    int32_t partition = static_cast<int32_t>(DecodeBigEndian64(rest.substr(nul + 1)));
    checkpoint[{topic, partition}] =
        static_cast<int64_t>(DecodeBigEndian64(it->value().ToStringView()));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "read checkpoint");
  return checkpoint;
}

absl::Status ViewStore::DeletePrefixes(const std::vector<std::string>& prefixes) {
  rocksdb::WriteBatch batch;
  for (const std::string& prefix : prefixes) {
    batch.DeleteRange(db_.handle(Family::kViews), prefix, prefix + std::string(64, '\xff'));
  }
  return db_.Write(batch);
}

absl::Status ViewStore::Apply(const std::vector<ViewWrite>& writes) {
  return ApplyWithCheckpoint(writes, "", {});
}

absl::Status ViewStore::Clear() {
  rocksdb::WriteBatch batch;
  // DeleteRange over the whole key space: one tombstone per family, cheap however many rows.
  const std::string low;
  const std::string high(64, '\xff');
  batch.DeleteRange(db_.handle(Family::kViews), low, high);
  batch.DeleteRange(db_.handle(Family::kOffsets), low, high);
  return db_.Write(batch);
}

}  // namespace es::storage
