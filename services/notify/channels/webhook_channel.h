#pragma once

// Delivers notifications by HTTP POST of their JSON (NotificationJson) to a configured URL, such
// as a hospital's messaging gateway, with libcurl.
//
// Every request carries `Idempotency-Key: <notification_id>`: the dispatcher delivers at least
// once (a crash between a successful POST and recording it means the POST is repeated), and
// the key lets the gateway drop the repeat.
//
// Outcome of Send:
//   2xx                                       OK (delivered)
//   4xx except 408 and 429                    kFailedPrecondition (refused; retrying cannot help)
//   5xx, 408, 429, other codes, timeouts,
//   connection and TLS errors                 kUnavailable (retry later)
// Redirects are not followed: a gateway that moved is a configuration matter, and following
// one would forward the Authorization header to wherever it points.
//
// Not thread-safe: one curl handle, reused so that consecutive sends share a kept-alive
// connection (dispatcher thread only).

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/notify/channels/notification_channel.h"

namespace notify::channels {

struct WebhookChannelOptions {
  std::string url;                            // http:// or https://
  absl::Duration timeout = absl::Seconds(5);  // whole request, connect included
  absl::Duration connect_timeout = absl::Seconds(2);
  // Extra request headers, each "Name: value" (e.g. "Authorization: Bearer ..."). Secrets here
  // are never logged nor put in error messages.
  std::vector<std::string> headers;
};

class WebhookChannel final : public NotificationChannel {
 public:
  // kInvalidArgument for a URL that is not http(s), a non-positive timeout, or a header that is
  // not "Name: value" on one line; kInternal when libcurl cannot be initialised.
  static absl::StatusOr<std::unique_ptr<WebhookChannel>> Create(WebhookChannelOptions options);
  ~WebhookChannel() override;
  WebhookChannel(const WebhookChannel&) = delete;
  WebhookChannel& operator=(const WebhookChannel&) = delete;

  absl::Status Send(const v1::Notification& n) override;

 private:
  WebhookChannel(WebhookChannelOptions options, void* curl)
      : options_(std::move(options)), curl_(curl) {}

  const WebhookChannelOptions options_;
  void* curl_;  // CURL*; kept opaque so that includers need no curl headers
};

}  // namespace notify::channels
