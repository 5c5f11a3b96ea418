#pragma once

// Pseudonymous keys: HMAC-SHA256 of a normalised identifier under a secret from configuration.
// Every service uses this one function with the same secret, so one patient gets one key
// everywhere (the Kafka key), while the identifier itself never leaves the payload.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "libs/eventing/sha256.h"

namespace es {

// Immutable; thread-safe.
class Pseudonymizer {
 public:
  // kInvalidArgument when the secret is shorter than 16 bytes (too weak to resist guessing
  // the small space of national ids).
  static absl::StatusOr<Pseudonymizer> Create(std::string secret);

  // 32 lower-case hex characters (128 bits of HMAC-SHA256 over "<system>:<value>").
  std::string Key(std::string_view system, std::string_view value) const;

 private:
  explicit Pseudonymizer(std::string secret) : mac_(secret) {}
  HmacSha256 mac_;
};

}  // namespace es
