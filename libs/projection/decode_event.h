#pragma once

// Decoding a consumed record as one of the platform's events, with the checks every projection
// relies on, so that each projector starts from a well-formed event or a reason to dead-letter.

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "libs/projection/projection_consumer.h"

namespace es::projection {

// `Event` is a generated event message with an `eventing.v1.EventMetadata metadata` field.
// kInvalidArgument, naming what is wrong, when the value is not an `Event` or its metadata lacks
// the stream id or version (the consumer then sends the record to the dead-letter topic).
template <typename Event>
absl::StatusOr<Event> DecodeEvent(const ConsumedRecord& record) {
  Event event;
  if (!event.ParseFromString(record.value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("value: not a ", Event::descriptor()->full_name()));
  }
  if (event.metadata().stream_id().empty() || event.metadata().stream_version() < 1) {
    return absl::InvalidArgumentError("metadata: stream_id and stream_version are required");
  }
  return event;
}

}  // namespace es::projection
