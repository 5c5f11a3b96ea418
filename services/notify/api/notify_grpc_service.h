#pragma once

// gRPC adapter of the notify service (callback API): lists and acknowledges notifications,
// records contact preferences, and streams a recipient's or a unit's notification changes.
//
// WatchNotifications tails the feed rows the notification commands write
// (views::RecipientFeedPrefix / views::UnitFeedPrefix; keys end in the 8-byte big-endian commit
// sequence, so key order is commit order). It sends every row after the start position, then
// stays open and sends rows as they are committed. Each update's cursor is the web-safe base64
// of its row key; a client that reconnects with the last cursor it received gets exactly the
// rows after it. The start position is also sent at once as initial metadata "x-watch-cursor",
// so a client that has received no update yet can still resume without a gap.
// Start: the cursor's row; with no cursor, the current end of the feed, or its beginning when
// from_beginning. A cursor of another feed (or not a cursor at all) is INVALID_ARGUMENT.
//
// Handlers never wait. Per stream at most one write is in flight (OnWriteDone continues); a
// caught-up stream parks in the FeedNotifier and its pump thread resumes it when a commit pokes
// the notifier. Feed reads are short RocksDB scans, on whichever thread continues the stream.
//
// Wiring (the server owns all of these; declaration order = construction order):
//   FeedNotifier notifier;
//   store.SetFeedListener([&notifier] { notifier.Poke(); });
//   NotifyGrpcService api(service, views, notifier);
//   auto server = es::rpc::GrpcServer::Start(address, {{&api, "notify.v1.NotifyService"}});
// Stopping, in this order:
//   api.Shutdown();           // ends every open watch with UNAVAILABLE; refuses new ones
//   server->Shutdown(grace);  // now only unary calls can be in flight
//   notifier.Stop();          // and the store's listener cleared / store shut down before the
//                             // notifier is destroyed
// `service`, `views` and `notifier` must outlive this object; this object must outlive the gRPC
// server (streams call back into it until their OnDone).
//
// Thread-safe.

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "libs/runtime/log.h"
#include "libs/storage/view_store.h"
#include "notify/v1/service.grpc.pb.h"
#include "services/notify/api/feed_notifier.h"
#include "services/notify/app/notify_service.h"

namespace notify::api {

// Initial-metadata key carrying a watch's start position, in the form of an update's cursor.
inline constexpr char kWatchCursorHeader[] = "x-watch-cursor";

class NotifyGrpcService final : public v1::NotifyService::CallbackService {
 public:
  NotifyGrpcService(app::NotifyService& service, es::storage::ViewStore& views,
                    FeedNotifier& notifier);
  ~NotifyGrpcService() override;  // Shutdown()
  NotifyGrpcService(const NotifyGrpcService&) = delete;
  NotifyGrpcService& operator=(const NotifyGrpcService&) = delete;

  // INVALID_ARGUMENT naming the field (owner, recipient_id, unit, status, page_size, page_token).
  grpc::ServerUnaryReactor* ListNotifications(grpc::CallbackServerContext* context,
                                              const v1::ListNotificationsRequest* request,
                                              v1::ListNotificationsResponse* response) override;
  // Acknowledged by the caller (x-actor-id) at the service clock's now. FAILED_PRECONDITION
  // when not sent yet, already acknowledged, failed or cancelled; NOT_FOUND; INVALID_ARGUMENT
  // (idempotency_key, notification_id). A retry with the same key answers replayed = true.
  grpc::ServerUnaryReactor* Acknowledge(grpc::CallbackServerContext* context,
                                        const v1::AcknowledgeRequest* request,
                                        v1::AcknowledgeResponse* response) override;
  grpc::ServerWriteReactor<v1::NotificationUpdate>* WatchNotifications(
      grpc::CallbackServerContext* context, const v1::WatchNotificationsRequest* request) override;
  // A last-writer-wins upsert: preferences carry no version (version = 0, replayed = false),
  // and applying one twice leaves the same state. INVALID_ARGUMENT naming the field
  // (idempotency_key, patient, patient.system, patient.value, preference, preference.address,
  // preference.language, preference.relatives[i].contact_id, ...).
  grpc::ServerUnaryReactor* SetContactPreference(
      grpc::CallbackServerContext* context, const v1::SetContactPreferenceRequest* request,
      v1::SetContactPreferenceResponse* response) override;

  // Ends every open watch with UNAVAILABLE (clients reconnect with their last cursor) and
  // refuses new ones, so that the gRPC server's Shutdown does not wait out its grace period.
  // Does not wait: a stream whose write is stuck on a client that stopped reading ends when
  // the server's Shutdown deadline cancels it. Idempotent.
  void Shutdown();

  // Watches not yet done (for tests and metrics).
  size_t open_watches() const;

 private:
  class WatchReactor;

  bool Register(const std::shared_ptr<WatchReactor>& watch);
  void Unregister(WatchReactor* watch);

  app::NotifyService& service_;
  es::storage::ViewStore& views_;
  FeedNotifier& notifier_;
  es::runtime::Logger audit_{"notify.audit"};

  mutable std::mutex watches_mutex_;
  bool shutting_down_ = false;  // guarded by watches_mutex_
  // Weak: a watch keeps itself alive until its OnDone, which unregisters it.
  std::unordered_map<WatchReactor*, std::weak_ptr<WatchReactor>> watches_;  // guarded
};

}  // namespace notify::api
