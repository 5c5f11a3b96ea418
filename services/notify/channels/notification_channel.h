#pragma once

// A way to deliver a notification to its recipient (a file for the local run, a hospital's
// messaging gateway over HTTP). The dispatcher owns retries and the record of what happened;
// a channel only tries once and says how it went.
//
// Thread-safety: the dispatcher calls Send from its one thread only, so implementations need
// not be thread-safe (a webhook keeps one curl handle, a file channel one writer).

#include "absl/status/status.h"
#include "notify/v1/state.pb.h"

namespace notify::channels {

class NotificationChannel {
 public:
  virtual ~NotificationChannel() = default;

  // Delivers `n` once. OK: delivered. kFailedPrecondition: the recipient's side refused it and
  // a retry cannot help (the dispatcher dead-letters it at once). Any other code: not
  // delivered this time (the dispatcher retries with backoff). The message lands in the
  // notification's last_error, so it must not carry personal data.
  virtual absl::Status Send(const v1::Notification& n) = 0;
};

}  // namespace notify::channels
