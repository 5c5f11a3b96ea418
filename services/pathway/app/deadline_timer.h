#pragma once

// The deadline timer: finds open deadlines whose due date has passed (a range scan of the timer
// index up to today, never a scan of all pathways) and records one DeadlineBreached for each.
// Exactly once: the breach's event id and idempotency key follow from the deadline id, the
// decider refuses a second breach, and a recorded breach leaves the timer index.
// Thread-safe; one background thread when started.

#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/runtime/log.h"
#include "libs/storage/view_store.h"
#include "services/pathway/app/pathway_service.h"

namespace pathway::app {

class DeadlineTimer {
 public:
  DeadlineTimer(PathwayService& service, es::storage::ViewStore& views, absl::Duration interval);
  ~DeadlineTimer();

  // Records a breach for every open deadline due before `today`. Returns how many it recorded
  // (a breach already recorded by an earlier run is not counted).
  absl::StatusOr<int> RunOnce(absl::CivilDay today);

  void Start();  // RunOnce(service.Today()) now and every interval
  void Stop();

 private:
  PathwayService& service_;
  es::storage::ViewStore& views_;
  const absl::Duration interval_;
  es::runtime::Logger log_{"pathway.timer"};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace pathway::app
