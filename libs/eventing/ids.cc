#include "libs/eventing/ids.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <array>
#include <cstdio>
#include <cstdlib>

namespace es {
namespace {

std::string FormatUuid(std::array<unsigned char, 16> b, int version) {
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | (version << 4));
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof(out),
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return std::string(out, 36);
}

}  // namespace

std::string NewUuid() {
  std::array<unsigned char, 16> bytes;
  // RAND_bytes only fails when the OS entropy source is broken; ids would then not be unique.
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) std::abort();
  return FormatUuid(bytes, 4);
}

std::string NameUuid(std::string_view name_space, std::string_view name) {
  std::string input(name_space);
  input.push_back('\0');
  input.append(name);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  std::array<unsigned char, 16> bytes;
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = digest[i];
  return FormatUuid(bytes, 5);
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * SHA256_DIGEST_LENGTH);
  for (unsigned char c : digest) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

}  // namespace es
