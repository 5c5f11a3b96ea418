#pragma once

// Configuration from command-line flags and environment variables, with documented defaults.
// A flag (--name=value or --name value) wins over its environment variable, which wins over the
// default. Every option is declared with its help text, so --help prints the whole reference.
// Not thread-safe; used once at start-up.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace es::runtime {

class Options {
 public:
  Options(std::string program, std::string summary, int argc, const char* const* argv);

  std::string String(const std::string& flag, const std::string& env, std::string fallback,
                     const std::string& help);
  int64_t Int(const std::string& flag, const std::string& env, int64_t fallback,
              const std::string& help);
  bool Bool(const std::string& flag, const std::string& env, bool fallback,
            const std::string& help);

  bool help_requested() const { return help_requested_; }
  std::string Help() const;
  // After every option is declared: the first malformed value, or an unknown flag, naming it.
  absl::Status Finish() const;

 private:
  // Raw text from the flag or the environment; empty optional when neither is set.
  bool Lookup(const std::string& flag, const std::string& env, std::string* value);

  std::string program_;
  std::string summary_;
  std::map<std::string, std::string> flags_;  // as given on the command line
  std::map<std::string, bool> used_;
  std::vector<std::string> help_lines_;
  std::vector<std::string> errors_;
  bool help_requested_ = false;
};

}  // namespace es::runtime
