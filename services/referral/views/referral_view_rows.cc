#include "services/referral/views/referral_view_rows.h"

#include <cstdio>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace referral::views {
namespace {

std::string Hex16(uint64_t value) { return absl::StrFormat("%016x", value); }

uint64_t MicrosOf(const google::protobuf::Timestamp& t) {
  return static_cast<uint64_t>(t.seconds()) * 1'000'000 + static_cast<uint64_t>(t.nanos() / 1000);
}

std::optional<std::string> ListKey(const v1::Referral& r) {
  if (r.status() == v1::REFERRAL_STATUS_UNSPECIFIED) return std::nullopt;
  return absl::StrCat(ListPrefix(r.receiving_unit(), r.status()), Hex16(~MicrosOf(r.received_at())),
                      "/", r.referral_id());
}

std::optional<std::string> WorklistKey(const v1::Referral& r) {
  if (r.status() != v1::RECEIVED) return std::nullopt;
  const auto& d = r.assessment_deadline();
  const int priority_rank = r.priority() == v1::PRIORITY_URGENT ? 0 : 1;
  return absl::StrCat(WorklistPrefix(r.receiving_unit()),
                      absl::StrFormat("%04d%02d%02d", d.year(), d.month(), d.day()), "/",
                      priority_rank, "/", Hex16(MicrosOf(r.received_at())), "/", r.referral_id());
}

void Replace(const std::optional<std::string>& old_key, const std::optional<std::string>& new_key,
             const std::string& value, std::vector<es::storage::ViewWrite>& writes) {
  if (old_key == new_key) return;
  if (old_key.has_value()) writes.push_back({*old_key, std::nullopt});
  if (new_key.has_value()) writes.push_back({*new_key, value});
}

}  // namespace

std::string ListPrefix(const std::string& unit, v1::ReferralStatus status) {
  return absl::StrCat("rl/", unit, "/", absl::StrFormat("%02d", static_cast<int>(status)), "/");
}

std::string WorklistPrefix(const std::string& unit) { return absl::StrCat("rw/", unit, "/"); }

std::vector<es::storage::ViewWrite> RowsForChange(const v1::Referral& before,
                                                  const v1::Referral& after) {
  std::vector<es::storage::ViewWrite> writes;
  Replace(ListKey(before), ListKey(after), after.referral_id(), writes);
  Replace(WorklistKey(before), WorklistKey(after), after.referral_id(), writes);
  return writes;
}

}  // namespace referral::views
