#include "services/notify/api/notify_grpc_service.h"

#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "libs/eventing/validation.h"
#include "libs/rpc/caller.h"
#include "libs/rpc/grpc_status.h"
#include "libs/storage/rocks_db.h"
#include "services/notify/views/notification_view_rows.h"

namespace notify::api {
namespace {

using es::storage::ViewRow;

// Rows read per scan of a feed: enough to keep a stream busy, small enough that one scan on a
// gRPC thread stays short.
constexpr size_t kRowsPerRead = 64;
constexpr size_t kSequenceBytes = 8;  // feed keys end in the big-endian commit sequence
// Recipient ids may be e-mail addresses (hence no es::IsValidId), but not unbounded.
constexpr size_t kMaxRecipientIdBytes = 320;

grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context, const absl::Status& s) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(es::rpc::ToGrpcStatus(s));
  return reactor;
}

absl::Status CheckIdempotencyKey(const std::string& key) {
  if (key.empty() || key.size() > 128) {
    return es::InvalidField("idempotency_key", "must be 1..128 characters");
  }
  return absl::OkStatus();
}

// ListNotificationsRequest and WatchNotificationsRequest share the `owner` oneof.
template <typename Request>
absl::Status CheckOwner(const Request& r) {
  switch (r.owner_case()) {
    case Request::kRecipientId:
      if (r.recipient_id().empty() || r.recipient_id().size() > kMaxRecipientIdBytes) {
        return es::InvalidField("recipient_id",
                                absl::StrCat("must be 1..", kMaxRecipientIdBytes, " characters"));
      }
      return absl::OkStatus();
    case Request::kUnit:
      if (!es::IsValidId(r.unit())) return es::InvalidField("unit", es::kIdRule);
      return absl::OkStatus();
    case Request::OWNER_NOT_SET:
      break;
  }
  return es::InvalidField("owner", "one of recipient_id and unit is required");
}

uint64_t SequenceOf(const std::string& key) {
  return es::storage::DecodeBigEndian64(std::string_view(key).substr(key.size() - kSequenceBytes));
}

std::string CursorOf(const std::string& key) { return absl::WebSafeBase64Escape(key); }

// The sequence of the feed's last row, 0 when it has none. ViewStore scans only forward, so
// instead of walking a feed that grows for years this bisects on "is there a row after
// <prefix><sequence>": at most about 64 one-row seeks. A row committed meanwhile can only move
// the answer forward, and every row after the answer is streamed, so none is lost.
absl::StatusOr<uint64_t> LastSequence(const es::storage::ViewStore& views,
                                      const std::string& prefix) {
  uint64_t low = 0;                                      // a row at `low` exists, or low is 0
  uint64_t high = std::numeric_limits<uint64_t>::max();  // no row after `high`
  while (low < high) {
    const uint64_t mid = low + (high - low) / 2;
    absl::StatusOr<std::vector<ViewRow>> next =
        views.Scan(prefix, prefix + es::storage::EncodeBigEndian64(mid), 1);
    if (!next.ok()) return next.status();
    if (next->empty()) {
      high = mid;
    } else {
      if (next->front().key.size() != prefix.size() + kSequenceBytes) {
        return absl::DataLossError("notification feed: malformed key");
      }
      low = SequenceOf(next->front().key);
    }
  }
  return low;
}

// The key the stream continues after: the cursor's row, or the feed's start or current end.
absl::StatusOr<std::string> StartAfter(const es::storage::ViewStore& views,
                                       const std::string& prefix,
                                       const v1::WatchNotificationsRequest& r) {
  if (!r.cursor().empty()) {
    std::string key;
    if (!absl::WebSafeBase64Unescape(r.cursor(), &key) ||
        key.size() != prefix.size() + kSequenceBytes ||
        key.compare(0, prefix.size(), prefix) != 0) {
      return es::InvalidField("cursor", "not a cursor of this recipient's or unit's feed");
    }
    return key;
  }
  if (r.from_beginning()) return prefix + es::storage::EncodeBigEndian64(0);
  absl::StatusOr<uint64_t> last = LastSequence(views, prefix);
  if (!last.ok()) return last.status();
  return prefix + es::storage::EncodeBigEndian64(*last);
}

