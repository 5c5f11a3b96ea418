// bench_worklist: the figures of `bench/run worklist` (see bench/README.md).
//
// GetWorklist (one unit, ALL_OPEN, page_size 50) against a PathwayServer holding 1,000,000
// active pathways over 50 units, at 1 and 64 callers, beside a bare gRPC server (same service,
// callback API) answering with a prepared page of the same 50 entries. The client runs here;
// each server, and the Kafka broker the pathway server needs, run in child processes of this
// binary (--serve=..., see bench/common/serve.h).

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/common/child_process.h"
#include "bench/common/dataset.h"
#include "bench/common/flags.h"
#include "bench/common/report.h"
#include "bench/common/serve.h"
#include "bench/common/worklist_load.h"

namespace bench {
namespace {

constexpr char kUsage[] = R"(Usage: bench_worklist [FLAGS]

Prints `figure=NAME value=V unit=U ceiling=C ratio=R` lines to stdout, notes to stderr.
  --pathways=N          active pathways in the data set (default 1000000; --quick: 100000).
                        Figure names carry the size when it is not 1000000.
  --callers=1,64        calls in flight, one figure group per count
  --warmup-seconds=S    before each measurement (default 2)
  --seconds=S           measurement window (default 5; --quick: 2)
  --block-cache-mb=N    the pathway server's RocksDB block cache (default 128, the service's)
  --write-buffer-mb=N   its memtable size per column family (default 32, the service's)
  --prepare-only        load (or find) the cached data set, measure nothing
  --quick               small sizes for a smoke run (also BENCH_QUICK=1)
The data set is cached under $BENCH_DATA_DIR (default <build dir>/data); see bench/README.md.
)";

absl::StatusOr<WorklistLoadResult> Measure(const char* what, const ChildProcess& server,
                                           int callers, double warmup, double seconds) {
  CpuProbe probe(server.pid());
  absl::StatusOr<WorklistLoadResult> result =
      RunWorklistLoad({.target = absl::StrCat("127.0.0.1:", server.ready()),
                       .callers = callers,
                       .warmup = absl::Seconds(warmup),
                       .measure = absl::Seconds(seconds)},
                      &probe);
  if (!result.ok()) return result.status();
  Note("%-8s callers=%-3d %8.0f calls/s  p50 %.3f ms  p99 %.3f ms  (%llu calls)", what, callers,
       result->calls_per_second, result->p50_ms, result->p99_ms,
       static_cast<unsigned long long>(result->calls));
  probe.window().Report(absl::StrCat(what, " callers=", callers).c_str());
  return result;
}

int Run(int argc, char** argv) {
  bool quick = QuickFromEnvironment();
  bool prepare_only = false;
  int64_t pathways = 0;
  std::vector<int> callers = {1, 64};
  double warmup = 2, seconds = 0;
  int64_t block_cache_mb = 128, write_buffer_mb = 32;
  FlagSet flags(kUsage);
  flags.Bool("--quick", &quick);
  flags.Int("--pathways", &pathways, 1000);
  flags.IntList("--callers", &callers);
  flags.Double("--warmup-seconds", &warmup, 0);
  flags.Double("--seconds", &seconds, 0.1);
  flags.Int("--block-cache-mb", &block_cache_mb, 1);
  flags.Int("--write-buffer-mb", &write_buffer_mb, 1);
  flags.Bool("--prepare-only", &prepare_only);
  ParseOrExit(flags, argc, argv);
  if (pathways == 0) pathways = quick ? 100'000 : 1'000'000;
  if (seconds == 0) seconds = quick ? 2 : 5;
  const std::string base =
      pathways == 1'000'000 ? "worklist" : absl::StrCat("worklist_", SizeLabel(pathways));

  Note(
      "worklist: %lld active pathways over %d units, %g s warm-up + %g s per figure, load "
      "average %s",
      static_cast<long long>(pathways), kUnits, warmup, seconds, LoadAverage().c_str());
  absl::StatusOr<Dataset> dataset = EnsureDataset(Story::kOpenDeadline, pathways);
  if (!dataset.ok()) {
    Note("FAILED: data set: %s", std::string(dataset.status().message()).c_str());
    return 1;
  }
  if (prepare_only) return 0;

  char scratch[] = "/tmp/pathways-bench-worklist-XXXXXX";
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
      absl::StatusOr<std::unique_ptr<ChildProcess>> bare =
          ChildProcess::Start({"--serve=bare-worklist"}, scratch, absl::Seconds(30));
      absl::StatusOr<std::unique_ptr<ChildProcess>> ours = ChildProcess::Start(
          PathwayServerArgs(dataset->db_dir, (*broker)->ready(), static_cast<int>(block_cache_mb),
                            static_cast<int>(write_buffer_mb)),
          scratch, absl::Seconds(180));
      if (!bare.ok()) {
        fail(bare.status());
      } else if (!ours.ok()) {
        fail(ours.status());
      } else {
        for (const int n : callers) {
          absl::StatusOr<WorklistLoadResult> ceiling = Measure("bare", **bare, n, warmup, seconds);
          if (!ceiling.ok()) {
            fail(ceiling.status());
            break;
          }
          absl::StatusOr<WorklistLoadResult> result =
              Measure("pathway", **ours, n, warmup, seconds);
          if (!result.ok()) {
            fail(result.status());
            break;
          }
          const std::string name = absl::StrCat(base, "_", n);
          PrintRate(name, result->calls_per_second, ceiling->calls_per_second, "calls/s");
          PrintLatency(name + "_p50", result->p50_ms, ceiling->p50_ms);
          PrintLatency(name + "_p99", result->p99_ms, ceiling->p99_ms);
          Note(
              "target: rate >= 0.5 x bare: %s%s",
              result->calls_per_second >= 0.5 * ceiling->calls_per_second ? "met" : "MISSED",
              n >= 64 ? (result->p99_ms < 5.0 ? "; p99 < 5 ms: met" : "; p99 < 5 ms: MISSED") : "");
        }
        const std::optional<int64_t> rss = ProcStatusKb((*ours)->pid(), "VmRSS");
        if (rss.has_value())
          Note("pathway server resident size after the runs: %lld MiB",
               static_cast<long long>(*rss / 1024));
      }
      if (ours.ok()) {
        if (absl::Status s = (*ours)->Stop(); !s.ok()) fail(s);
      }
      if (bare.ok()) {
        if (absl::Status s = (*bare)->Stop(); !s.ok()) fail(s);
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
