#pragma once

// The notify service's own view rows, written in the same batch as the notification's events.
// Pure. Recipient ids are web-safe base64 in keys (they may be e-mail addresses).
//
//   lr/<recipient>/<status:2>/<inverted due:16 hex>/<id> -> Notification   by recipient+status
//   lr/<recipient>/00/<inverted due>/<id>                -> Notification   by recipient, any status
//   lu/<unit>/<status:2>/<inverted due>/<id>             -> Notification   by unit+status
//   lu/<unit>/00/<inverted due>/<id>                     -> Notification   by unit, any status
//   nd/<due micros:16 hex>/<id>                          -> id             the dispatcher's queue
// Feed rows (keys end with the commit sequence, written by the event store):
//   fr/<recipient>/<seq> and fu/<unit>/<seq> -> Notification as of that change
//   fa/<seq>                                 -> Notification (every change, for operations)

#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "libs/storage/view_write.h"
#include "notify/v1/state.pb.h"

namespace notify::views {

std::vector<es::storage::ViewWrite> RowsForChange(const v1::Notification& before,
                                                  const v1::Notification& after);
std::vector<std::pair<std::string, std::string>> FeedRowsForChange(const v1::Notification& before,
                                                                   const v1::Notification& after);

std::string RecipientListPrefix(const std::string& recipient_id, v1::NotificationStatus status);
std::string UnitListPrefix(const std::string& unit, v1::NotificationStatus status);
std::string DispatchPrefix();
std::string DispatchKeyBefore(absl::Time t);  // rows due before t sort below this key
std::string RecipientFeedPrefix(const std::string& recipient_id);
std::string UnitFeedPrefix(const std::string& unit);
std::string EncodeId(const std::string& id);

}  // namespace notify::views
