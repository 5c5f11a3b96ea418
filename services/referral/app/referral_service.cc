#include "services/referral/app/referral_service.h"

#include "absl/strings/str_cat.h"
#include "libs/app/paging.h"
#include "libs/eventing/proto_time.h"
#include "services/referral/views/referral_view_rows.h"
#include "services/shared/patient_identity.h"

namespace referral::app {
namespace {

using es::storage::ViewRow;

// When the fact happened in the clinic: the time the command carried.
google::protobuf::Timestamp OccurredAt(const v1::ReferralEvent& event) {
  switch (event.payload_case()) {
    case v1::ReferralEvent::kSubmitted:
      return event.submitted().received_at();
    case v1::ReferralEvent::kAssessed:
      return event.assessed().assessment().assessed_at();
    case v1::ReferralEvent::kAssessmentCorrected:
      return event.assessment_corrected().assessment().assessed_at();
    case v1::ReferralEvent::kCoordinatorAssigned:
      return event.coordinator_assigned().assigned_at();
    case v1::ReferralEvent::kWithdrawn:
      return event.withdrawn().withdrawn_at();
    case v1::ReferralEvent::PAYLOAD_NOT_SET:
      break;
  }
  return google::protobuf::Timestamp();
}

// The key of a submitted patient; empty when the id is invalid (Decide then names the field).
std::string KeyFor(const domain::ReferralCommand& command, const es::Pseudonymizer& p) {
  const auto* submit = std::get_if<domain::SubmitReferral>(&command);
  if (submit == nullptr) return "";
  absl::StatusOr<std::string> key = pathways::PatientKeyOf(submit->patient, p, "patient");
  return key.ok() ? *key : "";
}

}  // namespace

std::string ReferralIdOf(const domain::ReferralCommand& command) {
  return std::visit([](const auto& c) { return c.referral_id; }, command);
}

ReferralService::ReferralService(es::storage::EventStore& store, es::storage::ViewStore& views,
                                 const domain::ReferralDecider& decider,
                                 const es::Pseudonymizer& pseudonymizer, const es::Clock& clock,
                                 ReferralServiceOptions options)
    : views_(views),
      decider_(decider),
      pseudonymizer_(pseudonymizer),
      executor_(store, decider, clock, {.topic = options.topic, .source = options.source},
                {.view_rows = views::RowsForChange,
                 .occurred_at = OccurredAt,
                 .event_id = {},
                 .feed_rows = {}}) {}

void ReferralService::Execute(domain::ReferralCommand command, CommandContext context,
                              CommandCallback done) {
  std::string patient_key = KeyFor(command, pseudonymizer_);
  if (auto* submit = std::get_if<domain::SubmitReferral>(&command)) {
    submit->patient_key = patient_key;
  }
  std::string referral_id = ReferralIdOf(command);
  executor_.Execute(std::move(referral_id), std::move(command), std::move(context),
                    std::move(patient_key), std::move(done));
}

absl::StatusOr<v1::Referral> ReferralService::Get(const std::string& referral_id) const {
  if (!domain::IsValidId(referral_id)) {
    return absl::InvalidArgumentError("referral_id: must be 1-64 of [A-Za-z0-9._:-]");
  }
  absl::StatusOr<v1::Referral> referral = executor_.Load(referral_id);
  if (!referral.ok()) return referral.status();
  if (referral->version() == 0) {
    return absl::NotFoundError(absl::StrCat("referral ", referral_id, " does not exist"));
  }
  return referral;
}

absl::StatusOr<std::vector<v1::Referral>> ReferralService::LoadReferrals(
    const std::vector<ViewRow>& rows) const {
  std::vector<v1::Referral> referrals;
  referrals.reserve(rows.size());
  for (const ViewRow& row : rows) {
    absl::StatusOr<v1::Referral> referral = Get(row.value);
    if (!referral.ok()) return referral.status();
    referrals.push_back(std::move(*referral));
  }
  return referrals;
}

absl::StatusOr<Page> ReferralService::List(const std::string& unit, v1::ReferralStatus status,
                                           int page_size, const std::string& page_token) const {
  if (!domain::IsValidId(unit))
    return absl::InvalidArgumentError("unit: must be 1-64 of [A-Za-z0-9._:-]");
  if (status == v1::REFERRAL_STATUS_UNSPECIFIED || !v1::ReferralStatus_IsValid(status)) {
    return absl::InvalidArgumentError("status: is required");
  }
  absl::StatusOr<int> size = es::app::PageSize(page_size);
  if (!size.ok()) return size.status();
  const std::string prefix = views::ListPrefix(unit, status);
  absl::StatusOr<std::string> after = es::app::DecodePageToken(page_token, prefix);
  if (!after.ok()) return after.status();
  absl::StatusOr<std::vector<ViewRow>> rows = views_.Scan(prefix, *after, *size);
  if (!rows.ok()) return rows.status();
  absl::StatusOr<std::vector<v1::Referral>> referrals = LoadReferrals(*rows);
  if (!referrals.ok()) return referrals.status();
  return Page{std::move(*referrals), es::app::NextPageToken(*rows, *size)};
}

absl::StatusOr<WorklistPage> ReferralService::AssessmentWorklist(
    const std::string& unit, absl::Time as_of, int page_size, const std::string& page_token) const {
  if (!domain::IsValidId(unit))
    return absl::InvalidArgumentError("unit: must be 1-64 of [A-Za-z0-9._:-]");
  absl::StatusOr<int> size = es::app::PageSize(page_size);
  if (!size.ok()) return size.status();
  const std::string prefix = views::WorklistPrefix(unit);
  absl::StatusOr<std::string> after = es::app::DecodePageToken(page_token, prefix);
  if (!after.ok()) return after.status();
  absl::StatusOr<std::vector<ViewRow>> rows = views_.Scan(prefix, *after, *size);
  if (!rows.ok()) return rows.status();
  absl::StatusOr<std::vector<v1::Referral>> referrals = LoadReferrals(*rows);
  if (!referrals.ok()) return referrals.status();

  WorklistPage page;
  page.as_of = clinical::CivilDayIn(as_of, decider_.zone());
  for (v1::Referral& referral : *referrals) {
    const absl::CivilDay deadline = es::FromProtoDate(referral.assessment_deadline());
    WorklistItem item;
    item.overdue = deadline < page.as_of;
    item.working_days_left = decider_.calendar().WorkingDaysBetween(page.as_of, deadline);
    item.referral = std::move(referral);
    page.items.push_back(std::move(item));
  }
  page.next_page_token = es::app::NextPageToken(*rows, *size);
  return page;
}

}  // namespace referral::app
