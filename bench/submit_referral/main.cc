// bench_submit_referral: the figures of `bench/run submit_referral` (see bench/README.md).
//
// Client mode (the default) starts each server as a child process of this same binary, drives
// it, and prints one line per figure to stdout:
//   figure=NAME value=V unit=U ceiling=C ratio=R
// Server modes (--serve=bare|referral --ready-file=PATH) are only for those child processes.

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/common/child_process.h"
#include "bench/common/report.h"
#include "bench/submit_referral/disk_sync.h"
#include "bench/submit_referral/fodselsnummer.h"
#include "bench/submit_referral/load_client.h"
#include "bench/submit_referral/serve.h"

namespace bench {
namespace {

constexpr char kUsage[] = R"(Usage: bench_submit_referral [FLAGS]

Prints `figure=NAME value=V unit=U ceiling=C ratio=R` lines to stdout, notes to stderr.
  --callers=1,16,64          concurrent SubmitReferral calls, one figure group per count
  --callers-per-channel=N    callers sharing one gRPC channel (TCP connection); 0 = one channel
                             for all (default 0)
  --warmup-seconds=S         before each gRPC measurement (default 1)
  --seconds=S                gRPC measurement time per server and caller count (default 6),
                             split into --rounds windows
  --rounds=R                 alternating windows, bare then ours, R of each (default 3)
  --disk-writers=1,64        writer threads for the synced-write figures; empty skips them
  --disk-seconds=S           synced-write measurement window (default 3)
Exit status: 0 when every figure was measured, 1 when a call or write failed, 2 for bad flags.
)";

struct Flags {
  std::string serve;
  std::string ready_file;
  std::vector<int> callers = {1, 16, 64};
  int callers_per_channel = 0;
  double warmup_seconds = 1;
  double seconds = 6;
  int rounds = 3;
  std::vector<int> disk_writers = {1, 64};
  double disk_seconds = 3;
};

// Abseil 20220623's string_view is its own type, not std::string_view: parse with that one.
bool ParseIntList(absl::string_view text, std::vector<int>* out) {
  out->clear();
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    int value = 0;
    if (!absl::SimpleAtoi(part, &value) || value < 1) return false;
    out->push_back(value);
  }
  return true;
}

absl::StatusOr<Flags> ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    const size_t equals = arg.find('=');
    const absl::string_view name = arg.substr(0, equals);
    const absl::string_view value = equals == absl::string_view::npos ? "" : arg.substr(equals + 1);
    bool ok = equals != absl::string_view::npos;
    if (name == "--help") {
      return absl::CancelledError(kUsage);
    } else if (name == "--serve") {
      flags.serve = std::string(value);
    } else if (name == "--ready-file") {
      flags.ready_file = std::string(value);
    } else if (name == "--callers") {
      ok = ok && ParseIntList(value, &flags.callers) && !flags.callers.empty();
    } else if (name == "--callers-per-channel") {
      ok = ok && absl::SimpleAtoi(value, &flags.callers_per_channel) &&
           flags.callers_per_channel >= 0;
    } else if (name == "--warmup-seconds") {
      ok = ok && absl::SimpleAtod(value, &flags.warmup_seconds) && flags.warmup_seconds >= 0;
    } else if (name == "--seconds") {
      ok = ok && absl::SimpleAtod(value, &flags.seconds) && flags.seconds > 0;
    } else if (name == "--rounds") {
      ok = ok && absl::SimpleAtoi(value, &flags.rounds) && flags.rounds >= 1;
    } else if (name == "--disk-writers") {
      ok = ok && ParseIntList(value, &flags.disk_writers);
    } else if (name == "--disk-seconds") {
      ok = ok && absl::SimpleAtod(value, &flags.disk_seconds) && flags.disk_seconds > 0;
    } else {
      ok = false;
    }
    if (!ok) return absl::InvalidArgumentError(absl::StrCat("bad flag: ", arg, "\n\n", kUsage));
  }
  if (!flags.serve.empty() && flags.ready_file.empty()) {
    return absl::InvalidArgumentError("--serve needs --ready-file");
  }
  return flags;
}

// A server child (serve.h) and the gRPC port it reported when ready.
struct ChildServer {
  std::unique_ptr<ChildProcess> process;
  int port = 0;

