// The file channel: one JSON line per send, appended, parent directories created, and
// kUnavailable (never a crash, never a torn line) when the path cannot be written.

#include "services/notify/channels/file_channel.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace notify::channels {
namespace {

using es::testing::StatusIs;

v1::Notification Named(const std::string& id) {
  v1::Notification n;
  n.set_notification_id(id);
  n.set_status(v1::SCHEDULED);
  n.set_kind(v1::BREACH_ALERT);
  n.mutable_recipient()->set_role(v1::Recipient::UNIT);
  n.mutable_recipient()->set_id("unit-a");
  n.set_channel(v1::FILE);
  n.set_subject("Frist brutt");
  n.set_body("line one\nline two");  // a newline in the text must not split the JSON line
  return n;
}

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(FileChannelTest, GivenTwoNotifications_WhenSent_ThenTwoJsonLinesInOrder) {
  es::testing::TempDir dir;
  FileChannel channel({.path = dir.Sub("out.jsonl")});

  ES_ASSERT_OK(channel.Send(Named("n-1")));
  ES_ASSERT_OK(channel.Send(Named("n-2")));

  const std::vector<std::string> lines = Lines(dir.Sub("out.jsonl"));
  ASSERT_EQ(lines.size(), 2u);
  const nlohmann::json first = nlohmann::json::parse(lines[0], nullptr, false);
  const nlohmann::json second = nlohmann::json::parse(lines[1], nullptr, false);
  ASSERT_FALSE(first.is_discarded());
  ASSERT_FALSE(second.is_discarded());
  EXPECT_EQ(first["notification_id"], "n-1");
  EXPECT_EQ(first["kind"], "BREACH_ALERT");
  EXPECT_EQ(first["channel"], "FILE");
  EXPECT_EQ(first["recipient"]["role"], "UNIT");
  EXPECT_EQ(first["body"], "line one\nline two");
  EXPECT_EQ(second["notification_id"], "n-2");
}

TEST(FileChannelTest, GivenExistingFile_WhenSent_ThenAppendedNotTruncated) {
  es::testing::TempDir dir;
  const std::string path = dir.Sub("out.jsonl");
  { std::ofstream(path) << "{\"earlier\":true}\n"; }
  FileChannel channel({.path = path, .fsync = false});

  ES_ASSERT_OK(channel.Send(Named("n-1")));

  const std::vector<std::string> lines = Lines(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "{\"earlier\":true}");
}

TEST(FileChannelTest, GivenMissingParentDirectories_WhenSent_ThenCreated) {
  es::testing::TempDir dir;
  const std::string path = dir.Sub("a/b/c/out.jsonl");
  FileChannel channel({.path = path});

  ES_ASSERT_OK(channel.Send(Named("n-1")));

  EXPECT_EQ(Lines(path).size(), 1u);
}

TEST(FileChannelTest, GivenParentIsAFile_WhenSent_ThenUnavailable) {
  es::testing::TempDir dir;
  { std::ofstream(dir.Sub("blocker")) << "x"; }
  // Holds even as root, unlike a permission-based failure.
  FileChannel channel({.path = dir.Sub("blocker/out.jsonl")});

  EXPECT_THAT(channel.Send(Named("n-1")), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(FileChannelTest, GivenPathIsADirectory_WhenSent_ThenUnavailable) {
  es::testing::TempDir dir;
  std::filesystem::create_directories(dir.Sub("out.jsonl"));
  FileChannel channel({.path = dir.Sub("out.jsonl")});

  EXPECT_THAT(channel.Send(Named("n-1")), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(FileChannelTest, GivenFileRemovedBetweenSends_WhenSent_ThenRecreated) {
  es::testing::TempDir dir;
  const std::string path = dir.Sub("out.jsonl");
  FileChannel channel({.path = path, .fsync = false});
  ES_ASSERT_OK(channel.Send(Named("n-1")));
  std::filesystem::remove(path);

  ES_ASSERT_OK(channel.Send(Named("n-2")));

  const std::vector<std::string> lines = Lines(path);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("\"n-2\""), std::string::npos);
}

}  // namespace
}  // namespace notify::channels
