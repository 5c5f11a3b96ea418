// The JSON every channel delivers: field names, enum names, RFC 3339 times, and no exception on
// text that is not UTF-8.

#include "services/notify/channels/notification_json.h"

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "libs/eventing/proto_time.h"
#include "nlohmann/json.hpp"

namespace notify::channels {
namespace {

v1::Notification Sample() {
  v1::Notification n;
  n.set_notification_id("reminder:dl-1");
  n.set_status(v1::SCHEDULED);
  n.set_kind(v1::DEADLINE_REMINDER);
  n.mutable_recipient()->set_role(v1::Recipient::COORDINATOR);
  n.mutable_recipient()->set_id("coord-7");
  n.mutable_recipient()->set_address("coord7@example.org");
  n.mutable_recipient()->set_language("nb");
  n.set_channel(v1::WEBHOOK);
  n.set_unit("unit-a");
  n.set_pathway_id("pw-1");
  n.set_referral_id("ref-1");
  n.set_deadline_id("dl-1");
  n.set_subject("Frist nærmer seg");
  n.set_body("Fristen går ut 2026-11-30.");
  *n.mutable_due_at() = es::ToProtoTimestamp(absl::FromUnixSeconds(1796000000));
  (*n.mutable_params())["rule"] = "should-not-appear";
  n.set_patient_key("0123456789abcdef0123456789abcdef");
  return n;
}

TEST(NotificationJsonTest, GivenScheduledNotification_WhenRendered_ThenEveryFieldIsThere) {
  const nlohmann::json doc = nlohmann::json::parse(NotificationJson(Sample()), nullptr, false);
  ASSERT_FALSE(doc.is_discarded());
  EXPECT_EQ(doc["notification_id"], "reminder:dl-1");
  EXPECT_EQ(doc["kind"], "DEADLINE_REMINDER");
  EXPECT_EQ(doc["recipient"]["role"], "COORDINATOR");
  EXPECT_EQ(doc["recipient"]["id"], "coord-7");
  EXPECT_EQ(doc["recipient"]["address"], "coord7@example.org");
  EXPECT_EQ(doc["recipient"]["language"], "nb");
  EXPECT_EQ(doc["channel"], "WEBHOOK");
  EXPECT_EQ(doc["unit"], "unit-a");
  EXPECT_EQ(doc["pathway_id"], "pw-1");
  EXPECT_EQ(doc["referral_id"], "ref-1");
  EXPECT_EQ(doc["deadline_id"], "dl-1");
  EXPECT_EQ(doc["subject"], "Frist nærmer seg");
  EXPECT_EQ(doc["body"], "Fristen går ut 2026-11-30.");
  EXPECT_EQ(doc["due_at"], "2026-11-30T00:53:20Z");
  EXPECT_TRUE(doc["sent_at"].is_null());
}

TEST(NotificationJsonTest, GivenSentAt_WhenRendered_ThenRfc3339WithFraction) {
  v1::Notification n = Sample();
  *n.mutable_sent_at() =
      es::ToProtoTimestamp(absl::FromUnixSeconds(1796000000) + absl::Milliseconds(250));
  const nlohmann::json doc = nlohmann::json::parse(NotificationJson(n), nullptr, false);
  ASSERT_FALSE(doc.is_discarded());
  EXPECT_EQ(doc["sent_at"], "2026-11-30T00:53:20.25Z");
}

TEST(NotificationJsonTest, GivenTemplateParamsAndPatientKey_WhenRendered_ThenLeftOut) {
  const std::string text = NotificationJson(Sample());
  EXPECT_EQ(text.find("should-not-appear"), std::string::npos);
  EXPECT_EQ(text.find("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(text.find('\n'), std::string::npos);
}

TEST(NotificationJsonTest, GivenInvalidUtf8_WhenRendered_ThenReplacedNotThrown) {
  v1::Notification n = Sample();
  n.set_body(std::string("bad \xff byte"));
  const nlohmann::json doc = nlohmann::json::parse(NotificationJson(n), nullptr, false);
  ASSERT_FALSE(doc.is_discarded());
  EXPECT_EQ(doc["body"], "bad \xEF\xBF\xBD byte");
}

}  // namespace
}  // namespace notify::channels
