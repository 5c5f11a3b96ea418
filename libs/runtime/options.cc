#include "libs/runtime/options.h"

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace es::runtime {

Options::Options(std::string program, std::string summary, int argc, const char* const* argv)
    : program_(std::move(program)), summary_(std::move(summary)) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help_requested_ = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      errors_.push_back(
          absl::StrCat("unexpected argument '", arg, "' (options look like --name=value)"));
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
      value = argv[++i];
    } else {
      value = "true";  // a bare boolean flag
    }
    flags_[name] = value;
  }
}

bool Options::Lookup(const std::string& flag, const std::string& env, std::string* value) {
  used_[flag] = true;
  if (auto it = flags_.find(flag); it != flags_.end()) {
    *value = it->second;
    return true;
  }
  if (!env.empty()) {
    if (const char* from_env = std::getenv(env.c_str()); from_env != nullptr) {
      *value = from_env;
      return true;
    }
  }
  return false;
}

std::string Options::String(const std::string& flag, const std::string& env, std::string fallback,
                            const std::string& help) {
  help_lines_.push_back(absl::StrCat("  --", flag, " (env ", env.empty() ? "-" : env,
                                     ", default \"", fallback, "\")\n      ", help));
  std::string value;
  return Lookup(flag, env, &value) ? value : fallback;
}

int64_t Options::Int(const std::string& flag, const std::string& env, int64_t fallback,
                     const std::string& help) {
  help_lines_.push_back(absl::StrCat("  --", flag, " (env ", env.empty() ? "-" : env, ", default ",
                                     fallback, ")\n      ", help));
  std::string text;
  if (!Lookup(flag, env, &text)) return fallback;
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) {
    errors_.push_back(absl::StrCat("--", flag, ": '", text, "' is not an integer"));
    return fallback;
  }
  return value;
}

bool Options::Bool(const std::string& flag, const std::string& env, bool fallback,
                   const std::string& help) {
  help_lines_.push_back(absl::StrCat("  --", flag, " (env ", env.empty() ? "-" : env, ", default ",
                                     fallback ? "true" : "false", ")\n      ", help));
  std::string text;
  if (!Lookup(flag, env, &text)) return fallback;
  bool value = false;
  if (!absl::SimpleAtob(text, &value)) {
    errors_.push_back(absl::StrCat("--", flag, ": '", text, "' is not true or false"));
    return fallback;
  }
  return value;
}

std::string Options::Help() const {
  return absl::StrCat("Usage: ", program_, " [--option=value ...]\n", summary_, "\n\nOptions:\n",
                      absl::StrJoin(help_lines_, "\n"), "\n  --help\n      print this help\n");
}

absl::Status Options::Finish() const {
  if (!errors_.empty()) return absl::InvalidArgumentError(errors_.front());
  for (const auto& [name, value] : flags_) {
    if (!used_.count(name)) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, ": unknown option (see --help)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace es::runtime
