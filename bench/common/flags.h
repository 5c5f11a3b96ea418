#pragma once

// A small flag parser for the benchmark binaries: --name=value flags bound to variables,
// --name alone for booleans, --help. Unknown flags are errors (a typo must not silently give
// a figure measured with the default).

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace bench {

class FlagSet {
 public:
  explicit FlagSet(std::string usage) : usage_(std::move(usage)) {}

  void Int(const std::string& name, int64_t* value, int64_t min = 0);
  void Double(const std::string& name, double* value, double min = 0);
  void String(const std::string& name, std::string* value);
  void Bool(const std::string& name, bool* value);
  void IntList(const std::string& name, std::vector<int>* value);

  // kCancelled carrying the usage text for --help; kInvalidArgument naming a bad flag.
  absl::Status Parse(int argc, char** argv);
  const std::string& usage() const { return usage_; }

 private:
  struct Flag {
    std::string name;
    bool is_bool = false;
    std::function<bool(const std::string&)> set;
  };
  std::string usage_;
  std::vector<Flag> flags_;
};

// BENCH_QUICK=1 in the environment: the same as --quick.
bool QuickFromEnvironment();

// Parses flags; on --help prints the usage and exits 0, on a bad flag prints it and exits 2.
void ParseOrExit(FlagSet& flags, int argc, char** argv);

}  // namespace bench
