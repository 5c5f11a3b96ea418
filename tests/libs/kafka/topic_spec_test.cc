#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/kafka/embedded_broker.h"

namespace es::kafka {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(ParseTopicSpecs, GivenWellFormedSpecs_WhenParsed_ThenNamesAndCountsInOrder) {
  absl::StatusOr<std::vector<TopicSpec>> specs =
      ParseTopicSpecs("pathways.referral.events.v1:6,pathways.deadletter.v1:1,a_b-C.9:10000");

  ASSERT_TRUE(specs.ok()) << specs.status();
  EXPECT_THAT(*specs,
              ElementsAre(TopicSpec{"pathways.referral.events.v1", 6},
                          TopicSpec{"pathways.deadletter.v1", 1}, TopicSpec{"a_b-C.9", 10000}));
}

TEST(ParseTopicSpecs, GivenWhitespaceAroundEveryPart_WhenParsed_ThenItIsIgnored) {
  absl::StatusOr<std::vector<TopicSpec>> specs = ParseTopicSpecs("  a : 3 ,\n\tb:1  ");

  ASSERT_TRUE(specs.ok()) << specs.status();
  EXPECT_THAT(*specs, ElementsAre(TopicSpec{"a", 3}, TopicSpec{"b", 1}));
}

TEST(ParseTopicSpecs, GivenBlankText_WhenParsed_ThenNoTopics) {
  absl::StatusOr<std::vector<TopicSpec>> specs = ParseTopicSpecs(" \t ");

  ASSERT_TRUE(specs.ok()) << specs.status();
  EXPECT_THAT(*specs, IsEmpty());
}

struct BadSpec {
  std::string case_name;
  std::string text;
  std::string named_entry;  // the error must quote the offending entry
};

class ParseTopicSpecsRejects : public ::testing::TestWithParam<BadSpec> {};

TEST_P(ParseTopicSpecsRejects, GivenMalformedEntry_WhenParsed_ThenInvalidArgumentNamingIt) {
  absl::StatusOr<std::vector<TopicSpec>> specs = ParseTopicSpecs(GetParam().text);

  ASSERT_FALSE(specs.ok()) << "accepted: " << GetParam().text;
  EXPECT_EQ(specs.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(specs.status().message()),
              HasSubstr("\"" + GetParam().named_entry + "\""));
}

INSTANTIATE_TEST_SUITE_P(
    BadInput, ParseTopicSpecsRejects,
    ::testing::Values(BadSpec{"MissingPartitions", "good:1,missing", "missing"},
                      BadSpec{"NotANumber", "a:x", "a:x"},
                      BadSpec{"TrailingGarbage", "a:3x", "a:3x"}, BadSpec{"Zero", "a:0", "a:0"},
                      BadSpec{"Negative", "a:-2", "a:-2"}, BadSpec{"TooMany", "a:10001", "a:10001"},
                      BadSpec{"EmptyCount", "a:", "a:"}, BadSpec{"EmptyName", ":3", ":3"},
                      BadSpec{"IllegalCharacter", "bad/name:1", "bad/name:1"},
                      BadSpec{"EmptyEntry", "a:1,,b:1", ""}, BadSpec{"TrailingComma", "a:1,", ""},
                      BadSpec{"Duplicate", "a:1, a :2", "a :2"},
                      BadSpec{"NameTooLong", std::string(250, 'n') + ":1",
                              std::string(250, 'n') + ":1"}),
    [](const ::testing::TestParamInfo<BadSpec>& info) { return info.param.case_name; });

}  // namespace
}  // namespace es::kafka
