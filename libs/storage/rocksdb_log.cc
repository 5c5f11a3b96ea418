#include "libs/storage/rocksdb_log.h"

#include <cstdarg>
#include <cstdio>
#include <string>

#include "libs/runtime/log.h"

namespace es::storage {
namespace {

runtime::LogLevel LevelOf(rocksdb::InfoLogLevel level) {
  switch (level) {
    case rocksdb::InfoLogLevel::DEBUG_LEVEL:
    case rocksdb::InfoLogLevel::INFO_LEVEL:
    case rocksdb::InfoLogLevel::HEADER_LEVEL:
      return runtime::LogLevel::kDebug;
    case rocksdb::InfoLogLevel::WARN_LEVEL:
      return runtime::LogLevel::kWarning;
    default:
      return runtime::LogLevel::kError;
  }
}

class JsonRocksDbLogger : public rocksdb::Logger {
 public:
  JsonRocksDbLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL) {}

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char buffer[1024];
    int n = std::vsnprintf(buffer, sizeof(buffer), format, ap);
    if (n < 0) return;
    runtime::Log(LevelOf(level), "rocksdb", buffer);
  }
};

}  // namespace

std::shared_ptr<rocksdb::Logger> NewJsonRocksDbLogger() {
  return std::make_shared<JsonRocksDbLogger>();
}

}  // namespace es::storage
