#include "bench/common/report.h"

#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace bench {
namespace {

void PrintLine(const std::string& name, const std::string& value, std::string_view unit,
               const std::string& ceiling, double ratio) {
  std::printf("figure=%s value=%s unit=%s ceiling=%s ratio=%.3f\n", name.c_str(), value.c_str(),
              std::string(unit).c_str(), ceiling.c_str(), ratio);
  std::fflush(stdout);
}

double WallSeconds() { return absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch()); }

}  // namespace

void PrintRate(const std::string& name, double ours, double ceiling, std::string_view unit) {
  PrintLine(name, absl::StrFormat("%.0f", ours), unit, absl::StrFormat("%.0f", ceiling),
            ceiling > 0 ? ours / ceiling : 0.0);
}

void PrintLatency(const std::string& name, double ours_ms, double ceiling_ms) {
  PrintLine(name, absl::StrFormat("%.3f", ours_ms), "ms", absl::StrFormat("%.3f", ceiling_ms),
            ours_ms > 0 ? ceiling_ms / ours_ms : 0.0);
}

void PrintSeconds(const std::string& name, double ours_s, double ceiling_s) {
  PrintLine(name, absl::StrFormat("%.2f", ours_s), "s", absl::StrFormat("%.2f", ceiling_s),
            ours_s > 0 ? ceiling_s / ours_s : 0.0);
}

void PrintSizeUnder(const std::string& name, double ours, double limit, std::string_view unit) {
  PrintLine(name, absl::StrFormat("%.0f", ours), unit, absl::StrFormat("%.0f", limit),
            ours > 0 ? limit / ours : 0.0);
}

void Note(const char* format, ...) {
  char buffer[2048];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buffer, sizeof(buffer), format, args);
  va_end(args);
  std::fprintf(stderr, "# %s\n", buffer);
  std::fflush(stderr);
}

std::string SizeLabel(int64_t n) {
  if (n >= 1'000'000 && n % 1'000'000 == 0) return absl::StrCat(n / 1'000'000, "m");
  if (n >= 1'000 && n % 1'000 == 0) return absl::StrCat(n / 1'000, "k");
  return absl::StrCat(n);
}

double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(in, line)) return 0;
  // The command name (field 2) may contain spaces; the fields after its ')' are plain.
  const size_t paren = line.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(line.substr(paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;  // fields 14 and 15, counted from 1
  for (int index = 3; index <= 15 && fields >> field; ++index) {
    if (index == 14) utime = std::stoull(field);
    if (index == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double MachineBusySeconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                     steal = 0;
  if (!(in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal)) return 0;
  return static_cast<double>(user + nice + system + irq + softirq + steal) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return absl::StrCat(a, " ", b, " ", c);
}

std::optional<int64_t> ProcStatusKb(pid_t pid, std::string_view field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  const std::string prefix = absl::StrCat(std::string(field), ":");
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) != 0) continue;
    std::istringstream rest(line.substr(prefix.size()));
    int64_t kb = 0;
    if (rest >> kb) return kb;
    return std::nullopt;
  }
  return std::nullopt;
}

CpuWindow::CpuWindow(pid_t other)
    : other_pid_(other),
      start_wall_(WallSeconds()),
      start_own_(ProcessCpuSeconds(getpid())),
      start_other_(other > 0 ? ProcessCpuSeconds(other) : 0),
      start_machine_(MachineBusySeconds()) {}

void CpuWindow::Stop() {
  seconds_ = WallSeconds() - start_wall_;
  own_ = ProcessCpuSeconds(getpid()) - start_own_;
  other_ = other_pid_ > 0 ? ProcessCpuSeconds(other_pid_) - start_other_ : 0;
  rest_ = MachineBusySeconds() - start_machine_ - own_ - other_;
}

void CpuWindow::Report(const char* what, const char* other_name) const {
  if (seconds_ <= 0) return;
  if (other_pid_ > 0) {
    Note("%s: CPU this process %.0f%%, %s %.0f%%, others %.0f%% (of one core, over %.1f s)", what,
         100 * own_ / seconds_, other_name, 100 * other_ / seconds_, 100 * rest_ / seconds_,
         seconds_);
  } else {
    Note("%s: CPU this process %.0f%%, others %.0f%% (of one core, over %.1f s)", what,
         100 * own_ / seconds_, 100 * rest_ / seconds_, seconds_);
  }
  if (rest_ > 0.2 * seconds_) {
    Note(
        "WARNING: other processes took %.0f%% of a core during '%s': the machine was shared, "
        "so this figure understates what it can do",
        100 * rest_ / seconds_, what);
  }
}

}  // namespace bench
