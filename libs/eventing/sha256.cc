#include "libs/eventing/sha256.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

namespace es {
namespace {

constexpr size_t kBlockBytes = 64;

const EVP_MD* Algorithm() {
  static const EVP_MD* const md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (fetched == nullptr) std::abort();  // OpenSSL without SHA-256: nothing can work
    return fetched;
  }();
  return md;
}

struct ContextDeleter {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};

EVP_MD_CTX* ThreadContext() {
  thread_local std::unique_ptr<EVP_MD_CTX, ContextDeleter> context(EVP_MD_CTX_new());
  return context.get();
}

Sha256Digest Digest(std::initializer_list<std::string_view> parts) {
  EVP_MD_CTX* context = ThreadContext();
  Sha256Digest out;
  unsigned int length = 0;
  bool ok = context != nullptr && EVP_DigestInit_ex(context, Algorithm(), nullptr) == 1;
  for (std::string_view part : parts) {
    ok = ok && EVP_DigestUpdate(context, part.data(), part.size()) == 1;
  }
  ok = ok && EVP_DigestFinal_ex(context, out.data(), &length) == 1 && length == out.size();
  if (!ok) std::abort();  // only on allocation failure inside OpenSSL
  return out;
}

std::string_view View(const Sha256Digest& digest) {
  return {reinterpret_cast<const char*>(digest.data()), digest.size()};
}

}  // namespace

Sha256Digest Sha256(std::string_view data) { return Digest({data}); }

Sha256Digest Sha256(std::initializer_list<std::string_view> parts) { return Digest(parts); }

HmacSha256::HmacSha256(std::string_view key) {
  std::string block(kBlockBytes, '\0');
  if (key.size() > kBlockBytes) {
    const Sha256Digest hashed = Sha256(key);
    std::copy(hashed.begin(), hashed.end(), block.begin());
  } else {
    std::copy(key.begin(), key.end(), block.begin());
  }
  inner_pad_ = outer_pad_ = block;
  for (size_t i = 0; i < kBlockBytes; ++i) {
    inner_pad_[i] = static_cast<char>(block[i] ^ 0x36);
    outer_pad_[i] = static_cast<char>(block[i] ^ 0x5c);
  }
}

Sha256Digest HmacSha256::Mac(std::string_view message) const {
  const Sha256Digest inner = Digest({inner_pad_, message});
  return Digest({outer_pad_, View(inner)});
}

}  // namespace es
