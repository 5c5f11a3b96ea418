#include "services/notify/channels/webhook_channel.h"

#include <curl/curl.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/notify/channels/notification_json.h"

namespace notify::channels {
namespace {

// curl_global_init must run once before any other curl call and, in older libcurl, not
// concurrently with anything else; a function-local static gives both. curl_global_cleanup is
// deliberately never called: other code in the process may still be using curl at exit.
CURLcode GlobalInit() {
  static const CURLcode result = curl_global_init(CURL_GLOBAL_DEFAULT);
  return result;
}

// The response body is not needed (the status code decides) and may echo personal data, so it
// is read and dropped rather than kept for error messages.
size_t DiscardBody(char* /*data*/, size_t size, size_t count, void* /*user*/) {
  return size * count;
}

// Frees the header list however Send returns.
struct HeaderList {
  curl_slist* list = nullptr;
  ~HeaderList() { curl_slist_free_all(list); }
  bool Append(const std::string& header) {
    curl_slist* next = curl_slist_append(list, header.c_str());
    if (next == nullptr) return false;
    list = next;
    return true;
  }
};

absl::Status ValidateHeader(const std::string& header) {
  const size_t colon = header.find(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError("webhook headers: each must be \"Name: value\"");
  }
  // A CR or LF would let a configured value smuggle in further headers or a second request.
  if (header.find_first_of("\r\n") != std::string::npos) {
    return absl::InvalidArgumentError("webhook headers: must not contain line breaks");
  }
  // Set by the channel itself; a second copy would leave the gateway to pick one.
  const std::string name = absl::AsciiStrToLower(header.substr(0, colon));
  if (name == "idempotency-key" || name == "content-type") {
    return absl::InvalidArgumentError(
        absl::StrCat("webhook headers: ", header.substr(0, colon), " is set by the channel"));
  }
  return absl::OkStatus();
}

long Millis(absl::Duration d) { return static_cast<long>(absl::ToInt64Milliseconds(d)); }

}  // namespace

absl::StatusOr<std::unique_ptr<WebhookChannel>> WebhookChannel::Create(
    WebhookChannelOptions options) {
  if (!absl::StartsWithIgnoreCase(options.url, "http://") &&
      !absl::StartsWithIgnoreCase(options.url, "https://")) {
    return absl::InvalidArgumentError("webhook url: must start with http:// or https://");
  }
  if (options.timeout <= absl::ZeroDuration() || options.connect_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("webhook timeouts: must be positive");
  }
  for (const std::string& header : options.headers) {
    if (absl::Status st = ValidateHeader(header); !st.ok()) return st;
  }
  if (CURLcode init = GlobalInit(); init != CURLE_OK) {
    return absl::InternalError(absl::StrCat("curl_global_init: ", curl_easy_strerror(init)));
  }
  // Parse the URL now, so that a malformed one stops the service at startup instead of failing
  // every notification later.
  CURLU* parsed = curl_url();
  if (parsed == nullptr) return absl::InternalError("curl_url: out of memory");
  const CURLUcode url_code = curl_url_set(parsed, CURLUPART_URL, options.url.c_str(), 0);
  curl_url_cleanup(parsed);
  if (url_code != CURLUE_OK) {
    return absl::InvalidArgumentError("webhook url: not a valid URL");
  }
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  return std::unique_ptr<WebhookChannel>(new WebhookChannel(std::move(options), curl));
}

WebhookChannel::~WebhookChannel() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

absl::Status WebhookChannel::Send(const v1::Notification& n) {
  CURL* curl = static_cast<CURL*>(curl_);
  const std::string body = NotificationJson(n);

  HeaderList headers;
  bool headers_ok = headers.Append("Content-Type: application/json") &&
                    headers.Append(absl::StrCat("Idempotency-Key: ", n.notification_id())) &&
                    // curl adds "Expect: 100-continue" to large POSTs (over 1 MiB in 7.88,
                    // over 1 KiB in older releases) and then waits a second for a go-ahead
                    // that many small gateways never send.
                    headers.Append("Expect:");
  for (const std::string& header : options_.headers) {
    headers_ok = headers_ok && headers.Append(header);
  }
  if (!headers_ok) return absl::UnavailableError("webhook: out of memory for headers");

  // Options are set afresh for every request on the reused handle; the connection cache
  // survives curl_easy_reset.
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, options_.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.list);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, Millis(options_.timeout));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, Millis(options_.connect_timeout));
  // Without this, curl's name-resolution timeout uses SIGALRM, which is unsafe in a threaded
  // process.
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, DiscardBody);

  const CURLcode code = curl_easy_perform(curl);
  if (code != CURLE_OK) {
    // Timeouts, refused connections, resets, TLS trouble: the gateway may be back later.
    return absl::UnavailableError(absl::StrCat("webhook: ", curl_easy_strerror(code)));
  }
  long http = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http);
  if (http >= 200 && http < 300) return absl::OkStatus();
  if (http >= 400 && http < 500 && http != 408 && http != 429) {
    return absl::FailedPreconditionError(absl::StrCat("webhook: HTTP ", http, " (refused)"));
  }
  // 5xx, 408 (request timeout), 429 (slow down) and anything unexpected (1xx, 3xx) may pass;
  // the dispatcher's backoff spaces the retries and dead-letters after the last.
  return absl::UnavailableError(absl::StrCat("webhook: HTTP ", http));
}

}  // namespace notify::channels