  static absl::StatusOr<ChildServer> Start(const std::string& mode,
                                           const std::string& scratch_dir) {
    absl::StatusOr<std::unique_ptr<ChildProcess>> process =
        ChildProcess::Start({absl::StrCat("--serve=", mode)}, scratch_dir, absl::Seconds(60));
    if (!process.ok()) return process.status();
    ChildServer server{std::move(*process)};
    if (!absl::SimpleAtoi(server.process->ready(), &server.port) || server.port <= 0) {
      return absl::InternalError(
          absl::StrCat("server --serve=", mode, " reported port '", server.process->ready(), "'"));
    }
    return server;
  }
  pid_t pid() const { return process->pid(); }
};

// One measurement window against a running server; `cpu_seconds` gets the server's CPU time
// and `others_seconds` what the rest of the machine used during the window.
absl::StatusOr<LoadResult> MeasureWindow(const ChildServer& server, const std::string& mode,
                                         int callers, int round, const Flags& flags,
                                         FodselsnummerSource& numbers, double& cpu_seconds,
                                         double& others_seconds) {
  // Server CPU over the window, to see who saturates the two cores.
  CpuProbe probe(server.pid());
  LoadOptions options;
  options.target = absl::StrCat("127.0.0.1:", server.port);
  options.callers = callers;
  options.callers_per_channel = flags.callers_per_channel;
  options.warmup = absl::Seconds(flags.warmup_seconds);
  options.measure = absl::Seconds(flags.seconds / flags.rounds);
  options.key_prefix = absl::StrCat("bench-", getpid(), "-", mode, "-", callers, "-", round, "-");
  absl::StatusOr<LoadResult> result = RunSubmitLoad(options, numbers, &probe);
  if (!result.ok()) return result.status();
  cpu_seconds += probe.window().other_cpu();
  // /proc/stat counts in clock ticks while per-process times are exact, so "others" is only good
  // to a few percent and can come out slightly negative: counted as 0 then.
  others_seconds += std::max(0.0, probe.window().rest_cpu());
  return result;
}

void ReportServer(const std::string& mode, int callers, const LoadResult& result,
                  double cpu_seconds, double others_seconds) {
  const double window = result.seconds;
  std::fprintf(stderr,
               "# %-8s callers=%-3d %8.0f calls/s  p50 %.3f ms  p99 %.3f ms  (%llu calls; CPU "
               "client %.0f%% server %.0f%% others %.0f%%)\n",
               mode.c_str(), callers, result.calls_per_second, result.p50_ms, result.p99_ms,
               static_cast<unsigned long long>(result.calls),
               100 * result.client_cpu_seconds / window, 100 * cpu_seconds / window,
               100 * others_seconds / window);
  if (others_seconds > 0.2 * window) {
    std::fprintf(stderr,
                 "# WARNING: other processes took %.0f%% of a core during this figure: the "
                 "machine was shared, so these numbers understate both sides\n",
                 100 * others_seconds / window);
  }
}

// The bare server and ours, both running, measured in alternating windows (bare, ours, bare,
// ours, ...): the speed of this shared VM drifts by tens of percent within a minute, and
// alternating short windows lets both sides see the same drift.
absl::Status MeasurePair(int callers, const Flags& flags, const std::string& scratch_dir,
                         FodselsnummerSource& numbers, LoadResult& bare, LoadResult& ours) {
  absl::StatusOr<ChildServer> bare_server = ChildServer::Start("bare", scratch_dir);
  if (!bare_server.ok()) return bare_server.status();
  absl::StatusOr<ChildServer> our_server = ChildServer::Start("referral", scratch_dir);
  if (!our_server.ok()) return our_server.status();
  std::vector<LoadResult> bare_windows, our_windows;
  double bare_cpu = 0, bare_others = 0, our_cpu = 0, our_others = 0;
  for (int round = 0; round < flags.rounds; ++round) {
    absl::StatusOr<LoadResult> b =
        MeasureWindow(*bare_server, "bare", callers, round, flags, numbers, bare_cpu, bare_others);
    if (!b.ok()) return b.status();
    absl::StatusOr<LoadResult> o =
        MeasureWindow(*our_server, "referral", callers, round, flags, numbers, our_cpu, our_others);
    if (!o.ok()) return o.status();
    std::fprintf(stderr, "#   round %d: bare %.0f, ours %.0f calls/s\n", round + 1,
                 b->calls_per_second, o->calls_per_second);
    bare_windows.push_back(std::move(*b));
    our_windows.push_back(std::move(*o));
  }
  if (absl::Status stopped = bare_server->process->Stop(); !stopped.ok()) return stopped;
  if (absl::Status stopped = our_server->process->Stop(); !stopped.ok()) return stopped;
  bare = MergeWindows(bare_windows);
  ours = MergeWindows(our_windows);
  ReportServer("bare", callers, bare, bare_cpu, bare_others);
  ReportServer("referral", callers, ours, our_cpu, our_others);
  return absl::OkStatus();
}

