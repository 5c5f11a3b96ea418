#include "services/referral/app/referral_service.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "clinical/identity.h"
#include "libs/eventing/ids.h"
#include "libs/eventing/proto_time.h"
#include "services/referral/views/referral_view_rows.h"

namespace referral::app {
namespace {

using es::storage::ViewRow;

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 500;

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

std::string TypeName(const v1::ReferralEvent& event) {
  const google::protobuf::FieldDescriptor* field =
      v1::ReferralEvent::descriptor()->FindFieldByNumber(event.payload_case());
  return field == nullptr ? "unknown" : field->message_type()->full_name();
}

std::string KeyFor(const domain::ReferralCommand& command, const es::Pseudonymizer& p) {
  const auto* submit = std::get_if<domain::SubmitReferral>(&command);
  if (submit == nullptr) return "";
  clinical::IdSystem system;
  switch (submit->patient.system()) {
    case v1::PatientIdentifier::NO_FODSELSNUMMER:
      system = clinical::IdSystem::kNoFodselsnummer;
      break;
    case v1::PatientIdentifier::NO_D_NUMBER:
      system = clinical::IdSystem::kNoDNumber;
      break;
    case v1::PatientIdentifier::DK_CPR:
      system = clinical::IdSystem::kDkCpr;
      break;
    default:
      return "";  // Decide names the field
  }
  absl::StatusOr<clinical::NationalId> id = clinical::ValidateNationalId(system, submit->patient.value());
  if (!id.ok()) return "";
  return p.Key(clinical::FhirSystemOid(system), id->digits);
}

absl::StatusOr<int> PageSize(int requested) {
  if (requested < 0 || requested > kMaxPageSize) {
    return absl::InvalidArgumentError(absl::StrCat("page_size: must be 0..", kMaxPageSize));
  }
  return requested == 0 ? kDefaultPageSize : requested;
}

// Page tokens are the last key returned, web-safe base64; checked to lie inside the prefix.
absl::StatusOr<std::string> DecodeToken(const std::string& token, const std::string& prefix) {
  if (token.empty()) return std::string();
  std::string key;
  if (!absl::WebSafeBase64Unescape(token, &key) || key.rfind(prefix, 0) != 0) {
    return absl::InvalidArgumentError("page_token: not a token of this query");
  }
  return key;
}

std::string EncodeToken(const std::vector<ViewRow>& rows, size_t page_size) {
  if (rows.size() < page_size) return "";
  return absl::WebSafeBase64Escape(rows.back().key);
}

}  // namespace

std::string ReferralIdOf(const domain::ReferralCommand& command) {
  return std::visit([](const auto& c) { return c.referral_id; }, command);
}

ReferralService::ReferralService(es::storage::EventStore& store, es::storage::ViewStore& views,
                                 const domain::ReferralDecider& decider,
                                 const es::Pseudonymizer& pseudonymizer, const es::Clock& clock,
                                 ReferralServiceOptions options)
    : store_(store),
      views_(views),
      decider_(decider),
      pseudonymizer_(pseudonymizer),
      clock_(clock),
      options_(std::move(options)) {}

void ReferralService::Execute(domain::ReferralCommand command, CommandContext context,
                              CommandCallback done) {
  if (context.idempotency_key.empty() || context.idempotency_key.size() > 128) {
    done(absl::InvalidArgumentError("idempotency_key: must be 1..128 characters"));
    return;
  }
  if (context.correlation_id.empty()) context.correlation_id = es::NewUuid();
  if (auto* submit = std::get_if<domain::SubmitReferral>(&command)) {
    submit->patient_key = KeyFor(command, pseudonymizer_);
  }
  Attempt(std::make_shared<const domain::ReferralCommand>(std::move(command)),
          std::make_shared<const CommandContext>(std::move(context)), std::move(done),
          options_.conflict_retries);
}

void ReferralService::Attempt(std::shared_ptr<const domain::ReferralCommand> command,
                              std::shared_ptr<const CommandContext> context, CommandCallback done,
                              int retries_left) {
  // A retried call answers with what the first one produced, even if the referral moved on.
  absl::StatusOr<std::optional<eventing::v1::IdempotencyRecord>> seen =
      store_.FindIdempotency(context->idempotency_key);
  if (!seen.ok()) return done(seen.status());
  if (seen->has_value()) {
    if ((*seen)->fingerprint() != context->fingerprint) {
      return done(absl::AlreadyExistsError("idempotency_key: already used for a different command"));
    }
    return done(CommandResult{(*seen)->stream_id(), (*seen)->version(), true});
  }

  const std::string referral_id = ReferralIdOf(*command);
  v1::Referral state = decider_.Initial();
  if (domain::IsValidId(referral_id)) {
    absl::StatusOr<std::optional<eventing::v1::StreamHead>> head = store_.ReadHead(referral_id);
    if (!head.ok()) return done(head.status());
    if (head->has_value() && !state.ParseFromString((*head)->state())) {
      return done(absl::DataLossError(absl::StrCat("referral ", referral_id, ": state unreadable")));
    }
  }
  if (context->expected_version != 0 && context->expected_version != state.version()) {
    return done(absl::AbortedError(absl::StrCat("expected_version: referral is at version ",
                                                state.version(), ", not ",
                                                context->expected_version)));
  }
  absl::StatusOr<std::vector<v1::ReferralEvent>> decided = decider_.Decide(*command, state);
  if (!decided.ok()) return done(decided.status());

  const absl::Time now = clock_.Now();
  const google::protobuf::Timestamp recorded_at = es::ToProtoTimestamp(now);
  const auto* submit = std::get_if<domain::SubmitReferral>(command.get());
  const std::string patient_key = submit != nullptr ? submit->patient_key : state.patient_key();

  es::storage::AppendRequest request;
  request.stream_id = referral_id;
  request.expected_version = state.version();
  request.idempotency_key = context->idempotency_key;
  request.fingerprint = context->fingerprint;
  v1::Referral next = state;
  int64_t version = state.version();
  for (v1::ReferralEvent& event : *decided) {
    eventing::v1::EventMetadata& m = *event.mutable_metadata();
    m.set_event_id(es::NewUuid());
    m.set_stream_id(referral_id);
    m.set_stream_version(++version);
    *m.mutable_occurred_at() = OccurredAt(event);
    *m.mutable_recorded_at() = recorded_at;
    *m.mutable_actor() = context->actor;
    m.set_correlation_id(context->correlation_id);
    m.set_causation_id(context->idempotency_key);
    m.set_idempotency_key(context->idempotency_key);
    m.set_patient_key(patient_key);
    next = decider_.Evolve(std::move(next), event);

    eventing::v1::StoredEvent stored;
    stored.set_event_id(m.event_id());
    stored.set_stream_id(referral_id);
    stored.set_stream_version(version);
    stored.set_type(TypeName(event));
    stored.set_source(options_.source);
    stored.set_topic(options_.topic);
    stored.set_partition_key(patient_key);
    *stored.mutable_time() = recorded_at;
    stored.set_payload(event.SerializeAsString());
    request.events.push_back(std::move(stored));
  }
  request.view_writes = views::RowsForChange(state, next);
  request.state = next.SerializeAsString();

  store_.AppendAsync(
      std::move(request), [this, command, context, done = std::move(done),
                           retries_left](absl::StatusOr<es::storage::AppendResult> result) mutable {
        if (!result.ok()) {
          // Another command on this referral won the race: decide again against its result,
          // unless the client pinned a version, in which case the conflict is theirs to see.
          if (result.status().code() == absl::StatusCode::kAborted &&
              context->expected_version == 0 && retries_left > 0) {
            return Attempt(command, context, std::move(done), retries_left - 1);
          }
          return done(result.status());
        }
        done(CommandResult{result->stream_id, result->version, result->replayed});
      });
}

absl::StatusOr<v1::Referral> ReferralService::Get(const std::string& referral_id) const {
  if (!domain::IsValidId(referral_id)) {
    return absl::InvalidArgumentError("referral_id: must be 1-64 of [A-Za-z0-9._:-]");
  }
  absl::StatusOr<std::optional<eventing::v1::StreamHead>> head = store_.ReadHead(referral_id);
  if (!head.ok()) return head.status();
  if (!head->has_value()) {
    return absl::NotFoundError(absl::StrCat("referral ", referral_id, " does not exist"));
  }
  v1::Referral referral;
  if (!referral.ParseFromString((*head)->state())) {
    return absl::DataLossError(absl::StrCat("referral ", referral_id, ": state unreadable"));
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
  if (!domain::IsValidId(unit)) return absl::InvalidArgumentError("unit: must be 1-64 of [A-Za-z0-9._:-]");
  if (status == v1::REFERRAL_STATUS_UNSPECIFIED || !v1::ReferralStatus_IsValid(status)) {
    return absl::InvalidArgumentError("status: is required");
  }
  absl::StatusOr<int> size = PageSize(page_size);
  if (!size.ok()) return size.status();
  const std::string prefix = views::ListPrefix(unit, status);
  absl::StatusOr<std::string> after = DecodeToken(page_token, prefix);
  if (!after.ok()) return after.status();
  absl::StatusOr<std::vector<ViewRow>> rows = views_.Scan(prefix, *after, *size);
  if (!rows.ok()) return rows.status();
  absl::StatusOr<std::vector<v1::Referral>> referrals = LoadReferrals(*rows);
  if (!referrals.ok()) return referrals.status();
  return Page{std::move(*referrals), EncodeToken(*rows, *size)};
}

absl::StatusOr<WorklistPage> ReferralService::AssessmentWorklist(
    const std::string& unit, absl::Time as_of, int page_size,
    const std::string& page_token) const {
  if (!domain::IsValidId(unit)) return absl::InvalidArgumentError("unit: must be 1-64 of [A-Za-z0-9._:-]");
  absl::StatusOr<int> size = PageSize(page_size);
  if (!size.ok()) return size.status();
  const std::string prefix = views::WorklistPrefix(unit);
  absl::StatusOr<std::string> after = DecodeToken(page_token, prefix);
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
  page.next_page_token = EncodeToken(*rows, *size);
  return page;
}

}  // namespace referral::app
