// bench_memory: the figures of `bench/run memory` (see bench/README.md).
//
// Resident size of a pathway server process holding 1,000,000 active pathways (the worklist
// data set), with the RocksDB block cache and memtables bounded by configuration, measured
// after it has served a worklist load: every unit's whole worklist read once (so every
// open-deadline row went through the block cache), then the closed-loop GetWorklist load of
// the worklist group at 64 callers. The server runs in a child process of this binary with
// only the pathway server in it (the Kafka broker is another child), so its VmRSS / VmHWM from
// /proc/<pid>/status are the service's own.

#include <grpcpp/grpcpp.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/common/child_process.h"
#include "bench/common/dataset.h"
#include "bench/common/flags.h"
#include "bench/common/report.h"
#include "bench/common/serve.h"
#include "bench/common/worklist_load.h"
#include "pathway/v1/service.grpc.pb.h"

namespace bench {
namespace {

constexpr char kUsage[] = R"(Usage: bench_memory [FLAGS]

Prints `figure=NAME value=V unit=U ceiling=C ratio=R` lines to stdout, notes to stderr.
  --pathways=N          active pathways in the data set (default 1000000; --quick: 100000).
                        Figure names carry the size (memory_rss_1m).
  --block-cache-mb=N    the server's RocksDB block cache (default 128, the service's default)
  --write-buffer-mb=N   its memtable size per column family (default 32, the service's default)
  --callers=N           worklist calls in flight during the load (default 64)
  --seconds=S           length of the worklist load (default 10; --quick: 3)
  --limit-mib=N         the ceiling the figure is held against (default 1024)
  --prepare-only        load (or find) the cached data set, measure nothing
  --quick               small sizes for a smoke run (also BENCH_QUICK=1)
)";

// Pages through every unit's whole worklist (ALL_OPEN, 500 per page) once, so that the server
// has read every open-deadline row: its block cache is then as full as the load can make it.
// Returns the number of entries seen (one open deadline per pathway of the data set).
absl::StatusOr<int64_t> SweepAllWorklists(const std::string& target) {
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  std::unique_ptr<pathway::v1::PathwayService::Stub> stub =
      pathway::v1::PathwayService::NewStub(channel);
  int64_t entries = 0;
  for (int unit = 0; unit < kUnits; ++unit) {
    pathway::v1::GetWorklistRequest request;
    request.set_unit(UnitName(unit));
    request.set_filter(pathway::v1::ALL_OPEN);
    request.set_page_size(500);
    while (true) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      pathway::v1::WorklistResponse response;
      grpc::Status status = stub->GetWorklist(&context, request, &response);
      if (!status.ok()) {
        return absl::InternalError(absl::StrCat("GetWorklist: ", status.error_message()));
      }
      entries += response.entries_size();
      if (response.next_page_token().empty()) break;
      request.set_page_token(response.next_page_token());
    }
  }
  return entries;
}