// A watch refused before it started.
class RejectedWatch final : public grpc::ServerWriteReactor<v1::NotificationUpdate> {
 public:
  explicit RejectedWatch(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

// One open WatchNotifications stream.
//
// Exactly one party drives the stream at a time: the handler that starts it, the gRPC thread in
// OnWriteDone, or the notifier's pump in Resume. The driver reads rows, starts one write, or
// parks; `step_` says which. OnCancel and Shutdown never touch gRPC while another party drives:
// they leave `finish_wanted_` for the driver, because Finish must not overlap a write (gRPC's
// writer shares its initial-metadata state between the two operations). gRPC operations are
// started outside `mutex_`: gRPC may run a reaction inline on the calling thread.
//
// The reactor is owned by shared_ptrs: its own `self_` until OnDone, and the notifier's parked
// callback, so a resume that races with the end of the stream finds a live (finished) object.
class NotifyGrpcService::WatchReactor final
    : public grpc::ServerWriteReactor<v1::NotificationUpdate>,
      public std::enable_shared_from_this<WatchReactor> {
 public:
  static std::shared_ptr<WatchReactor> Create(NotifyGrpcService& owner, std::string prefix,
                                              std::string after) {
    return std::shared_ptr<WatchReactor>(
        new WatchReactor(owner, std::move(prefix), std::move(after)));
  }

  // Called once by the handler, after registration. From here on the reactor belongs to gRPC
  // (which will call OnDone); one that is never started is simply released.
  void Start(grpc::CallbackServerContext* context) {
    std::string start_cursor;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      self_ = shared_from_this();
      start_cursor = CursorOf(after_);
    }
    context->AddInitialMetadata(kWatchCursorHeader, start_cursor);
    // Sent now rather than with the first update, so that a client watching "from now" learns
    // its start position (and that the watch is live) before anything changes.
    StartSendInitialMetadata();
    Continue();
  }

  // Ends the stream with `status` as soon as no write is in flight. First request wins.
  void RequestFinish(grpc::Status status) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (step_ == Step::kFinished || finish_wanted_.has_value()) return;
    if (step_ == Step::kParked && owner_.notifier_.Unpark(park_id_)) {
      // Nobody drives a parked stream, and now nobody will resume it: finish here.
      step_ = Step::kFinished;
      lock.unlock();
      Finish(std::move(status));
      return;
    }
    // The driver (or the pump, which has already taken the parked callback) finishes it.
    finish_wanted_ = std::move(status);
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      step_ = Step::kIdle;
      // A failed write means the call is over (cancelled or broken); Finish is still owed.
      if (!ok && !finish_wanted_.has_value()) {
        finish_wanted_ = grpc::Status(grpc::StatusCode::CANCELLED, "stream closed");
      }
    }
    Continue();
  }

  void OnCancel() override { RequestFinish(grpc::Status::CANCELLED); }

  void OnDone() override {
    owner_.Unregister(this);
    std::shared_ptr<WatchReactor> self;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      self = std::move(self_);
    }
    // `self` may hold the last reference: the reactor is destroyed as this returns, and
    // nothing here touches it afterwards.
  }

 private:
  enum class Step { kIdle, kReading, kWriting, kParked, kFinished };

  WatchReactor(NotifyGrpcService& owner, std::string prefix, std::string after)
      : owner_(owner), prefix_(std::move(prefix)), after_(std::move(after)) {}

  void Resume() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (step_ != Step::kParked) return;  // finished meanwhile
      step_ = Step::kIdle;
      park_id_ = FeedNotifier::kNotParked;
    }
    Continue();
  }

  // Run by the driver only: finish, write the next row, read more rows, or park.
  void Continue() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      if (finish_wanted_.has_value()) {
        step_ = Step::kFinished;
        grpc::Status status = std::move(*finish_wanted_);
        finish_wanted_.reset();
        lock.unlock();
        Finish(std::move(status));
        return;
      }
      if (next_ < rows_.size()) {
        const ViewRow& row = rows_[next_++];
        update_.Clear();
        if (row.key.size() != prefix_.size() + kSequenceBytes ||
            !update_.mutable_notification()->ParseFromString(row.value)) {
          finish_wanted_ =
              grpc::Status(grpc::StatusCode::DATA_LOSS, "notification feed: unreadable row");
          continue;
        }
        update_.mutable_notification()->set_feed_sequence(
            static_cast<int64_t>(SequenceOf(row.key)));
        update_.set_cursor(CursorOf(row.key));
        // `update_` stays untouched until OnWriteDone: gRPC reads it while the write is in flight.
        step_ = Step::kWriting;
        lock.unlock();
        StartWrite(&update_);
        return;
      }

      step_ = Step::kReading;
      const std::string after = after_;
      lock.unlock();
      // The epoch is read before the scan: a commit the scan misses pokes after this read, so
      // parking with this epoch resumes at once instead of sleeping through the commit.
      const uint64_t epoch = owner_.notifier_.Epoch();
      absl::StatusOr<std::vector<ViewRow>> rows = owner_.views_.Scan(prefix_, after, kRowsPerRead);
      lock.lock();
      if (finish_wanted_.has_value()) continue;
      if (!rows.ok()) {
        finish_wanted_ = es::rpc::ToGrpcStatus(rows.status());
        continue;
      }
      if (rows->empty()) {
        // Held under mutex_ so that the pump's Resume (which takes it) sees step_ == kParked.
        park_id_ = owner_.notifier_.Park(epoch, [self = shared_from_this()] { self->Resume(); });
        if (park_id_ == FeedNotifier::kNotParked) {
          finish_wanted_ = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                        "server shutting down; reconnect with the last cursor");
          continue;
        }
        step_ = Step::kParked;
        return;
      }
      after_ = rows->back().key;
      rows_ = std::move(*rows);
      next_ = 0;
    }
  }

  NotifyGrpcService& owner_;
  const std::string prefix_;

  std::mutex mutex_;
  std::shared_ptr<WatchReactor> self_;                       // guarded by mutex_; reset by OnDone
  Step step_ = Step::kIdle;                                  // guarded by mutex_
  std::optional<grpc::Status> finish_wanted_;                // guarded by mutex_
  FeedNotifier::ParkId park_id_ = FeedNotifier::kNotParked;  // guarded by mutex_
  std::string after_;                                        // last key read; guarded by mutex_
  std::vector<ViewRow> rows_;      // read, not yet written; guarded by mutex_
  size_t next_ = 0;                // guarded by mutex_
  v1::NotificationUpdate update_;  // the write in flight; owned by the driver
};

