#pragma once

// The pure core of one notification's life: scheduled -> sent (-> acknowledged), or failed and
// retried until sent or dead-lettered, or cancelled before it went out. Immutable; thread-safe.

#include <vector>

#include "absl/status/statusor.h"
#include "notify/v1/events.pb.h"
#include "notify/v1/state.pb.h"
#include "services/notify/domain/commands.h"

namespace notify::domain {

class NotificationDecider {
 public:
  using State = v1::Notification;
  using Command = NotificationCommand;
  using Event = v1::NotificationEvent;

  State Initial() const { return State(); }
  State Evolve(State state, const Event& event) const;
  // kAlreadyExists (scheduled twice), kNotFound, kFailedPrecondition (not allowed in the
  // notification's status), kInvalidArgument.
  absl::StatusOr<std::vector<Event>> Decide(const Command& command, const State& state) const;
};

}  // namespace notify::domain
