#include "services/pathway/app/view_rebuilder.h"

#include "services/pathway/views/pathway_view_rows.h"

namespace pathway::app {

std::vector<std::string> OwnViewPrefixes() { return {"wu/", "wc/", "td/", "bu/", "pp/", "ap/"}; }

absl::StatusOr<RebuildStats> RebuildOwnViews(es::storage::EventStore& store,
                                             es::storage::ViewStore& views,
                                             const domain::PathwayDecider& decider) {
  constexpr size_t kScanPage = 10000;
  constexpr size_t kWriteBatch = 20000;
  if (absl::Status s = views.DeletePrefixes(OwnViewPrefixes()); !s.ok()) return s;

  RebuildStats stats;
  std::vector<es::storage::ViewWrite> pending;
  std::string current_stream;
  v1::Pathway state = decider.Initial();
  auto flush_stream = [&]() -> absl::Status {
    if (current_stream.empty()) return absl::OkStatus();
    ++stats.streams;
    for (auto& [key, value] : views::RowsOf(state)) pending.push_back({key, std::move(value)});
    if (pending.size() >= kWriteBatch) {
      stats.rows += pending.size();
      absl::Status s = views.Apply(pending);
      pending.clear();
      return s;
    }
    return absl::OkStatus();
  };

  std::string after;
  while (true) {
    absl::StatusOr<std::vector<eventing::v1::StoredEvent>> page =
        store.ScanEvents(after, kScanPage);
    if (!page.ok()) return page.status();
    if (page->empty()) break;
    for (const eventing::v1::StoredEvent& stored : *page) {
      if (stored.stream_id() != current_stream) {
        if (absl::Status s = flush_stream(); !s.ok()) return s;
        current_stream = stored.stream_id();
        state = decider.Initial();
      }
      v1::PathwayEvent event;
      if (!event.ParseFromString(stored.payload())) {
        return absl::DataLossError("stored pathway event: cannot be decoded");
      }
      state = decider.Evolve(std::move(state), event);
      ++stats.events;
    }
    after =
        es::storage::EventStore::EventKey(page->back().stream_id(), page->back().stream_version());
    if (page->size() < kScanPage) break;
  }
  if (absl::Status s = flush_stream(); !s.ok()) return s;
  stats.rows += pending.size();
  if (!pending.empty()) {
    if (absl::Status s = views.Apply(pending); !s.ok()) return s;
  }
  return stats;
}

}  // namespace pathway::app
