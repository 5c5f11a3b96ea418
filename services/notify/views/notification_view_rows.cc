#include "services/notify/views/notification_view_rows.h"

#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace notify::views {
namespace {

uint64_t DueMicros(const v1::Notification& n) {
  return static_cast<uint64_t>(n.due_at().seconds()) * 1'000'000 +
         static_cast<uint64_t>(n.due_at().nanos() / 1000);
}

std::string Hex16(uint64_t v) { return absl::StrFormat("%016x", v); }

std::map<std::string, std::string> RowsOf(const v1::Notification& n) {
  std::map<std::string, std::string> rows;
  if (n.status() == v1::NOTIFICATION_STATUS_UNSPECIFIED) return rows;
  const std::string value = n.SerializeAsString();
  const std::string tail = absl::StrCat(Hex16(~DueMicros(n)), "/", n.notification_id());
  for (v1::NotificationStatus s : {n.status(), v1::NOTIFICATION_STATUS_UNSPECIFIED}) {
    rows[RecipientListPrefix(n.recipient().id(), s) + tail] = value;
    if (!n.unit().empty()) rows[UnitListPrefix(n.unit(), s) + tail] = value;
  }
  if (n.status() == v1::SCHEDULED) {
    rows[absl::StrCat(DispatchPrefix(), Hex16(DueMicros(n)), "/", n.notification_id())] =
        n.notification_id();
  }
  return rows;
}

}  // namespace

std::string EncodeId(const std::string& id) { return absl::WebSafeBase64Escape(id); }

std::string RecipientListPrefix(const std::string& recipient_id, v1::NotificationStatus status) {
  return absl::StrCat("lr/", EncodeId(recipient_id), "/",
                      absl::StrFormat("%02d", static_cast<int>(status)), "/");
}

std::string UnitListPrefix(const std::string& unit, v1::NotificationStatus status) {
  return absl::StrCat("lu/", EncodeId(unit), "/", absl::StrFormat("%02d", static_cast<int>(status)),
                      "/");
}

std::string DispatchPrefix() { return "nd/"; }

std::string DispatchKeyBefore(absl::Time t) {
  return absl::StrCat(DispatchPrefix(), Hex16(static_cast<uint64_t>(absl::ToUnixMicros(t))));
}

std::string RecipientFeedPrefix(const std::string& recipient_id) {
  return absl::StrCat("fr/", EncodeId(recipient_id), "/");
}

std::string UnitFeedPrefix(const std::string& unit) {
  return absl::StrCat("fu/", EncodeId(unit), "/");
}

std::vector<es::storage::ViewWrite> RowsForChange(const v1::Notification& before,
                                                  const v1::Notification& after) {
  return es::storage::RowChanges(RowsOf(before), RowsOf(after));
}

std::vector<std::pair<std::string, std::string>> FeedRowsForChange(const v1::Notification&,
                                                                   const v1::Notification& after) {
  std::vector<std::pair<std::string, std::string>> rows;
  const std::string value = after.SerializeAsString();
  rows.emplace_back(RecipientFeedPrefix(after.recipient().id()), value);
  if (!after.unit().empty()) rows.emplace_back(UnitFeedPrefix(after.unit()), value);
  rows.emplace_back("fa/", value);
  return rows;
}

}  // namespace notify::views
