#pragma once

// Distinct, valid Norwegian fødselsnumre for load generation: every benchmark request must pass
// the server's validation, and a repeated number would make the load less like real traffic.

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

namespace bench {

// The number built from candidate `index`: birth date 1940-01-01 plus index / 500 days (wrapping
// after 60 years), individual number index % 500 (000-499 means born 1900-1999), then the two
// mod-11 check digits. nullopt when a check digit would be 10 (no valid number exists then).
std::optional<std::string> FodselsnummerCandidate(uint64_t index);

// Hands out consecutive valid numbers; distinct for the first ~7 million calls. Thread-safe.
class FodselsnummerSource {
 public:
  std::string Next();

 private:
  std::atomic<uint64_t> next_index_{0};
};

}  // namespace bench
