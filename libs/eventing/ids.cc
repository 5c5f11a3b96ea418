#include "libs/eventing/ids.h"

#include <array>
#include <cstdint>

#include "absl/random/random.h"
#include "libs/eventing/sha256.h"

namespace es {
namespace {

constexpr char kHex[] = "0123456789abcdef";

std::string FormatUuid(std::array<unsigned char, 16> b, int version) {
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | (version << 4));
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  std::string out(36, '-');
  size_t at = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) ++at;  // the dashes
    out[at++] = kHex[b[i] >> 4];
    out[at++] = kHex[b[i] & 0xf];
  }
  return out;
}

// Random ids are made on every command's hot path. RAND_bytes takes OpenSSL's DRBG locks each
// time; ids need uniqueness, not secrecy, so each thread draws from its own generator, seeded
// once from the OS entropy source (absl::BitGen). 122 random bits: collisions are not a concern.
std::array<unsigned char, 16> RandomBytes() {
  thread_local absl::BitGen generator;
  std::array<unsigned char, 16> bytes;
  for (size_t half = 0; half < 2; ++half) {
    uint64_t value = absl::Uniform<uint64_t>(generator);
    for (size_t i = 0; i < 8; ++i)
      bytes[half * 8 + i] = static_cast<unsigned char>(value >> (8 * i));
  }
  return bytes;
}

}  // namespace

std::string NewUuid() { return FormatUuid(RandomBytes(), 4); }

std::string NameUuid(std::string_view name_space, std::string_view name) {
  std::string input(name_space);
  input.push_back('\0');
  input.append(name);
  const Sha256Digest digest = Sha256(input);
  std::array<unsigned char, 16> bytes;
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = digest[i];
  return FormatUuid(bytes, 5);
}

std::string Sha256Hex(std::string_view data) {
  const Sha256Digest digest = Sha256(data);
  std::string out;
  out.reserve(2 * digest.size());
  for (unsigned char c : digest) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

}  // namespace es
