#pragma once

// Structured JSON logs, one object per line on stderr:
//   {"ts":"2026-11-25T12:00:00.123Z","level":"info","component":"referral.app","msg":"...",...}
// Never pass personal data (national ids, names, free text about patients) as a field.
// Thread-safe.

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace es::runtime {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

using LogField = std::pair<std::string_view, std::string>;

// Lines below `level` are dropped. Default kInfo.
void SetMinLogLevel(LogLevel level);
bool ParseLogLevel(std::string_view text, LogLevel* level);

void Log(LogLevel level, std::string_view component, std::string_view message,
         const std::vector<LogField>& fields);
inline void Log(LogLevel level, std::string_view component, std::string_view message,
                std::initializer_list<LogField> fields = {}) {
  Log(level, component, message, std::vector<LogField>(fields));
}

// A named logger for one component.
class Logger {
 public:
  explicit Logger(std::string component) : component_(std::move(component)) {}
  void Debug(std::string_view m, std::initializer_list<LogField> f = {}) const {
    Log(LogLevel::kDebug, component_, m, f);
  }
  void Info(std::string_view m, std::initializer_list<LogField> f = {}) const {
    Log(LogLevel::kInfo, component_, m, f);
  }
  void Warning(std::string_view m, std::initializer_list<LogField> f = {}) const {
    Log(LogLevel::kWarning, component_, m, f);
  }
  void Error(std::string_view m, std::initializer_list<LogField> f = {}) const {
    Log(LogLevel::kError, component_, m, f);
  }
  void At(LogLevel level, std::string_view m, const std::vector<LogField>& f) const {
    Log(level, component_, m, f);
  }

 private:
  std::string component_;
};

}  // namespace es::runtime
