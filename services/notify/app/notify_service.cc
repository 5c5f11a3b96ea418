#include "services/notify/app/notify_service.h"

#include <future>

#include "absl/strings/str_cat.h"
#include "libs/app/paging.h"
#include "libs/eventing/proto_time.h"
#include "libs/eventing/validation.h"
#include "services/notify/domain/templates.h"
#include "services/notify/views/notification_view_rows.h"
#include "services/shared/patient_identity.h"

namespace notify::app {
namespace {

google::protobuf::Timestamp OccurredAt(const v1::NotificationEvent& event) {
  switch (event.payload_case()) {
    case v1::NotificationEvent::kSent:
      return event.sent().sent_at();
    case v1::NotificationEvent::kAcknowledged:
      return event.acknowledged().acknowledged_at();
    default:
      return google::protobuf::Timestamp();  // recorded_at tells when
  }
}

}  // namespace

std::string NotificationIdOf(const domain::NotificationCommand& command) {
  return std::visit([](const auto& c) { return c.notification_id; }, command);
}

NotifyService::NotifyService(es::storage::EventStore& store, es::storage::ViewStore& views,
                             const domain::NotificationDecider& decider,
                             const es::Pseudonymizer& pseudonymizer, const es::Clock& clock,
                             NotifyServiceOptions options)
    : views_(views),
      pseudonymizer_(pseudonymizer),
      clock_(clock),
      executor_(store, decider, clock, {.topic = options.topic, .source = options.source},
                {.view_rows = views::RowsForChange,
                 .occurred_at = OccurredAt,
                 .event_id = {},
                 .feed_rows = views::FeedRowsForChange}) {}

void NotifyService::Execute(domain::NotificationCommand command, es::app::CommandContext context,
                            es::app::CommandCallback done) {
  std::string patient_key;
  if (const auto* schedule = std::get_if<domain::Schedule>(&command)) {
    patient_key = schedule->patient_key;
  }
  std::string id = NotificationIdOf(command);
  executor_.Execute(std::move(id), std::move(command), std::move(context), std::move(patient_key),
                    std::move(done));
}

absl::StatusOr<es::app::CommandResult> NotifyService::ExecuteAndWait(
    domain::NotificationCommand command, es::app::CommandContext context) {
  std::promise<absl::StatusOr<es::app::CommandResult>> promise;
  auto future = promise.get_future();
  Execute(
      std::move(command), std::move(context),
      [&promise](absl::StatusOr<es::app::CommandResult> r) { promise.set_value(std::move(r)); });
  return future.get();
}

absl::StatusOr<v1::Notification> NotifyService::Get(const std::string& notification_id) const {
  if (!es::IsValidId(notification_id)) return es::InvalidField("notification_id", es::kIdRule);
  absl::StatusOr<v1::Notification> n = executor_.Load(notification_id);
  if (!n.ok()) return n.status();
  if (n->version() == 0) {
    return absl::NotFoundError(absl::StrCat("notification ", notification_id, " does not exist"));
  }
  return n;
}

absl::StatusOr<NotificationPage> NotifyService::List(const std::string& recipient_id,
                                                     const std::string& unit,
                                                     v1::NotificationStatus status, int page_size,
                                                     const std::string& page_token) const {
  if (recipient_id.empty() == unit.empty()) {
    return es::InvalidField("owner", "exactly one of recipient_id and unit is required");
  }
  if (!v1::NotificationStatus_IsValid(status)) return es::InvalidField("status", "unknown value");
  absl::StatusOr<int> size = es::app::PageSize(page_size);
  if (!size.ok()) return size.status();
  const std::string prefix = recipient_id.empty()
                                 ? views::UnitListPrefix(unit, status)
                                 : views::RecipientListPrefix(recipient_id, status);
  absl::StatusOr<std::string> after = es::app::DecodePageToken(page_token, prefix);
  if (!after.ok()) return after.status();
  absl::StatusOr<std::vector<es::storage::ViewRow>> rows = views_.Scan(prefix, *after, *size);
  if (!rows.ok()) return rows.status();
  NotificationPage page;
  for (const es::storage::ViewRow& row : *rows) {
    v1::Notification n;
    if (!n.ParseFromString(row.value)) return absl::DataLossError("notification row: unreadable");
    page.notifications.push_back(std::move(n));
  }
  page.next_page_token = es::app::NextPageToken(*rows, *size);
  return page;
}

std::string NotifyService::ContactPreferenceKey(const std::string& patient_key) {
  return absl::StrCat("cp/", patient_key);
}

absl::Status NotifyService::SetContactPreference(const referral::v1::PatientIdentifier& patient,
                                                 v1::ContactPreference preference) {
  absl::StatusOr<std::string> key = pathways::PatientKeyOf(patient, pseudonymizer_, "patient");
  if (!key.ok()) return key.status();
  if (preference.consent() && preference.address().empty()) {
    return es::InvalidField("preference.address", "is required with consent");
  }
  if (preference.consent() && preference.channel() != v1::FILE &&
      preference.channel() != v1::WEBHOOK) {
    return es::InvalidField("preference.channel", "must be FILE or WEBHOOK with consent");
  }
  if (preference.language().empty()) preference.set_language("nb");
  if (!domain::IsSupportedLanguage(preference.language())) {
    return es::InvalidField("preference.language", "must be nb, da or en");
  }
  for (int i = 0; i < preference.relatives_size(); ++i) {
    const auto& relative = preference.relatives(i);
    if (!es::IsValidId(relative.contact_id())) {
      return es::InvalidField(absl::StrCat("preference.relatives[", i, "].contact_id"),
                              es::kIdRule);
    }
    if (relative.consent() && relative.address().empty()) {
      return es::InvalidField(absl::StrCat("preference.relatives[", i, "].address"),
                              "is required with consent");
    }
  }
  *preference.mutable_recorded_at() = es::ToProtoTimestamp(clock_.Now());
  // Consent is personal data with legal weight: who changed it is in the audit log.
  audit_.Info("contact preference set",
              {{"consent", preference.consent() ? "yes" : "no"},
               {"relatives", std::to_string(preference.relatives_size())}});
  return views_.Apply({{ContactPreferenceKey(*key), preference.SerializeAsString()}});
}

absl::StatusOr<std::optional<v1::ContactPreference>> NotifyService::ContactPreferenceOf(
    const std::string& patient_key) const {
  absl::StatusOr<std::optional<std::string>> row = views_.Get(ContactPreferenceKey(patient_key));
  if (!row.ok()) return row.status();
  if (!row->has_value()) return std::optional<v1::ContactPreference>();
  v1::ContactPreference preference;
  if (!preference.ParseFromString(**row)) return absl::DataLossError("preference: unreadable");
  return std::optional<v1::ContactPreference>(std::move(preference));
}

}  // namespace notify::app
