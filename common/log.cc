#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <string>

namespace agentbudget::log {
namespace {

std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};
// Written once in Configure before other threads start; read-only afterwards.
std::string g_component = "agentbudget";

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

std::string Timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[32];
  const size_t n = std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%S", &utc);
  char out[48];
  std::snprintf(out, sizeof(out), "%.*s.%03dZ", static_cast<int>(n), buffer,
                static_cast<int>(millis));
  return out;
}

}  // namespace

void Configure(std::string_view component, Level min_level) {
  g_component = std::string(component);
  g_min_level.store(static_cast<int>(min_level));
}

bool ParseLevel(std::string_view text, Level* level) {
  for (Level candidate : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (text == LevelName(candidate)) {
      *level = candidate;
      return true;
    }
  }
  return false;
}

bool Enabled(Level level) {
  return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed);
}

void Write(Level level, std::string_view message, const nlohmann::json& fields) {
  if (!Enabled(level)) {
    return;
  }
  nlohmann::json line = {{"ts", Timestamp()},
                         {"level", LevelName(level)},
                         {"component", g_component},
                         {"msg", message}};
  if (fields.is_object()) {
    for (const auto& [key, value] : fields.items()) {
      line[key] = value;
    }
  }
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text.push_back('\n');
  // One write(2) per line keeps concurrent lines whole (stderr is unbuffered).
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(STDERR_FILENO, text.data() + written, text.size() - written);
    if (n <= 0) {
      return;
    }
    written += static_cast<size_t>(n);
  }
}

}  // namespace agentbudget::log
