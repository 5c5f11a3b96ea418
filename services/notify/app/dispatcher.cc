#include "services/notify/app/dispatcher.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/eventing/proto_time.h"
#include "libs/eventing/status_macros.h"
#include "services/notify/views/notification_view_rows.h"

namespace notify::app {

absl::Duration RetryDelay(const DispatcherOptions& options, int attempt) {
  const double factor = std::pow(options.backoff_multiplier, std::max(0, attempt - 1));
  // A huge exponent overflows to infinity; absl would saturate anyway, but be explicit.
  if (!std::isfinite(factor)) return options.max_backoff;
  return std::min(options.max_backoff, options.first_backoff * factor);
}

Dispatcher::Dispatcher(NotifyService& service,
                       std::map<v1::Channel, channels::NotificationChannel*> channels,
                       DispatcherOptions options)
    : service_(service), channels_(std::move(channels)), options_(options) {}

Dispatcher::~Dispatcher() { Stop(); }

absl::StatusOr<int> Dispatcher::RunOnce(absl::Time now) {
  // Small pages: every row costs a send (up to a webhook timeout), so there is nothing to gain
  // from reading far ahead, and rows read long before their turn may be stale.
  constexpr size_t kPage = 100;
  // DispatchKeyBefore(t) sorts below every row due at t, so one microsecond later takes in
  // the rows due exactly now.
  const std::string end = views::DispatchKeyBefore(now + absl::Microseconds(1));
  std::string from = views::DispatchPrefix();
  // A notification that failed with a backoff that still lands before `end` (zero backoff) is
  // found again further on; it waits for the next run rather than being hammered in this one.
  std::set<std::string> seen;
  int sent = 0;
  while (true) {
    absl::StatusOr<std::vector<es::storage::ViewRow>> rows =
        service_.views().Range(from, end, kPage);
    if (!rows.ok()) return rows.status();
    for (const es::storage::ViewRow& row : *rows) {
      if (!seen.insert(row.value).second) continue;
      ES_ASSIGN_OR_RETURN(Outcome outcome, Dispatch(row.value, now));
      if (outcome == Outcome::kSent) ++sent;
    }
    if (rows->size() < kPage) break;
    from = rows->back().key + '\0';
  }
  return sent;
}

absl::StatusOr<Dispatcher::Outcome> Dispatcher::Dispatch(const std::string& notification_id,
                                                         absl::Time now) {
  absl::StatusOr<v1::Notification> loaded = service_.Get(notification_id);
  if (!loaded.ok()) {
    if (loaded.status().code() != absl::StatusCode::kNotFound &&
        loaded.status().code() != absl::StatusCode::kInvalidArgument) {
      return loaded.status();
    }
    // The row and the notification are written in one batch, so this is a bug or a damaged
    // view; sending nothing is the safe side, and a view rebuild repairs the queue.
    log_.Error("queue row names no notification", {{"notification_id", notification_id}});
    return Outcome::kSkipped;
  }
  v1::Notification n = std::move(*loaded);
  // A command may have moved, cancelled or sent it since the scan read the row.
  if (n.status() != v1::SCHEDULED || es::FromProtoTimestamp(n.due_at()) > now) {
    return Outcome::kSkipped;
  }
  const int attempt = n.attempts() + 1;
  // The recipient's copy says when it went out; MarkSent records the same instant.
  *n.mutable_sent_at() = es::ToProtoTimestamp(now);

  absl::Status delivery;
  auto channel = channels_.find(n.channel());
  if (channel == channels_.end() || channel->second == nullptr) {
    // Configuration, not a passing fault: retrying would only delay the dead letter an
    // operator needs to see.
    delivery = absl::FailedPreconditionError("no channel configured");
  } else {
    delivery = channel->second->Send(n);
  }

  const std::vector<es::runtime::LogField> fields = {{"notification_id", notification_id},
                                                     {"kind", v1::NotificationKind_Name(n.kind())},
                                                     {"channel", v1::Channel_Name(n.channel())},
                                                     {"attempt", std::to_string(attempt)}};
  if (delivery.ok()) {
    ES_RETURN_IF_ERROR(Record(domain::MarkSent{notification_id, attempt, now},
                              absl::StrCat("send:", notification_id, ":", attempt)));
    log_.At(es::runtime::LogLevel::kInfo, "notification sent", fields);
    return Outcome::kSent;
  }

  const std::string reason(delivery.message());
  std::optional<absl::Time> next_attempt_at;
  if (delivery.code() != absl::StatusCode::kFailedPrecondition && attempt < options_.max_attempts) {
    next_attempt_at = now + RetryDelay(options_, attempt);
  }
  ES_RETURN_IF_ERROR(Record(domain::MarkFailed{notification_id, attempt, reason, next_attempt_at},
                            absl::StrCat("fail:", notification_id, ":", attempt)));
  std::vector<es::runtime::LogField> failed = fields;
  failed.emplace_back("reason", reason);
  if (next_attempt_at.has_value()) {
    failed.emplace_back("next_attempt_at", absl::FormatTime(absl::RFC3339_full, *next_attempt_at,
                                                            absl::UTCTimeZone()));
    log_.At(es::runtime::LogLevel::kWarning, "notification not delivered; will retry", failed);
    return Outcome::kRetrying;
  }
  log_.At(es::runtime::LogLevel::kError, "notification dead-lettered", failed);
  return Outcome::kDeadLettered;
}

absl::Status Dispatcher::Record(domain::NotificationCommand command, const std::string& key) {
  es::app::CommandContext context;
  context.actor.set_subject("notify-dispatcher");
  context.actor.set_role("system");
  context.idempotency_key = key;
  // The key names the notification and the attempt, which is all the command is about.
  context.fingerprint = key;
  absl::StatusOr<es::app::CommandResult> result =
      service_.ExecuteAndWait(std::move(command), std::move(context));
  if (result.ok()) return absl::OkStatus();
  if (result.status().code() == absl::StatusCode::kFailedPrecondition) {
    // The notification moved on while it was being sent (cancelled, or another dispatcher
    // recorded this attempt). Its state is already right; the send itself cannot be undone.
    log_.Warning("outcome not recorded",
                 {{"idempotency_key", key}, {"reason", std::string(result.status().message())}});
    return absl::OkStatus();
  }
  return result.status();
}

void Dispatcher::Start() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (started_) return;
  started_ = true;
  stopping_ = false;
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      absl::StatusOr<int> sent = RunOnce(service_.clock().Now());
      if (!sent.ok()) {
        // Storage trouble; the queue is intact, so the next run picks up where this one stopped.
        log_.Warning("dispatch run failed", {{"reason", std::string(sent.status().message())}});
      }
      lock.lock();
      wake_.wait_for(lock, absl::ToChronoMilliseconds(options_.poll_interval),
                     [this] { return stopping_; });
    }
  });
}

void Dispatcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  started_ = false;
}

}  // namespace notify::app
