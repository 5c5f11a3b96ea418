#include "bench/common/flags.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace bench {

void FlagSet::Int(const std::string& name, int64_t* value, int64_t min) {
  flags_.push_back({name, false, [value, min](const std::string& text) {
                      int64_t v = 0;
                      if (!absl::SimpleAtoi(text, &v) || v < min) return false;
                      *value = v;
                      return true;
                    }});
}

void FlagSet::Double(const std::string& name, double* value, double min) {
  flags_.push_back({name, false, [value, min](const std::string& text) {
                      double v = 0;
                      if (!absl::SimpleAtod(text, &v) || v < min) return false;
                      *value = v;
                      return true;
                    }});
}

void FlagSet::String(const std::string& name, std::string* value) {
  flags_.push_back({name, false, [value](const std::string& text) {
                      *value = text;
                      return true;
                    }});
}

void FlagSet::Bool(const std::string& name, bool* value) {
  flags_.push_back({name, true, [value](const std::string& text) {
                      if (text.empty() || text == "true" || text == "1") {
                        *value = true;
                      } else if (text == "false" || text == "0") {
                        *value = false;
                      } else {
                        return false;
                      }
                      return true;
                    }});
}

void FlagSet::IntList(const std::string& name, std::vector<int>* value) {
  flags_.push_back({name, false, [value](const std::string& text) {
                      std::vector<int> parsed;
                      for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
                        int v = 0;
                        if (!absl::SimpleAtoi(part, &v) || v < 1) return false;
                        parsed.push_back(v);
                      }
                      if (parsed.empty()) return false;
                      *value = std::move(parsed);
                      return true;
                    }});
}

absl::Status FlagSet::Parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return absl::CancelledError(usage_);
    const size_t equals = arg.find('=');
    const std::string name = arg.substr(0, equals);
    const bool has_value = equals != std::string::npos;
    const std::string value = has_value ? arg.substr(equals + 1) : "";
    bool ok = false;
    bool known = false;
    for (const Flag& flag : flags_) {
      if (flag.name != name) continue;
      known = true;
      ok = (has_value || flag.is_bool) && flag.set(value);
      break;
    }
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat(known ? "bad value in flag: " : "unknown flag: ", arg, "\n\n", usage_));
    }
  }
  return absl::OkStatus();
}

bool QuickFromEnvironment() {
  const char* quick = std::getenv("BENCH_QUICK");
  return quick != nullptr && *quick != '\0' && std::string(quick) != "0";
}

void ParseOrExit(FlagSet& flags, int argc, char** argv) {
  absl::Status status = flags.Parse(argc, argv);
  if (status.ok()) return;
  if (absl::IsCancelled(status)) {
    std::fputs(std::string(status.message()).c_str(), stdout);
    std::exit(0);
  }
  std::fprintf(stderr, "%s", std::string(status.message()).c_str());
  std::exit(2);
}

}  // namespace bench
