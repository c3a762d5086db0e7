#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

namespace agentbudget::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Sets the lowest level written (default kInfo) and the component name stamped on every
// line. Call once at start-up, before other threads log.
void Configure(std::string_view component, Level min_level);

// Parses "debug", "info", "warn" or "error"; returns false for anything else.
bool ParseLevel(std::string_view text, Level* level);

// Whether lines of `level` are written: lets a caller skip building fields no one reads.
bool Enabled(Level level);

// Writes one JSON object per line to stderr: {"ts","level","component","msg", ...fields}.
// `fields` must be a JSON object (or null). Thread-safe: each line is a single write.
// Never pass secrets or prompt bodies as fields.
void Write(Level level, std::string_view message, const nlohmann::json& fields);

inline void Debug(std::string_view message, const nlohmann::json& fields = nullptr) {
  Write(Level::kDebug, message, fields);
}
inline void Info(std::string_view message, const nlohmann::json& fields = nullptr) {
  Write(Level::kInfo, message, fields);
}
inline void Warn(std::string_view message, const nlohmann::json& fields = nullptr) {
  Write(Level::kWarn, message, fields);
}
inline void Error(std::string_view message, const nlohmann::json& fields = nullptr) {
  Write(Level::kError, message, fields);
}

}  // namespace agentbudget::log
