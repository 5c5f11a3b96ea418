#pragma once

// What comes with every command besides its fields: the caller, the idempotency key and how to
// recognise a retry, the correlation. And what a command returns.

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "eventing/v1/metadata.pb.h"

namespace es::app {

struct CommandContext {
  eventing::v1::Actor actor;
  std::string idempotency_key;   // required, 1..128 characters
  std::string fingerprint;       // hash of the request; a key reused for another is refused
  std::string correlation_id;    // generated when empty
  std::string causation_id;      // defaults to the idempotency key
  int64_t expected_version = 0;  // 0: no client-side check
};

struct CommandResult {
  std::string stream_id;
  int64_t version = 0;
  bool replayed = false;  // answered from the idempotency record; nothing was written
};

using CommandCallback = std::function<void(absl::StatusOr<CommandResult>)>;

}  // namespace es::app
