#pragma once

// The referral service's own view rows, written in the same batch as the events. Pure.
//
//   rl/<unit>/<status:2>/<inverted received time:16 hex>/<referral id>  -> referral id
//       ListReferrals: a unit's referrals with one status, newest first.
//   rw/<unit>/<deadline yyyymmdd>/<priority rank>/<received time:16 hex>/<referral id> -> id
//       Assessment worklist: a unit's unassessed referrals, earliest deadline first,
//       urgent before ordinary on the same day.
// Ids never contain '/', so a unit's rows form one contiguous key range.

#include <string>
#include <vector>

#include "libs/storage/view_write.h"
#include "referral/v1/state.pb.h"

namespace referral::views {

// The row changes that take the views from `before` to `after` (same referral).
std::vector<es::storage::ViewWrite> RowsForChange(const v1::Referral& before,
                                                  const v1::Referral& after);

std::string ListPrefix(const std::string& unit, v1::ReferralStatus status);
std::string WorklistPrefix(const std::string& unit);

}  // namespace referral::views
