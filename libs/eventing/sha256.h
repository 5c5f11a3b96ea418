#pragma once

// SHA-256 and HMAC-SHA256 for the command path (ids, fingerprints, pseudonymous keys).
// OpenSSL 3's one-shot SHA256() and HMAC() look the algorithm up in the provider registry and
// allocate a context on every call, which costs more than hashing the few dozen bytes we hash;
// here the algorithm is fetched once per process and each thread reuses one context.
// Thread-safe.

#include <array>
#include <initializer_list>
#include <string>
#include <string_view>

namespace es {

using Sha256Digest = std::array<unsigned char, 32>;

Sha256Digest Sha256(std::string_view data);
// SHA-256 of the concatenation of `parts` (no separator added).
Sha256Digest Sha256(std::initializer_list<std::string_view> parts);

// HMAC-SHA256 (RFC 2104) with a key prepared once.
class HmacSha256 {
 public:
  explicit HmacSha256(std::string_view key);
  Sha256Digest Mac(std::string_view message) const;

 private:
  std::string inner_pad_;  // 64 bytes: key ^ 0x36
  std::string outer_pad_;  // 64 bytes: key ^ 0x5c
};

}  // namespace es
