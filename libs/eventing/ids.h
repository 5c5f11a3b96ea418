#pragma once

// Identifiers: random UUIDs for new events, name-based UUIDs where a repeat must give the same id.

#include <string>
#include <string_view>

namespace es {

// A random RFC 4122 version-4 UUID, lower-case. Thread-safe.
std::string NewUuid();

// A name-based UUID (version 5 layout over SHA-256 truncated; deterministic): the same
// namespace and name always give the same id, so a replayed decision yields the same event id.
std::string NameUuid(std::string_view name_space, std::string_view name);

// Hex SHA-256 of `data`, for fingerprints of commands.
std::string Sha256Hex(std::string_view data);

}  // namespace es
