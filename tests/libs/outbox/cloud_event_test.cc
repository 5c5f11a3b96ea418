#include "libs/outbox/cloud_event.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace es::outbox {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

eventing::v1::StoredEvent Submitted() {
  eventing::v1::StoredEvent event;
  event.set_event_id("0b7f3c2e-8a41-4f7e-9a55-2d1c0e6b9f10");
  event.set_stream_id("referral-42");
  event.set_stream_version(3);
  event.set_type("no.pathways.referral.v1.ReferralSubmitted");
  event.set_source("/pathways/referral");
  event.set_topic("pathways.referral.events.v1");
  event.set_partition_key("5f1d0c9a7b3e4d2f8a6c1b0e9d7f3a21");
  event.mutable_time()->set_seconds(1709280900);  // 2024-03-01T08:15:00Z
  event.mutable_time()->set_nanos(250'000'000);
  event.set_payload(std::string("\x0a\x02\x00\xff", 4));
  return event;
}

TEST(CloudEventHeaders, GivenStoredEvent_WhenMapped_ThenBinaryModeHeadersInOrder) {
  EXPECT_THAT(
      CloudEventHeaders(Submitted()),
      ElementsAre(Pair("ce_specversion", "1.0"),
                  Pair("ce_id", "0b7f3c2e-8a41-4f7e-9a55-2d1c0e6b9f10"),
                  Pair("ce_source", "/pathways/referral"),
                  Pair("ce_type", "no.pathways.referral.v1.ReferralSubmitted"),
                  Pair("ce_time", "2024-03-01T08:15:00.250Z"), Pair("ce_subject", "referral-42"),
                  Pair("content-type", "application/protobuf")));
}

TEST(CloudEventHeaders, GivenSubMillisecondTime_WhenMapped_ThenTruncatedToMilliseconds) {
  eventing::v1::StoredEvent event = Submitted();
  event.mutable_time()->set_seconds(0);
  event.mutable_time()->set_nanos(999'999'999);
  std::vector<std::pair<std::string, std::string>> headers = CloudEventHeaders(event);
  EXPECT_THAT(headers, ::testing::Contains(Pair("ce_time", "1970-01-01T00:00:00.999Z")));
}

TEST(CloudEventHeaders, GivenEventWithoutTimeOrStream_WhenMapped_ThenThoseHeadersAreLeftOut) {
  eventing::v1::StoredEvent event = Submitted();
  event.clear_time();
  event.clear_stream_id();
  EXPECT_THAT(CloudEventHeaders(event),
              ElementsAre(Pair("ce_specversion", "1.0"), Pair("ce_id", event.event_id()),
                          Pair("ce_source", event.source()), Pair("ce_type", event.type()),
                          Pair("content-type", "application/protobuf")));
}

TEST(CloudEventHeaders, GivenAnyEvent_WhenMapped_ThenNeitherKeyNorPayloadAppearInHeaders) {
  const eventing::v1::StoredEvent event = Submitted();
  for (const auto& [name, value] : CloudEventHeaders(event)) {
    EXPECT_EQ(value.find(event.partition_key()), std::string::npos) << name;
    EXPECT_EQ(value.find(event.payload()), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace es::outbox
