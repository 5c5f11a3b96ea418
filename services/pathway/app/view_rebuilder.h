#pragma once

// Rebuilds the pathway service's own views (worklists, timer, breaches, patient and active
// indexes) from its event store: drops them, folds every stream's events with the production
// Evolve, and writes the rows RowsOf gives. Because the rows are a pure function of the
// events, the result is byte-identical to the views written command by command.
// Run with the service stopped (no concurrent commands).

#include <cstdint>

#include "absl/status/statusor.h"
#include "libs/storage/event_store.h"
#include "libs/storage/view_store.h"
#include "services/pathway/domain/pathway_decider.h"

namespace pathway::app {

struct RebuildStats {
  uint64_t events = 0;
  uint64_t streams = 0;
  uint64_t rows = 0;
};

absl::StatusOr<RebuildStats> RebuildOwnViews(es::storage::EventStore& store,
                                             es::storage::ViewStore& views,
                                             const domain::PathwayDecider& decider);

// The key prefixes of the pathway service's own views.
std::vector<std::string> OwnViewPrefixes();

}  // namespace pathway::app