NotifyGrpcService::NotifyGrpcService(app::NotifyService& service, es::storage::ViewStore& views,
                                     FeedNotifier& notifier)
    : service_(service), views_(views), notifier_(notifier) {}

NotifyGrpcService::~NotifyGrpcService() { Shutdown(); }

grpc::ServerUnaryReactor* NotifyGrpcService::ListNotifications(
    grpc::CallbackServerContext* context, const v1::ListNotificationsRequest* r,
    v1::ListNotificationsResponse* response) {
  if (absl::Status owner = CheckOwner(*r); !owner.ok()) return Finish(context, owner);
  absl::StatusOr<app::NotificationPage> page =
      service_.List(r->recipient_id(), r->unit(), r->status(), r->page_size(), r->page_token());
  if (page.ok()) {
    // Recipients may be patients or relatives: the audit line names the unit, never them.
    es::rpc::AuditRead(
        audit_, *context, "ListNotifications",
        {{"owner", r->owner_case() == v1::ListNotificationsRequest::kUnit ? "unit" : "recipient"},
         {"unit", r->unit()},
         {"count", std::to_string(page->notifications.size())}});
    for (v1::Notification& n : page->notifications) *response->add_notifications() = std::move(n);
    response->set_next_page_token(page->next_page_token);
  }
  return Finish(context, page.status());
}

grpc::ServerUnaryReactor* NotifyGrpcService::Acknowledge(grpc::CallbackServerContext* context,
                                                         const v1::AcknowledgeRequest* r,
                                                         v1::AcknowledgeResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  es::app::CommandContext command_context =
      es::rpc::CommandContextFrom(*context, *r, r->idempotency_key());
  domain::Acknowledge command{r->notification_id(), command_context.actor.subject(),
                              service_.clock().Now()};
  // Finished from the event store's callback, never by waiting here.
  service_.Execute(std::move(command), std::move(command_context),
                   [reactor, response](absl::StatusOr<es::app::CommandResult> result) {
                     if (!result.ok()) {
                       reactor->Finish(es::rpc::ToGrpcStatus(result.status()));
                       return;
                     }
                     response->set_version(result->version);
                     response->set_replayed(result->replayed);
                     reactor->Finish(grpc::Status::OK);
                   });
  return reactor;
}

