#include "libs/eventing/sha256.h"

#include <string>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "libs/eventing/pseudonym.h"

namespace es {
namespace {

std::string Hex(const Sha256Digest& digest) {
  return absl::BytesToHexString(
      std::string(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

TEST(Sha256, GivenPublishedVectors_ThenPublishedDigests) {
  EXPECT_EQ(Hex(Sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Hex(Sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Hex(Sha256({"a", "bc"})), Hex(Sha256("abc")));
}

TEST(HmacSha256, GivenRfc4231TestCases_ThenPublishedMacs) {
  // Test case 1: a 20-byte key.
  EXPECT_EQ(Hex(HmacSha256(std::string(20, '\x0b')).Mac("Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Test case 2: a short key.
  EXPECT_EQ(Hex(HmacSha256("Jefe").Mac("what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 6: a key longer than the block is hashed first.
  EXPECT_EQ(Hex(HmacSha256(std::string(131, '\xaa'))
                    .Mac("Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(Pseudonymizer, GivenSecretAndIdentifier_ThenFirst128BitsOfHmacInHex) {
  // Expected value from Python: hmac.new(secret, b"NO_FODSELSNUMMER:01010012345",
  // hashlib.sha256).hexdigest()[:32]. Every service must derive the same key.
  auto pseudonymizer = Pseudonymizer::Create("a-secret-of-at-least-16-bytes");
  ASSERT_TRUE(pseudonymizer.ok());
  EXPECT_EQ(pseudonymizer->Key("NO_FODSELSNUMMER", "01010012345"),
            "858c9d31ecef3a1915b3af3152c7dded");
  EXPECT_FALSE(Pseudonymizer::Create("too-short").ok());
}

}  // namespace
}  // namespace es
