#pragma once

// Pathway data sets for the benchmarks, loaded straight into a pathway service's data
// directory through the service's own command path (PathwayService::Execute: idempotency
// check, head load, PathwayDecider::Decide, metadata, Evolve, views::RowsForChange, one
// EventStore append per command), with the WAL unsynced for the load and thousands of
// commands in flight. Loading 1 M pathways through gRPC would take far longer and measure
// nothing we want here.
//
// Every date is relative to a fixed anchor day (AnchorDay()); the servers the benchmarks start
// run on a clock fixed at that day, so open deadlines stay open (the deadline timer finds
// nothing due) whenever the cached data is used. After the load the outbox is emptied (as if
// the relay had delivered everything, the steady state of a running service) and every column
// family is compacted.
//
// Loaded data sets are cached under DataRoot()/pathways-<story>-<count>/ (a COMPLETE marker
// names the format); a rerun with the same story and count reuses them.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "pathway/v1/service.pb.h"

namespace bench {

inline constexpr char kPseudonymSecret[] = "bench-pseudonym-secret-not-for-production";
inline constexpr char kPathwayTopic[] = "pathways.pathway.events.v1";
inline constexpr char kReferralTopic[] = "pathways.referral.events.v1";
inline constexpr char kDeadLetterTopic[] = "pathways.deadletter.v1";
inline constexpr int kUnits = 50;  // "unit-00" .. "unit-49"

enum class Story {
  // StartPathway (NO_TSB, legal deadline) + RecordPoint(forste_fremmote): an active pathway
  // with one open deadline (first attendance -> clinical decision), due within 21 days of the
  // anchor. 2 events per pathway.
  kOpenDeadline,
  // A longer life: start, first attendance, appointment scheduled and attended, clinical
  // decision (CT), collaboration meeting scheduled and held, evaluation, appointment, second
  // evaluation. 10 events per pathway; still active, the next evaluation open.
  kLongPathway,
};

int EventsPerPathway(Story story);
const char* StoryName(Story story);

absl::CivilDay AnchorDay();  // 2026-11-02
absl::Time AnchorNoon();     // 12:00 Europe/Oslo on the anchor day: the servers' fixed clock
std::string UnitName(int index);
std::string CatalogueDir();  // <source>/catalogue
// $BENCH_DATA_DIR, else <build dir>/data.
std::string DataRoot();

struct Dataset {
  std::string db_dir;  // the pathway service's data directory (RocksDB)
  int64_t pathways = 0;
  int64_t events = 0;
};

// The cached data set, loaded first if missing or incomplete.
absl::StatusOr<Dataset> EnsureDataset(Story story, int64_t pathways);

// A worklist page of `entries` open deadlines built the same way in memory (Decide, Evolve,
// RowsOf), for the bare gRPC ceiling: same message, same size as the service's answers.
absl::StatusOr<pathway::v1::WorklistResponse> SampleWorklistPage(int entries);

}  // namespace bench
