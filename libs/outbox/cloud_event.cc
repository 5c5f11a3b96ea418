#include "libs/outbox/cloud_event.h"

#include "absl/time/time.h"

namespace es::outbox {
namespace {

// RFC 3339 in UTC with exactly three fractional digits: fixed width, so the header values sort
// like the instants they name, and millisecond precision is what Kafka record timestamps hold.
std::string Rfc3339Millis(const google::protobuf::Timestamp& time) {
  const absl::Time instant =
      absl::FromUnixSeconds(time.seconds()) + absl::Nanoseconds(time.nanos());
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", instant, absl::UTCTimeZone());
}

}  // namespace

std::vector<std::pair<std::string, std::string>> CloudEventHeaders(
    const eventing::v1::StoredEvent& event) {
  std::vector<std::pair<std::string, std::string>> headers;
  headers.reserve(7);
  headers.emplace_back("ce_specversion", kCloudEventsSpecVersion);
  headers.emplace_back("ce_id", event.event_id());
  headers.emplace_back("ce_source", event.source());
  headers.emplace_back("ce_type", event.type());
  // ce_time and ce_subject are optional in CloudEvents: an absent attribute is better than a
  // made-up 1970 timestamp or an empty subject that filters would match by accident.
  if (event.has_time()) headers.emplace_back("ce_time", Rfc3339Millis(event.time()));
  if (!event.stream_id().empty()) headers.emplace_back("ce_subject", event.stream_id());
  headers.emplace_back("content-type", kProtobufContentType);
  return headers;
}

}  // namespace es::outbox
