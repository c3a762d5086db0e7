#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace agentbudget::core {

using SysSeconds = std::chrono::sys_seconds;
using LocalSeconds = std::chrono::local_seconds;

// An IANA time zone read from a TZif file (RFC 8536), including the POSIX TZ rule in its
// footer for instants past the last listed transition. gcc 12 has no std::chrono::tzdb, so
// the project reads /usr/share/zoneinfo itself. Immutable after loading; copies share the
// parsed data; thread-safe.
class TimeZone {
 public:
  // Coordinated Universal Time; needs no file.
  static TimeZone Utc();

  // Loads `name` (e.g. "Europe/Berlin") from `directory`. "UTC" and "Etc/UTC" always work.
  // Fails with kInvalidArgument for names that are not IANA-shaped (absolute paths, "..",
  // odd characters) and with kNotFound when no such zone file exists or it does not parse.
  static Result<TimeZone> Load(std::string_view name,
                               const std::string& directory = "/usr/share/zoneinfo");

  // Parses the bytes of a TZif file (version 1, 2, 3 or 4). Fails with kInvalidArgument
  // naming what is wrong; never reads past the end of `data`.
  static Result<TimeZone> Parse(std::string_view name, std::string_view data);

  const std::string& name() const;

  // Seconds east of UTC in force at `instant`.
  int32_t OffsetAt(SysSeconds instant) const;

  LocalSeconds ToLocal(SysSeconds instant) const;

  // The earliest instant whose local time is `local`. For a local time skipped by a
  // forward transition (spring forward), the instant the transition happens, i.e. the first
  // instant at or after the skipped wall time. For a repeated local time (fall back), the
  // first of the two.
  SysSeconds FromLocal(LocalSeconds local) const;

  struct Data;

 private:
  explicit TimeZone(std::shared_ptr<const Data> data) : data_(std::move(data)) {}
  std::shared_ptr<const Data> data_;
};

}  // namespace agentbudget::core
