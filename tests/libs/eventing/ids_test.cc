#include "libs/eventing/ids.h"

#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace es {
namespace {

const std::regex kUuidV4("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
const std::regex kUuidV5("^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");

TEST(NewUuid, GivenManyIdsFromSeveralThreads_ThenAllAreWellFormedVersion4AndDistinct) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25'000;
  std::vector<std::vector<std::string>> made(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&made, t] {
      for (int i = 0; i < kPerThread; ++i) made[t].push_back(NewUuid());
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<std::string> distinct;
  for (const auto& ids : made) {
    for (const std::string& id : ids) {
      ASSERT_TRUE(std::regex_match(id, kUuidV4)) << id;
      distinct.insert(id);
    }
  }
  EXPECT_EQ(distinct.size(), size_t{kThreads * kPerThread});
}

TEST(NewUuid, GivenManyIds_ThenEveryHexDigitPositionVaries) {
  // A generator stuck on some bytes (e.g. an unseeded or badly mixed one) would show here.
  const std::string first = NewUuid();
  std::vector<bool> varied(first.size(), false);
  for (int i = 0; i < 200; ++i) {
    const std::string id = NewUuid();
    for (size_t c = 0; c < id.size(); ++c) varied[c] = varied[c] || id[c] != first[c];
  }
  for (size_t c = 0; c < first.size(); ++c) {
    const bool fixed = first[c] == '-' || c == 14;  // dashes and the version digit
    EXPECT_EQ(varied[c], !fixed) << "position " << c;
  }
}

TEST(NameUuid, GivenSameNamespaceAndName_ThenSameVersion5Id_OtherwiseDifferent) {
  const std::string id = NameUuid("referral", "key-1");
  EXPECT_TRUE(std::regex_match(id, kUuidV5)) << id;
  EXPECT_EQ(id, NameUuid("referral", "key-1"));
  EXPECT_NE(id, NameUuid("referral", "key-2"));
  EXPECT_NE(id, NameUuid("pathway", "key-1"));
  // The namespace and the name are separated: ("ab", "c") is not ("a", "bc").
  EXPECT_NE(NameUuid("ab", "c"), NameUuid("a", "bc"));
}

TEST(Sha256Hex, GivenKnownInput_ThenPublishedDigest) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace es
