#include "libs/eventing/pseudonym.h"

#include "absl/strings/str_cat.h"

namespace es {

absl::StatusOr<Pseudonymizer> Pseudonymizer::Create(std::string secret) {
  if (secret.size() < 16) {
    return absl::InvalidArgumentError(
        "pseudonym secret: must be at least 16 bytes (set PATHWAYS_PSEUDONYM_SECRET)");
  }
  return Pseudonymizer(std::move(secret));
}

std::string Pseudonymizer::Key(std::string_view system, std::string_view value) const {
  const Sha256Digest digest = mac_.Mac(absl::StrCat(std::string(system), ":", std::string(value)));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(32);
  for (size_t i = 0; i < 16; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

}  // namespace es