int Run(int argc, char** argv) {
  bool quick = QuickFromEnvironment();
  bool prepare_only = false;
  int64_t pathways = 0, block_cache_mb = 128, write_buffer_mb = 32, callers = 64, limit = 1024;
  double seconds = 0;
  FlagSet flags(kUsage);
  flags.Bool("--quick", &quick);
  flags.Int("--pathways", &pathways, 1000);
  flags.Int("--block-cache-mb", &block_cache_mb, 1);
  flags.Int("--write-buffer-mb", &write_buffer_mb, 1);
  flags.Int("--callers", &callers, 1);
  flags.Double("--seconds", &seconds, 0.1);
  flags.Int("--limit-mib", &limit, 1);
  flags.Bool("--prepare-only", &prepare_only);
  ParseOrExit(flags, argc, argv);
  if (pathways == 0) pathways = quick ? 100'000 : 1'000'000;
  if (seconds == 0) seconds = quick ? 3 : 10;

  Note(
      "memory: pathway server with %lld active pathways, block cache %lld MiB, memtables %lld "
      "MiB per column family, after %g s of worklist load at %lld callers; load average %s",
      static_cast<long long>(pathways), static_cast<long long>(block_cache_mb),
      static_cast<long long>(write_buffer_mb), seconds, static_cast<long long>(callers),
      LoadAverage().c_str());
  absl::StatusOr<Dataset> dataset = EnsureDataset(Story::kOpenDeadline, pathways);
  if (!dataset.ok()) {
    Note("FAILED: data set: %s", std::string(dataset.status().message()).c_str());
    return 1;
  }
  if (prepare_only) return 0;
  char scratch[] = "/tmp/pathways-bench-memory-XXXXXX";
  if (mkdtemp(scratch) == nullptr) {
    std::perror("bench: mkdtemp");
    return 1;
  }
  int exit_code = 0;
  auto fail = [&](const absl::Status& status) {
    Note("FAILED: %s", std::string(status.message()).c_str());
    exit_code = 1;
  };
  {
    absl::StatusOr<std::unique_ptr<ChildProcess>> broker =
        ChildProcess::Start({"--serve=broker"}, scratch, absl::Seconds(30));
    if (!broker.ok()) {
      fail(broker.status());
    } else {
      absl::StatusOr<std::unique_ptr<ChildProcess>> server = ChildProcess::Start(
          PathwayServerArgs(dataset->db_dir, (*broker)->ready(), static_cast<int>(block_cache_mb),
                            static_cast<int>(write_buffer_mb)),
          scratch, absl::Seconds(180));
      if (!server.ok()) {
        fail(server.status());
      } else {
        const pid_t pid = (*server)->pid();
        Note("resident size once SERVING: %lld MiB",
             static_cast<long long>(ProcStatusKb(pid, "VmRSS").value_or(0) / 1024));
        const absl::Time sweep_start = absl::Now();
        absl::StatusOr<int64_t> swept =
            SweepAllWorklists(absl::StrCat("127.0.0.1:", (*server)->ready()));
        if (!swept.ok()) {
          fail(swept.status());
        } else {
          Note(
              "read every unit's whole worklist once: %lld open deadlines in %.1f s; resident "
              "size %lld MiB",
              static_cast<long long>(*swept), absl::ToDoubleSeconds(absl::Now() - sweep_start),
              static_cast<long long>(ProcStatusKb(pid, "VmRSS").value_or(0) / 1024));
          if (*swept != pathways) {
            fail(absl::InternalError(absl::StrCat("expected ", pathways, " open deadlines")));
          }
        }
        absl::StatusOr<WorklistLoadResult> load =
            RunWorklistLoad({.target = absl::StrCat("127.0.0.1:", (*server)->ready()),
                             .callers = static_cast<int>(callers),
                             .warmup = absl::Seconds(1),
                             .measure = absl::Seconds(seconds)},
                            nullptr);
        if (!load.ok()) {
          fail(load.status());
        } else if (exit_code == 0) {
          Note("worklist load: %.0f calls/s, p99 %.3f ms", load->calls_per_second, load->p99_ms);
          const std::optional<int64_t> rss = ProcStatusKb(pid, "VmRSS");
          const std::optional<int64_t> hwm = ProcStatusKb(pid, "VmHWM");
          if (!rss.has_value() || !hwm.has_value()) {
            fail(absl::InternalError("cannot read /proc/<pid>/status of the server"));
          } else {
            const double rss_mib = static_cast<double>(*rss) / 1024;
            const double hwm_mib = static_cast<double>(*hwm) / 1024;
            const std::string size = SizeLabel(pathways);
            PrintSizeUnder(absl::StrCat("memory_rss_", size), rss_mib, static_cast<double>(limit),
                           "MiB");
            PrintSizeUnder(absl::StrCat("memory_hwm_", size), hwm_mib, static_cast<double>(limit),
                           "MiB");
            Note("target: resident size < %lld MiB: %s (peak %s)", static_cast<long long>(limit),
                 rss_mib < static_cast<double>(limit) ? "met" : "MISSED",
                 hwm_mib < static_cast<double>(limit) ? "under it too" : "ABOVE it");
            Note("data directory on disk: %s", dataset->db_dir.c_str());
          }
        }
        if (absl::Status s = (*server)->Stop(); !s.ok()) fail(s);
      }
      if (absl::Status s = (*broker)->Stop(); !s.ok()) fail(s);
    }
  }
  std::error_code ignored;
  std::filesystem::remove_all(scratch, ignored);
  return exit_code;
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  if (std::optional<int> served = bench::RunServerMode(argc, argv)) return *served;
  return bench::Run(argc, argv);
}