int RunClient(const Flags& flags) {
  char scratch[] = "/tmp/pathways-bench-XXXXXX";
  if (mkdtemp(scratch) == nullptr) {
    std::perror("bench: mkdtemp");
    return 1;
  }
  const auto fail = [&](const absl::Status& status) {
    std::fprintf(stderr, "bench: FAILED: %s\n", std::string(status.message()).c_str());
    std::error_code ignored;
    std::filesystem::remove_all(scratch, ignored);
    return 1;
  };
  std::fprintf(stderr,
               "# submit_referral: %d alternating rounds of %g s warm-up + %g s per server, %s, "
               "scratch %s\n",
               flags.rounds, flags.warmup_seconds, flags.seconds / flags.rounds,
               flags.callers_per_channel == 0
                   ? "one channel"
                   : absl::StrCat(flags.callers_per_channel, " callers per channel").c_str(),
               scratch);

  FodselsnummerSource numbers;
  for (const int callers : flags.callers) {
    // A fresh pair of server processes per caller count.
    LoadResult bare, ours;
    if (absl::Status s = MeasurePair(callers, flags, scratch, numbers, bare, ours); !s.ok()) {
      return fail(s);
    }
    const std::string name = absl::StrCat("submit_referral_", callers);
    PrintRate(name, ours.calls_per_second, bare.calls_per_second, "calls/s");
    PrintLatency(name + "_p50", ours.p50_ms, bare.p50_ms);
    PrintLatency(name + "_p99", ours.p99_ms, bare.p99_ms);
  }

  for (const int writers : flags.disk_writers) {
    const SyncOptions options{
        .dir = scratch, .writers = writers, .measure = absl::Seconds(flags.disk_seconds)};
    const double machine_start = MachineBusySeconds();
    const double own_start = ProcessCpuSeconds(getpid());
    const absl::Time started = absl::Now();
    absl::StatusOr<double> file = FileSyncedWrites(options, FileWrites::kOverwrite);
    if (!file.ok()) return fail(file.status());
    absl::StatusOr<double> appended = FileSyncedWrites(options, FileWrites::kAppend);
    if (!appended.ok()) return fail(appended.status());
    absl::StatusOr<double> rocks = RocksDbSyncedBatchWrites(options);
    if (!rocks.ok()) return fail(rocks.status());
    std::fprintf(stderr,
                 "# synced writes, %d writer(s): file overwritten %.0f/s, file appended %.0f/s, "
                 "RocksDB %.0f/s\n",
                 writers, *file, *appended, *rocks);
    // Other processes' CPU use is the visible sign of their disk traffic (builds, tests), which
    // makes every fdatasync wait for their writes too.
    const double elapsed = absl::ToDoubleSeconds(absl::Now() - started);
    const double others =
        MachineBusySeconds() - machine_start - (ProcessCpuSeconds(getpid()) - own_start);
    if (others > 0.2 * elapsed) {
      std::fprintf(stderr,
                   "# WARNING: other processes took %.0f%% of a core during the synced writes: "
                   "their disk traffic slows every sync\n",
                   100 * others / elapsed);
    }
    PrintRate(writers == 1 ? "rocksdb_synced_batch_write"
                           : absl::StrCat("rocksdb_synced_batch_write_", writers),
              *rocks, *file, "writes/s");
  }

  std::error_code ignored;
  std::filesystem::remove_all(scratch, ignored);
  return 0;
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  absl::StatusOr<bench::Flags> flags = bench::ParseFlags(argc, argv);
  if (!flags.ok()) {
    const bool help = absl::IsCancelled(flags.status());
    std::fputs(std::string(flags.status().message()).c_str(), help ? stdout : stderr);
    return help ? 0 : 2;
  }
  if (flags->serve == "bare") return bench::ServeBare(flags->ready_file);
  if (flags->serve == "referral") return bench::ServeReferral(flags->ready_file);
  if (!flags->serve.empty()) {
    std::fprintf(stderr, "bad flag: --serve=%s (bare or referral)\n", flags->serve.c_str());
    return 2;
  }
  return bench::RunClient(*flags);
}
