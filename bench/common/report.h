#pragma once

// Output of the benchmark groups: figure lines on stdout, in the format bench/run documents,
//   figure=NAME value=V unit=U ceiling=C ratio=R
// with ratio higher-is-better (ours / ceiling for rates, ceiling / ours for latencies and
// durations), and helpers that read what the machine and the processes were doing meanwhile.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bench {

// A rate: events/s, calls/s, ... Printed as whole numbers; ratio = ours / ceiling.
void PrintRate(const std::string& name, double ours, double ceiling, std::string_view unit);
// A latency in milliseconds (microsecond resolution); ratio = ceiling / ours.
void PrintLatency(const std::string& name, double ours_ms, double ceiling_ms);
// A duration in seconds; ratio = ceiling / ours.
void PrintSeconds(const std::string& name, double ours_s, double ceiling_s);
// A size that must stay under `limit` (the ceiling); ratio = limit / ours.
void PrintSizeUnder(const std::string& name, double ours, double limit, std::string_view unit);

// Notes go to stderr, prefixed with "# ".
void Note(const char* format, ...) __attribute__((format(printf, 1, 2)));

// "1m" for 1,000,000, "10m", "100k", "2500" otherwise: the size in a figure name.
std::string SizeLabel(int64_t n);

// User plus system CPU time of process `pid` so far, in seconds (0 when unreadable).
double ProcessCpuSeconds(pid_t pid);
// CPU time every process on the machine has used so far (all cores, idle and iowait excluded).
double MachineBusySeconds();
// "0.52 0.61 0.70" from /proc/loadavg.
std::string LoadAverage();
// A "kB" field of /proc/<pid>/status (VmRSS, VmHWM, ...), in KiB; nullopt when unreadable.
std::optional<int64_t> ProcStatusKb(pid_t pid, std::string_view field);

// Measures how much CPU this process, an optional other process and everyone else used over a
// window, to tell whether a figure was taken on a busy (shared) machine.
class CpuWindow {
 public:
  explicit CpuWindow(pid_t other = 0);  // starts the window now
  void Stop();
  double seconds() const { return seconds_; }
  double own_cpu() const { return own_; }
  double other_cpu() const { return other_; }
  double rest_cpu() const { return rest_; }  // processes other than these two
  // Prints "CPU: this x% other y% rest z%" and a warning when the rest took > 20% of a core.
  void Report(const char* what, const char* other_name = "server") const;

 private:
  pid_t other_pid_;
  double start_wall_, start_own_, start_other_, start_machine_;
  double seconds_ = 0, own_ = 0, other_ = 0, rest_ = 0;
};

}  // namespace bench
