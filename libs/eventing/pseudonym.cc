#include "libs/eventing/pseudonym.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

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
  std::string message = absl::StrCat(std::string(system), ":", std::string(value));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < 16 && i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

}  // namespace es