grpc::ServerUnaryReactor* NotifyGrpcService::SetContactPreference(
    grpc::CallbackServerContext* context, const v1::SetContactPreferenceRequest* r,
    v1::SetContactPreferenceResponse* response) {
  if (absl::Status key = CheckIdempotencyKey(r->idempotency_key()); !key.ok()) {
    return Finish(context, key);
  }
  if (!r->has_patient()) return Finish(context, es::InvalidField("patient", "is required"));
  // An absent preference would silently mean "no consent": a withdrawal must be explicit.
  if (!r->has_preference()) return Finish(context, es::InvalidField("preference", "is required"));
  // One synced RocksDB put, as short as the reads other handlers do inline.
  absl::Status set = service_.SetContactPreference(r->patient(), r->preference());
  if (set.ok()) {
    const eventing::v1::Actor actor = es::rpc::ActorFrom(*context);
    // Consent has legal weight: who changed it goes to the audit log (never the patient).
    audit_.Info("contact preference changed",
                {{"actor", actor.subject()},
                 {"role", actor.role()},
                 {"unit", actor.organisation()},
                 {"consent", r->preference().consent() ? "yes" : "no"}});
    response->set_version(0);
    response->set_replayed(false);
  }
  return Finish(context, set);
}

grpc::ServerWriteReactor<v1::NotificationUpdate>* NotifyGrpcService::WatchNotifications(
    grpc::CallbackServerContext* context, const v1::WatchNotificationsRequest* r) {
  if (absl::Status owner = CheckOwner(*r); !owner.ok()) {
    return new RejectedWatch(es::rpc::ToGrpcStatus(owner));
  }
  std::string prefix = r->owner_case() == v1::WatchNotificationsRequest::kUnit
                           ? views::UnitFeedPrefix(r->unit())
                           : views::RecipientFeedPrefix(r->recipient_id());
  absl::StatusOr<std::string> after = StartAfter(views_, prefix, *r);
  if (!after.ok()) return new RejectedWatch(es::rpc::ToGrpcStatus(after.status()));

  std::shared_ptr<WatchReactor> watch =
      WatchReactor::Create(*this, std::move(prefix), std::move(*after));
  if (!Register(watch)) {
    return new RejectedWatch(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down"));
  }
  es::rpc::AuditRead(
      audit_, *context, "WatchNotifications",
      {{"owner", r->owner_case() == v1::WatchNotificationsRequest::kUnit ? "unit" : "recipient"},
       {"unit", r->unit()},
       {"resumed", r->cursor().empty() ? "no" : "yes"}});
  watch->Start(context);
  return watch.get();
}

bool NotifyGrpcService::Register(const std::shared_ptr<WatchReactor>& watch) {
  std::lock_guard<std::mutex> lock(watches_mutex_);
  if (shutting_down_) return false;
  watches_.emplace(watch.get(), watch);
  return true;
}

void NotifyGrpcService::Unregister(WatchReactor* watch) {
  std::lock_guard<std::mutex> lock(watches_mutex_);
  watches_.erase(watch);
}

void NotifyGrpcService::Shutdown() {
  std::vector<std::shared_ptr<WatchReactor>> open;
  {
    std::lock_guard<std::mutex> lock(watches_mutex_);
    shutting_down_ = true;
    for (const auto& [raw, weak] : watches_) {
      if (std::shared_ptr<WatchReactor> watch = weak.lock()) open.push_back(std::move(watch));
    }
  }
  // Outside the lock: Finish may run a stream's OnDone inline, which unregisters it.
  for (const std::shared_ptr<WatchReactor>& watch : open) {
    watch->RequestFinish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                      "server shutting down; reconnect with the last cursor"));
  }
}

size_t NotifyGrpcService::open_watches() const {
  std::lock_guard<std::mutex> lock(watches_mutex_);
  return watches_.size();
}

}  // namespace notify::api
