#include "services/referral/views/referral_view_rows.h"

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/storage/view_write.h"

namespace es::storage {
// Readable failure output for ViewWrite (found by ADL).
inline void PrintTo(const ViewWrite& w, std::ostream* os) {
  *os << "{" << w.key << " -> " << (w.value.has_value() ? *w.value : std::string("<delete>"))
      << "}";
}
}  // namespace es::storage

namespace referral::views {
namespace {

using ::es::storage::ViewWrite;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kUnit[] = "ahus-tsb";
// 2026-03-26T23:30:00Z = 1774567800 s = 0x00064df5c3594e00 µs; inverted 0xfff9b20a3ca6b1ff.
constexpr int64_t kReceivedSeconds = 1'774'567'800;

struct Deadline {
  int year, month, day;
};

v1::Referral Referral(std::string id, v1::ReferralStatus status,
                      int64_t received_seconds = kReceivedSeconds, int32_t received_nanos = 0,
                      Deadline deadline = {2026, 4, 15},
                      v1::Priority priority = v1::PRIORITY_ORDINARY) {
  v1::Referral r;
  r.set_referral_id(std::move(id));
  r.set_status(status);
  r.set_receiving_unit(kUnit);
  r.mutable_received_at()->set_seconds(received_seconds);
  r.mutable_received_at()->set_nanos(received_nanos);
  r.mutable_assessment_deadline()->set_year(deadline.year);
  r.mutable_assessment_deadline()->set_month(deadline.month);
  r.mutable_assessment_deadline()->set_day(deadline.day);
  r.set_priority(priority);
  r.set_version(1);
  return r;
}

// The key of the row with `prefix` that RowsForChange writes for a new referral `r`.
std::string KeyOf(const v1::Referral& r, const std::string& prefix) {
  for (const ViewWrite& w : RowsForChange(v1::Referral(), r)) {
    if (w.key.rfind(prefix, 0) == 0) return w.key;
  }
  ADD_FAILURE() << "no row with prefix " << prefix << " for " << r.ShortDebugString();
  return "";
}
std::string ListKeyOf(const v1::Referral& r) {
  return KeyOf(r, ListPrefix(r.receiving_unit(), r.status()));
}
std::string WorklistKeyOf(const v1::Referral& r) {
  return KeyOf(r, WorklistPrefix(r.receiving_unit()));
}

TEST(ReferralViewRows, Prefixes_HaveTheDocumentedShape) {
  EXPECT_EQ(ListPrefix(kUnit, v1::RECEIVED), "rl/ahus-tsb/01/");
  EXPECT_EQ(ListPrefix(kUnit, v1::WITHDRAWN), "rl/ahus-tsb/06/");
  EXPECT_EQ(WorklistPrefix(kUnit), "rw/ahus-tsb/");
}

TEST(ReferralViewRows, GivenNoReferral_WhenReceived_ThenListRowAndWorklistRowAdded) {
  const v1::Referral received = Referral("ref-1", v1::RECEIVED);
  const std::vector<ViewWrite> writes = RowsForChange(v1::Referral(), received);
  ASSERT_EQ(writes.size(), 2u);
  EXPECT_THAT(writes[0].key, StartsWith(ListPrefix(kUnit, v1::RECEIVED)));
  EXPECT_EQ(writes[0].value, std::optional<std::string>("ref-1"));
  EXPECT_THAT(writes[1].key, StartsWith(WorklistPrefix(kUnit)));
  EXPECT_EQ(writes[1].value, std::optional<std::string>("ref-1"));
  // The exact layout from the header, with the hex worked out by hand above.
  EXPECT_EQ(writes[0].key, "rl/ahus-tsb/01/fff9b20a3ca6b1ff/ref-1");
  EXPECT_EQ(writes[1].key, "rw/ahus-tsb/20260415/1/00064df5c3594e00/ref-1");
}

TEST(ReferralViewRows,
     GivenReceivedReferral_WhenRightToCare_ThenWorklistRowDeletedAndListRowMoved) {
  const v1::Referral before = Referral("ref-1", v1::RECEIVED);
  v1::Referral after = before;
  after.set_status(v1::RIGHT_TO_CARE);
  after.set_version(2);
  EXPECT_THAT(
      RowsForChange(before, after),
      ElementsAre(ViewWrite{"rl/ahus-tsb/01/fff9b20a3ca6b1ff/ref-1", std::nullopt},
                  ViewWrite{"rl/ahus-tsb/02/fff9b20a3ca6b1ff/ref-1", "ref-1"},
                  ViewWrite{"rw/ahus-tsb/20260415/1/00064df5c3594e00/ref-1", std::nullopt}));
}

TEST(ReferralViewRows, GivenRightToCare_WhenWithdrawn_ThenOnlyListRowMoved) {
  const v1::Referral before = Referral("ref-1", v1::RIGHT_TO_CARE);
  v1::Referral after = before;
  after.set_status(v1::WITHDRAWN);
  EXPECT_THAT(RowsForChange(before, after), ElementsAre(ViewWrite{ListKeyOf(before), std::nullopt},
                                                        ViewWrite{ListKeyOf(after), "ref-1"}));
}

TEST(ReferralViewRows, GivenReferral_WhenNothingKeyedChanges_ThenNoWrites) {
  const v1::Referral received = Referral("ref-1", v1::RECEIVED);
  EXPECT_THAT(RowsForChange(received, received), IsEmpty());
  v1::Referral with_coordinator = received;  // a coordinator changes no key
  with_coordinator.set_coordinator_id("coord-17");
  with_coordinator.set_version(2);
  EXPECT_THAT(RowsForChange(received, with_coordinator), IsEmpty());
  EXPECT_THAT(RowsForChange(v1::Referral(), v1::Referral()), IsEmpty());
}

TEST(ReferralViewRows, GivenTwoReceivedReferrals_WhenKeyed_ThenWorklistOrdersByDeadlineFirst) {
  // An urgent referral received earlier but due a day later sorts after the ordinary one.
  const v1::Referral due_15th_urgent = Referral("ref-a", v1::RECEIVED, kReceivedSeconds - 86400, 0,
                                                {2026, 4, 15}, v1::PRIORITY_URGENT);
  const v1::Referral due_14th_ordinary =
      Referral("ref-b", v1::RECEIVED, kReceivedSeconds, 0, {2026, 4, 14}, v1::PRIORITY_ORDINARY);
  EXPECT_LT(WorklistKeyOf(due_14th_ordinary), WorklistKeyOf(due_15th_urgent));
  // Across a month and year boundary, too.
  const v1::Referral due_dec = Referral("ref-c", v1::RECEIVED, kReceivedSeconds, 0, {2026, 12, 31});
  const v1::Referral due_jan = Referral("ref-d", v1::RECEIVED, kReceivedSeconds, 0, {2027, 1, 4});
  EXPECT_LT(WorklistKeyOf(due_dec), WorklistKeyOf(due_jan));
}

TEST(ReferralViewRows, GivenSameDeadline_WhenKeyed_ThenUrgentBeforeOrdinary) {
  // The ordinary one arrived earlier and has the smaller id; urgency still wins.
  const v1::Referral ordinary = Referral("ref-a", v1::RECEIVED, kReceivedSeconds - 3600, 0,
                                         {2026, 4, 15}, v1::PRIORITY_ORDINARY);
  const v1::Referral urgent =
      Referral("ref-b", v1::RECEIVED, kReceivedSeconds, 0, {2026, 4, 15}, v1::PRIORITY_URGENT);
  EXPECT_LT(WorklistKeyOf(urgent), WorklistKeyOf(ordinary));
}

TEST(ReferralViewRows, GivenSameDeadlineAndPriority_WhenKeyed_ThenEarlierReceivedFirst) {
  const v1::Referral earlier = Referral("ref-z", v1::RECEIVED, kReceivedSeconds, 999'999'000);
  const v1::Referral later = Referral("ref-a", v1::RECEIVED, kReceivedSeconds + 1, 0);
  EXPECT_LT(WorklistKeyOf(earlier), WorklistKeyOf(later));
}

TEST(ReferralViewRows,
     GivenTwoReferralsWithSameStatus_WhenKeyed_ThenListOrdersNewestReceivedFirst) {
  const v1::Referral older = Referral("ref-a", v1::RECEIVED, kReceivedSeconds, 0);
  const v1::Referral newer = Referral("ref-b", v1::RECEIVED, kReceivedSeconds, 1000);  // +1 µs
  const v1::Referral much_newer = Referral("ref-c", v1::RECEIVED, kReceivedSeconds + 86400 * 365);
  EXPECT_LT(ListKeyOf(newer), ListKeyOf(older));
  EXPECT_LT(ListKeyOf(much_newer), ListKeyOf(newer));
}

TEST(ReferralViewRows, GivenTwoUnits_WhenKeyed_ThenRowsStayInTheirUnitsRange) {
  v1::Referral other = Referral("ref-1", v1::RECEIVED);
  other.set_receiving_unit("ahus-tsb-2");  // shares the text prefix "ahus-tsb"
  EXPECT_THAT(ListKeyOf(other), Not(StartsWith(ListPrefix(kUnit, v1::RECEIVED))));
  EXPECT_THAT(WorklistKeyOf(other), Not(StartsWith(WorklistPrefix(kUnit))));
}

}  // namespace
}  // namespace referral::views
