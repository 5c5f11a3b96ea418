#include "services/notify/channels/notification_json.h"

#include "absl/time/time.h"
#include "libs/eventing/proto_time.h"
#include "nlohmann/json.hpp"

namespace notify::channels {
namespace {

// RFC 3339 in UTC with a "Z" rather than "+00:00", the form our logs use; fractional seconds
// only when there are any.
constexpr char kRfc3339Utc[] = "%Y-%m-%d%ET%H:%M:%E*SZ";

nlohmann::json Rfc3339(bool present, const google::protobuf::Timestamp& t) {
  if (!present) return nullptr;
  return absl::FormatTime(kRfc3339Utc, es::FromProtoTimestamp(t), absl::UTCTimeZone());
}

}  // namespace

std::string NotificationJson(const v1::Notification& n) {
  // Building a json object only throws on allocation failure, which is fatal anyway; dump() is
  // the one call that throws on bad input (invalid UTF-8), hence error_handler_t::replace.
  nlohmann::json recipient = {
      {"role", v1::Recipient::Role_Name(n.recipient().role())},
      {"id", n.recipient().id()},
      {"address", n.recipient().address()},
      {"language", n.recipient().language()},
  };
  nlohmann::json doc = {
      {"notification_id", n.notification_id()},
      {"kind", v1::NotificationKind_Name(n.kind())},
      {"recipient", std::move(recipient)},
      {"channel", v1::Channel_Name(n.channel())},
      {"unit", n.unit()},
      {"pathway_id", n.pathway_id()},
      {"referral_id", n.referral_id()},
      {"deadline_id", n.deadline_id()},
      {"subject", n.subject()},
      {"body", n.body()},
      {"due_at", Rfc3339(n.has_due_at(), n.due_at())},
      {"sent_at", Rfc3339(n.has_sent_at(), n.sent_at())},
  };
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace notify::channels
