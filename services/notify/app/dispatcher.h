#pragma once

// The dispatcher: sends notifications when they fall due and records how it went.
//
// Each run scans the dispatch queue (view rows under views::DispatchPrefix(), due before now,
// in due order; a range scan, never a scan of all notifications), loads each notification,
// hands it to the channel named by its `channel` field and records the outcome:
//   delivered                     MarkSent{attempt, now}
//   not delivered, tries left     MarkFailed{attempt, reason, next_attempt_at = now + RetryDelay}
//   not delivered, last try, or
//   refused (kFailedPrecondition),
//   or no channel configured      MarkFailed{attempt, reason} without a next attempt (dead letter)
// where attempt = attempts so far + 1. The record moves the queue row in the same batch as the
// event (to the next due time, or out of the queue), so everything the dispatcher needs to
// resume survives a restart: it keeps no state of its own.
//
// Delivery is at least once, not exactly once: a crash after a channel delivered but before
// MarkSent was stored sends the notification again on restart (with the same attempt number),
// and no local trick can close that window, because the send and the record are in two
// systems. The webhook's Idempotency-Key header (the notification id) lets a gateway drop the
// repeat. Recording itself is idempotent: the keys "send:<id>:<attempt>" and
// "fail:<id>:<attempt>" make a repeated record harmless, and the decider refuses an attempt
// number that is not the next one, so two dispatchers racing on one notification cannot both
// record the same attempt.
//
// Start and Stop come from one controlling thread. RunOnce must not run concurrently with itself
// or with a started dispatcher: channels are used from one thread at a time.

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/runtime/log.h"
#include "notify/v1/events.pb.h"
#include "services/notify/app/notify_service.h"
#include "services/notify/channels/notification_channel.h"

namespace notify::app {

struct DispatcherOptions {
  int max_attempts = 5;  // sends before a notification is dead-lettered
  absl::Duration first_backoff = absl::Seconds(30);
  double backoff_multiplier = 2.0;
  absl::Duration max_backoff = absl::Hours(1);
  absl::Duration poll_interval = absl::Seconds(1);  // of the thread Start runs
};

// How long after failed attempt number `attempt` (1-based) the next one is due:
// min(max_backoff, first_backoff * backoff_multiplier^(attempt - 1)).
absl::Duration RetryDelay(const DispatcherOptions& options, int attempt);

class Dispatcher {
 public:
  // `channels` are not owned and must outlive the dispatcher; a notification whose channel has
  // no entry (or a null one) is dead-lettered with reason "no channel configured".
  Dispatcher(NotifyService& service, std::map<v1::Channel, channels::NotificationChannel*> channels,
             DispatcherOptions options);
  ~Dispatcher();  // Stop()
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Sends every scheduled notification due at or before `now` once, in due order. Returns how
  // many were delivered. A storage error while recording stops the run with that error (what
  // was not recorded is tried again by the next run); a channel's failure never does.
  absl::StatusOr<int> RunOnce(absl::Time now);

  // Runs RunOnce(service.clock().Now()) now and then every poll_interval on its own thread,
  // until Stop. Calling Start on a started dispatcher does nothing.
  void Start();
  // Waits for a run in progress to finish (a webhook send is bounded by its timeout).
  void Stop();

 private:
  // What happened to one notification in a run.
  enum class Outcome { kSent, kRetrying, kDeadLettered, kSkipped };
  absl::StatusOr<Outcome> Dispatch(const std::string& notification_id, absl::Time now);
  absl::Status Record(domain::NotificationCommand command, const std::string& key);

  NotifyService& service_;
  const std::map<v1::Channel, channels::NotificationChannel*> channels_;
  const DispatcherOptions options_;
  es::runtime::Logger log_{"notify.dispatcher"};

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  bool started_ = false;   // guarded by mutex_
  std::thread thread_;
};

}  // namespace notify::app
