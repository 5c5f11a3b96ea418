// bench_rebuild: the figures of `bench/run rebuild` (see bench/README.md).
//
// app::RebuildOwnViews over 10,000,000 stored pathway events (1,000,000 pathways x 10 events):
// it drops the pathway service's own views, folds every stream with the production Evolve and
// writes the rows RowsOf gives. Beside it, in the same run and on the same database, the
// ceiling: a raw scan of the events column family that parses each StoredEvent and nothing
// else. Both run after an untimed scan has brought the data into the page cache.

#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/common/dataset.h"
#include "bench/common/flags.h"
#include "bench/common/report.h"
#include "clinical/catalogue.h"
#include "eventing/v1/store.pb.h"
#include "libs/storage/event_store.h"
#include "libs/storage/rocks_db.h"
#include "libs/storage/view_store.h"
#include "rocksdb/db.h"
#include "services/pathway/app/view_rebuilder.h"
#include "services/pathway/domain/pathway_decider.h"

namespace bench {
namespace {

constexpr char kUsage[] = R"(Usage: bench_rebuild [FLAGS]

Prints `figure=NAME value=V unit=U ceiling=C ratio=R` lines to stdout, notes to stderr.
  --events=N        stored events to rebuild from (default 10000000; --quick: 1000000), a
                    multiple of 10 (10 per pathway). The figure names carry the size:
                    rebuild_10m.
  --prepare-only    load (or find) the cached data set, measure nothing
  --quick           small sizes for a smoke run (also BENCH_QUICK=1)
The data set is cached under $BENCH_DATA_DIR (default <build dir>/data); see bench/README.md.
)";

struct Scan {
  uint64_t events = 0;
  uint64_t bytes = 0;
  double seconds = 0;
};

// Iterate the events column family and parse every StoredEvent.
absl::StatusOr<Scan> RawScan(es::storage::RocksDb& db) {
  const absl::Time started = absl::Now();
  Scan scan;
  std::unique_ptr<rocksdb::Iterator> it(
      db.db()->NewIterator(rocksdb::ReadOptions(), db.handle(es::storage::Family::kEvents)));
  eventing::v1::StoredEvent event;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (!event.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("stored event: cannot be decoded");
    }
    ++scan.events;
    scan.bytes += it->key().size() + it->value().size();
  }
  if (!it->status().ok()) return es::storage::FromRocks(it->status(), "scan");
  scan.seconds = absl::ToDoubleSeconds(absl::Now() - started);
  return scan;
}

int Run(int argc, char** argv) {
  bool quick = QuickFromEnvironment();
  bool prepare_only = false;
  int64_t events = 0;
  FlagSet flags(kUsage);
  flags.Bool("--quick", &quick);
  flags.Int("--events", &events, 10);
  flags.Bool("--prepare-only", &prepare_only);
  ParseOrExit(flags, argc, argv);
  if (events == 0) events = quick ? 1'000'000 : 10'000'000;
  if (events % 10 != 0) {
    Note("--events must be a multiple of 10");
    return 2;
  }
  const std::string name = absl::StrCat("rebuild_", SizeLabel(events));
  auto fail = [](const absl::Status& status) {
    Note("FAILED: %s", std::string(status.message()).c_str());
    return 1;
  };
  Note("rebuild: %lld stored events (%lld pathways x 10); load average %s",
       static_cast<long long>(events), static_cast<long long>(events / 10), LoadAverage().c_str());
  absl::StatusOr<Dataset> dataset = EnsureDataset(Story::kLongPathway, events / 10);
  if (!dataset.ok()) return fail(dataset.status());
  if (prepare_only) return 0;

  absl::StatusOr<clinical::PathwayCatalogue> catalogue =
      clinical::PathwayCatalogue::LoadDirectories({CatalogueDir()});
  if (!catalogue.ok()) return fail(catalogue.status());
  pathway::domain::PathwayDecider decider(*catalogue);
  // The service's settings: WAL synced, 128 MiB block cache, 32 MiB memtables.
  absl::StatusOr<std::unique_ptr<es::storage::RocksDb>> db =
      es::storage::RocksDb::Open({.path = dataset->db_dir});
  if (!db.ok()) return fail(db.status());

  absl::StatusOr<Scan> warm = RawScan(**db);
  if (!warm.ok()) return fail(warm.status());
  Note("untimed warm-up scan: %llu events, %.0f MiB, %.1f s",
       static_cast<unsigned long long>(warm->events), static_cast<double>(warm->bytes) / (1 << 20),
       warm->seconds);
  if (warm->events != static_cast<uint64_t>(events)) {
    return fail(absl::InternalError(absl::StrCat("the data set holds ", warm->events, " events")));
  }

  CpuWindow scan_cpu;
  absl::StatusOr<Scan> ceiling = RawScan(**db);
  scan_cpu.Stop();
  if (!ceiling.ok()) return fail(ceiling.status());
  Note("ceiling: raw scan %.1f s, %.0f events/s", ceiling->seconds,
       static_cast<double>(ceiling->events) / ceiling->seconds);
  scan_cpu.Report("raw scan");

  absl::StatusOr<pathway::app::RebuildStats> stats;
  CpuWindow rebuild_cpu;
  const absl::Time started = absl::Now();
  {
    es::storage::EventStore store(**db);
    es::storage::ViewStore views(**db);
    stats = pathway::app::RebuildOwnViews(store, views, decider);
    store.Shutdown();
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - started);
  rebuild_cpu.Stop();
  if (!stats.ok()) return fail(stats.status());
  Note("ours: RebuildOwnViews %.1f s: %llu events, %llu streams, %llu rows written", seconds,
       static_cast<unsigned long long>(stats->events),
       static_cast<unsigned long long>(stats->streams),
       static_cast<unsigned long long>(stats->rows));
  rebuild_cpu.Report("rebuild");
  if (stats->events != static_cast<uint64_t>(events) ||
      stats->streams != static_cast<uint64_t>(events / 10)) {
    return fail(absl::InternalError("the rebuild saw another number of events or streams"));
  }
  PrintRate(name, static_cast<double>(stats->events) / seconds,
            static_cast<double>(ceiling->events) / ceiling->seconds, "events/s");
  PrintSeconds(name + "_seconds", seconds, ceiling->seconds);

  // Untimed: leave the cached data set compact for the next run.
  const absl::Time compact_start = absl::Now();
  rocksdb::CompactRangeOptions compact;
  compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
  rocksdb::Status s = (*db)->db()->CompactRange(compact, (*db)->handle(es::storage::Family::kViews),
                                                nullptr, nullptr);
  if (!s.ok()) return fail(es::storage::FromRocks(s, "compact views"));
  Note("views compacted afterwards (untimed) in %.0f s",
       absl::ToDoubleSeconds(absl::Now() - compact_start));
  return 0;
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) { return bench::Run(argc, argv); }
