#include "bench/submit_referral/disk_sync.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"

namespace bench {
namespace {

// Sizes of the parts of one append (see the header); the file record is their sum.
constexpr size_t kEventBytes = 600;
constexpr size_t kHeadBytes = 300;
constexpr size_t kLogBytes = 40;
constexpr size_t kOutboxBytes = 40;
constexpr size_t kIdempotencyBytes = 120;
constexpr size_t kRecordBytes =
    kEventBytes + kHeadBytes + kLogBytes + kOutboxBytes + kIdempotencyBytes;
// Far more than a group of records, so a group never wraps inside itself.
constexpr size_t kRegionBytes = 64u << 20;

// Runs `write_once(writer)` on `writers` threads for warm-up plus the window and returns the
// calls completed inside the window per second. The first error stops everyone and is returned.
absl::StatusOr<double> RatePerSecond(const SyncOptions& options,
                                     const std::function<absl::Status(int)>& write_once) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now() + absl::ToChronoNanoseconds(options.warmup);
  const Clock::time_point end = start + absl::ToChronoNanoseconds(options.measure);
  std::atomic<uint64_t> counted{0};
  std::atomic<bool> stop{false};
  std::mutex error_mutex;
  absl::Status error;
  std::vector<std::thread> threads;
  for (int writer = 0; writer < options.writers; ++writer) {
    threads.emplace_back([&, writer] {
      uint64_t mine = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        absl::Status s = write_once(writer);
        const Clock::time_point now = Clock::now();
        if (!s.ok()) {
          std::lock_guard<std::mutex> lock(error_mutex);
          if (error.ok()) error = s;
          stop = true;
          break;
        }
        if (now >= end) break;
        if (now >= start) ++mine;
      }
      counted += mine;
    });
  }
  for (std::thread& thread : threads) thread.join();
  if (!error.ok()) return error;
  return static_cast<double>(counted.load()) / absl::ToDoubleSeconds(options.measure);
}

// Appends with group commit: whoever finds no sync running writes every queued record and syncs
// once; the others wait until a sync has covered their record.
// With `region_bytes` > 0 the records overwrite a preallocated region of that size in a circle,
// so fdatasync flushes data only; otherwise they are appended and each sync also commits the
// file's new size.
class GroupSyncedFile {
 public:
  GroupSyncedFile(int fd, size_t region_bytes) : fd_(fd), region_bytes_(region_bytes) {}

  absl::Status Append(const std::string& record) {
    std::unique_lock<std::mutex> lock(mutex_);
    pending_ += record;
    const uint64_t mine = ++queued_;
    while (synced_ < mine) {
      if (syncing_) {
        synced_changed_.wait(lock);
        continue;
      }
      syncing_ = true;
      std::string batch;
      batch.swap(pending_);
      const uint64_t covers = queued_;
      lock.unlock();
      absl::Status s = WriteAndSync(batch);
      lock.lock();
      syncing_ = false;
      if (!s.ok()) {
        synced_changed_.notify_all();
        return s;
      }
      synced_ = covers;
      synced_changed_.notify_all();
    }
    return absl::OkStatus();
  }

 private:
  // Called by one thread at a time (the one that set syncing_), so offset_ needs no lock.
  absl::Status WriteAndSync(const std::string& bytes) {
    if (region_bytes_ > 0 && offset_ + bytes.size() > region_bytes_) offset_ = 0;
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = region_bytes_ > 0 ? pwrite(fd_, bytes.data() + done, bytes.size() - done,
                                                   static_cast<off_t>(offset_ + done))
                                          : write(fd_, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return absl::InternalError(absl::StrCat("write: ", std::strerror(errno)));
      done += static_cast<size_t>(n);
    }
    offset_ += bytes.size();
    if (fdatasync(fd_) != 0) {
      return absl::InternalError(absl::StrCat("fdatasync: ", std::strerror(errno)));
    }
    return absl::OkStatus();
  }

  const int fd_;
  const size_t region_bytes_;
  size_t offset_ = 0;
  std::mutex mutex_;
  std::condition_variable synced_changed_;
  std::string pending_;   // guarded by mutex_
  uint64_t queued_ = 0;   // guarded by mutex_: records appended to pending_ so far
  uint64_t synced_ = 0;   // guarded by mutex_: records durable so far
  bool syncing_ = false;  // guarded by mutex_
};

}  // namespace

absl::StatusOr<double> RocksDbSyncedBatchWrites(const SyncOptions& options) {
  const std::string path = absl::StrCat(options.dir, "/rocksdb-", options.writers);
  rocksdb::Options db_options;  // RocksDB's defaults: this is the raw engine, not our tuning
  db_options.create_if_missing = true;
  rocksdb::DB* raw_db = nullptr;
  rocksdb::Status opened = rocksdb::DB::Open(db_options, path, &raw_db);
  if (!opened.ok()) return absl::InternalError(absl::StrCat("RocksDB open: ", opened.ToString()));
  std::unique_ptr<rocksdb::DB> db(raw_db);

  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  const std::string event(kEventBytes, 'e'), head(kHeadBytes, 'h'), log(kLogBytes, 'l'),
      outbox(kOutboxBytes, 'o'), idempotency(kIdempotencyBytes, 'i');
  std::vector<uint64_t> counters(options.writers, 0);  // one per writer, so no lock
  absl::StatusOr<double> rate = RatePerSecond(options, [&](int writer) -> absl::Status {
    // Distinct, increasing keys per writer, like new streams arriving.
    const std::string key = absl::StrFormat("%03d-%012d", writer, counters[writer]++);
    rocksdb::WriteBatch batch;
    batch.Put(absl::StrCat("ev/", key), event);
    batch.Put(absl::StrCat("st/", key), head);
    batch.Put(absl::StrCat("lg/", key), log);
    batch.Put(absl::StrCat("ob/", key), outbox);
    batch.Put(absl::StrCat("id/", key), idempotency);
    rocksdb::Status s = db->Write(write_options, &batch);
    if (!s.ok()) return absl::InternalError(absl::StrCat("RocksDB write: ", s.ToString()));
    return absl::OkStatus();
  });
  db.reset();
  std::error_code ignored;
  std::filesystem::remove_all(path, ignored);
  return rate;
}

absl::StatusOr<double> FileSyncedWrites(const SyncOptions& options, FileWrites mode) {
  const std::string path = absl::StrCat(options.dir, "/synced-file-", options.writers);
  const int flags =
      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (mode == FileWrites::kAppend ? O_APPEND : 0);
  const int fd = open(path.c_str(), flags, 0600);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
  size_t region_bytes = 0;
  if (mode == FileWrites::kOverwrite) {
    // Written with real bytes and synced, not fallocate'd: unwritten extents would make every
    // first overwrite a metadata change again.
    region_bytes = kRegionBytes;
    const std::string zeros(1 << 20, '\0');
    for (size_t written = 0; written < region_bytes; written += zeros.size()) {
      if (write(fd, zeros.data(), zeros.size()) != static_cast<ssize_t>(zeros.size())) {
        close(fd);
        return absl::InternalError(absl::StrCat("preallocate ", path, ": ", std::strerror(errno)));
      }
    }
    if (fsync(fd) != 0) {
      close(fd);
      return absl::InternalError(absl::StrCat("fsync ", path, ": ", std::strerror(errno)));
    }
  }
  GroupSyncedFile file(fd, region_bytes);
  const std::string record(kRecordBytes, 'r');
  absl::StatusOr<double> rate =
      RatePerSecond(options, [&](int /*writer*/) { return file.Append(record); });
  close(fd);
  unlink(path.c_str());
  return rate;
}

}  // namespace bench
