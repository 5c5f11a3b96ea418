#pragma once

// CloudEvents 1.0 Kafka protocol binding, binary content mode, for events of the event store.
//
// A stored event becomes one Kafka record:
//   topic   = StoredEvent.topic
//   key     = StoredEvent.partition_key (the pseudonymous patient key, never a personal id)
//   value   = StoredEvent.payload (the service's protobuf event, unchanged)
//   headers = CloudEventHeaders(event)
// Consumers (reporting teams included) can filter on the headers without decoding the value.

#include <string>
#include <utility>
#include <vector>

#include "eventing/v1/store.pb.h"

namespace es::outbox {

inline constexpr char kCloudEventsSpecVersion[] = "1.0";
inline constexpr char kProtobufContentType[] = "application/protobuf";

// The record headers of `event`, in this order:
//   ce_specversion  "1.0"
//   ce_id           event_id
//   ce_source       source
//   ce_type         type
//   ce_time         time as RFC 3339 UTC with milliseconds ("2024-03-01T08:15:00.250Z");
//                   left out when the event has no time
//   ce_subject      stream_id; left out when empty
//   content-type    "application/protobuf"
// Pure and thread-safe. Never looks at the payload.
std::vector<std::pair<std::string, std::string>> CloudEventHeaders(
    const eventing::v1::StoredEvent& event);

}  // namespace es::outbox
