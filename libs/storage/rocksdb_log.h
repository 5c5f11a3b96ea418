#pragma once

// RocksDB's own log lines as the service's JSON log lines (component "rocksdb"), instead of a
// LOG file in the data directory. Two reasons: operators read one log stream (stderr, as
// Kubernetes collects it), and a full disk cannot break the database through its log file.
// (Debian's librocksdb is built with assertions: when the LOG file's write fails, its next
// write aborts the process. Found by tests/libs/storage/disk_full_test.cc.)

#include <memory>

#include "rocksdb/env.h"

namespace es::storage {

// RocksDB DEBUG and INFO become debug lines, WARN warning, ERROR and FATAL error.
std::shared_ptr<rocksdb::Logger> NewJsonRocksDbLogger();

}  // namespace es::storage
