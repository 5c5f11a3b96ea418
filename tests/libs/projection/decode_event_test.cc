#include "libs/projection/decode_event.h"

#include "gtest/gtest.h"
#include "referral/v1/events.pb.h"

namespace es::projection {
namespace {

ConsumedRecord RecordOf(const std::string& value) {
  ConsumedRecord record;
  record.topic = "pathways.referral.events.v1";
  record.value = value;
  return record;
}

TEST(DecodeEventTest, GivenAnEventWithStreamAndVersion_ThenDecoded) {
  referral::v1::ReferralEvent event;
  event.mutable_metadata()->set_stream_id("r-1");
  event.mutable_metadata()->set_stream_version(2);
  absl::StatusOr<referral::v1::ReferralEvent> decoded =
      DecodeEvent<referral::v1::ReferralEvent>(RecordOf(event.SerializeAsString()));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->metadata().stream_id(), "r-1");
  EXPECT_EQ(decoded->metadata().stream_version(), 2);
}

TEST(DecodeEventTest, GivenBytesThatAreNoEvent_ThenInvalidArgumentNamingTheType) {
  absl::StatusOr<referral::v1::ReferralEvent> decoded =
      DecodeEvent<referral::v1::ReferralEvent>(RecordOf("\xff\xff\xff"));
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(decoded.status().message(), "value: not a referral.v1.ReferralEvent");
}

TEST(DecodeEventTest, GivenNoStreamIdOrNoVersion_ThenInvalidArgumentNamingTheMetadata) {
  referral::v1::ReferralEvent no_stream;
  no_stream.mutable_metadata()->set_stream_version(1);
  referral::v1::ReferralEvent no_version;
  no_version.mutable_metadata()->set_stream_id("r-1");
  for (const auto& event : {no_stream, no_version}) {
    absl::StatusOr<referral::v1::ReferralEvent> decoded =
        DecodeEvent<referral::v1::ReferralEvent>(RecordOf(event.SerializeAsString()));
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(decoded.status().message(), "metadata: stream_id and stream_version are required");
  }
}

}  // namespace
}  // namespace es::projection
