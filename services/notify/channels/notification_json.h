#pragma once

// The JSON form of a notification that every channel delivers (one line in a file, the body of
// a webhook POST), so a gateway and the local run see the same document:
//   {"notification_id":"...","kind":"DEADLINE_REMINDER",
//    "recipient":{"role":"COORDINATOR","id":"...","address":"...","language":"nb"},
//    "channel":"WEBHOOK","unit":"...","pathway_id":"...","referral_id":"...",
//    "deadline_id":"...","subject":"...","body":"...",
//    "due_at":"2026-11-25T07:00:00Z","sent_at":"2026-11-25T07:00:01Z"}
// Timestamps are RFC 3339 in UTC; an unset one is null. Template parameters and the patient
// key stay out: the rendered text is what the recipient needs. Pure.

#include <string>

#include "notify/v1/state.pb.h"

namespace notify::channels {

// One line of compact JSON, without the trailing newline. Never throws: text that is not valid
// UTF-8 is replaced by U+FFFD rather than failing the send.
std::string NotificationJson(const v1::Notification& n);

}  // namespace notify::channels
