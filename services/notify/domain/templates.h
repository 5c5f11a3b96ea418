#pragma once

// Message texts per notification kind and language (Norwegian bokmål "nb", Danish "da",
// English "en"), filled from the notification's parameters. Texts never name a diagnosis or a
// national id: parameters are unit ids, dates, rule ids and pseudonymous references. Pure.

#include <map>
#include <string>

#include "notify/v1/events.pb.h"

namespace notify::domain {

struct RenderedMessage {
  std::string subject;
  std::string body;
};

// An unknown language falls back to "nb"; a missing parameter renders as "?".
RenderedMessage Render(v1::NotificationKind kind, const std::string& language,
                       const google::protobuf::Map<std::string, std::string>& params);

bool IsSupportedLanguage(const std::string& language);

}  // namespace notify::domain
