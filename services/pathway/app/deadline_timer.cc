#include "services/pathway/app/deadline_timer.h"

#include <future>

#include "absl/strings/str_cat.h"
#include "services/pathway/views/pathway_view_rows.h"

namespace pathway::app {

DeadlineTimer::DeadlineTimer(PathwayService& service, es::storage::ViewStore& views,
                             absl::Duration interval)
    : service_(service), views_(views), interval_(interval) {}

DeadlineTimer::~DeadlineTimer() { Stop(); }

absl::StatusOr<int> DeadlineTimer::RunOnce(absl::CivilDay today) {
  constexpr size_t kPage = 500;
  const std::string prefix = views::TimerPrefix();
  const std::string end = prefix + views::DateKey(today);  // due before today
  std::string from = prefix;
  int recorded = 0;
  while (true) {
    absl::StatusOr<std::vector<es::storage::ViewRow>> rows = views_.Range(from, end, kPage);
    if (!rows.ok()) return rows.status();
    if (rows->empty()) break;
    // Issue the page's breaches together (they share group commits), then wait for all.
    std::vector<std::future<absl::StatusOr<es::app::CommandResult>>> results;
    for (const es::storage::ViewRow& row : *rows) {
      v1::DeadlineEntry entry;
      if (!entry.ParseFromString(row.value)) return absl::DataLossError("timer row: unreadable");
      es::app::CommandContext context;
      context.actor.set_subject("deadline-timer");
      context.actor.set_role("system");
      context.idempotency_key = absl::StrCat("breach:", entry.deadline_id());
      context.fingerprint = context.idempotency_key;
      auto promise = std::make_shared<std::promise<absl::StatusOr<es::app::CommandResult>>>();
      results.push_back(promise->get_future());
      service_.Execute(domain::RecordBreach{entry.pathway_id(), entry.deadline_id(), today},
                       std::move(context), [promise](absl::StatusOr<es::app::CommandResult> r) {
                         promise->set_value(std::move(r));
                       });
    }
    for (auto& future : results) {
      absl::StatusOr<es::app::CommandResult> result = future.get();
      if (result.ok()) {
        if (!result->replayed) ++recorded;
      } else if (result.status().code() == absl::StatusCode::kUnavailable) {
        return result.status();  // storage trouble: the next run tries again
      } else if (result.status().code() != absl::StatusCode::kFailedPrecondition) {
        // The deadline changed under us (met, corrected): nothing to record.
        log_.Warning("breach not recorded", {{"reason", std::string(result.status().message())}});
      }
    }
    if (rows->size() < kPage) break;
    from = rows->back().key + '\0';
  }
  return recorded;
}

void DeadlineTimer::Start() {
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      absl::StatusOr<int> recorded = RunOnce(service_.Today());
      if (!recorded.ok()) {
        log_.Warning("timer run failed", {{"reason", std::string(recorded.status().message())}});
      } else if (*recorded > 0) {
        log_.Info("breaches recorded", {{"count", std::to_string(*recorded)}});
      }
      lock.lock();
      wake_.wait_for(lock, absl::ToChronoMilliseconds(interval_), [this] { return stopping_; });
    }
  });
}

void DeadlineTimer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace pathway::app
