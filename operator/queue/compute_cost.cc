#include "operator/queue/compute_cost.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <utility>

#include "core/time_format.h"
#include "api/v1alpha1/agent_workload.h"
#include "core/json_field.h"

namespace agentbudget::queue {
namespace {

// 128-bit intermediates for products of micro-dollars, sizes and seconds.
__extension__ using Int128 = __int128;

using nlohmann::json;

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

const json& Member(const json& object, const char* key) {
  static const json kNull;
  return object.is_object() && object.contains(key) ? object[key] : kNull;
}

// Multiplier of a quantity suffix, in units (not milli-units); 0 when unknown.
Int128 SuffixScale(const std::string& suffix, bool* milli) {
  *milli = false;
  static const std::pair<const char*, Int128> kScales[] = {
      {"", 1},
      {"k", 1000},
      {"M", 1000'000},
      {"G", 1000'000'000},
      {"T", static_cast<Int128>(1000'000'000) * 1000},
      {"Ki", 1024},
      {"Mi", 1024 * 1024},
      {"Gi", static_cast<Int128>(1024) * 1024 * 1024},
      {"Ti", static_cast<Int128>(1024) * 1024 * 1024 * 1024},
  };
  if (suffix == "m") {
    *milli = true;
    return 1;
  }
  for (const auto& [name, scale] : kScales) {
    if (suffix == name) {
      return scale;
    }
  }
  return 0;
}

void AddRequests(const json& container, PodRequests& total) {
  const json& requests = Member(Member(container, "resources"), "requests");
  if (auto cpu = ParseQuantityMillis(core::StringField(requests, "cpu")); cpu.ok()) {
    total.millicores = std::min(kMax - *cpu, total.millicores) + *cpu;
  }
  if (auto memory = ParseQuantityMillis(core::StringField(requests, "memory")); memory.ok()) {
    const int64_t bytes = *memory / 1000;
    total.memory_bytes = std::min(kMax - bytes, total.memory_bytes) + bytes;
  }
}

}  // namespace

Result<int64_t> ParseQuantityMillis(const std::string& text) {
  size_t i = 0;
  Int128 whole = 0;
  Int128 fraction_millis = 0;
  int fraction_digits = 0;
  bool digits = false;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
    whole = whole * 10 + (text[i] - '0');
    digits = true;
    if (whole > kMax) {
      return InvalidArgument("quantity \"" + text + "\" is too large");
    }
  }
  if (i < text.size() && text[i] == '.') {
    for (++i; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
      digits = true;
      // Digits past the third are below a milli-unit of a unit; they still count below.
      if (fraction_digits < 9) {
        fraction_millis = fraction_millis * 10 + (text[i] - '0');
        ++fraction_digits;
      }
    }
  }
  bool milli = false;
  const Int128 scale = SuffixScale(text.substr(i), &milli);
  if (!digits || scale == 0) {
    return InvalidArgument("\"" + text + "\" is not a Kubernetes quantity");
  }
  Int128 pow10 = 1;
  for (int d = 0; d < fraction_digits; ++d) {
    pow10 *= 10;
  }
  // value in milli-units = (whole + fraction / pow10) * scale * (milli ? 1 : 1000)
  const Int128 unit = milli ? 1 : 1000;
  const Int128 millis = whole * scale * unit + (fraction_millis * scale * unit) / pow10;
  if (millis > kMax) {
    return InvalidArgument("quantity \"" + text + "\" is too large");
  }
  return static_cast<int64_t>(millis);
}

PodRequests RequestsOf(const json& pod) {
  PodRequests total;
  const json& spec = Member(pod, "spec");
  const json& containers = Member(spec, "containers");
  if (containers.is_array()) {
    for (const json& container : containers) {
      AddRequests(container, total);
    }
  }
  const json& init = Member(spec, "initContainers");
  if (init.is_array()) {
    for (const json& container : init) {
      if (core::StringField(container, "restartPolicy") == "Always") {
        AddRequests(container, total);
      }
    }
  }
  return total;
}

std::optional<int64_t> RuntimeSeconds(const json& pod, core::SysSeconds ended) {
  const json& status = Member(pod, "status");
  auto started = core::ParseRfc3339(core::StringField(status, "startTime"));
  if (!started.ok()) {
    return std::nullopt;
  }
  std::optional<core::SysSeconds> finished;
  const json& statuses = Member(status, "containerStatuses");
  if (statuses.is_array()) {
    for (const json& container : statuses) {
      const json& terminated = Member(Member(container, "state"), "terminated");
      auto at = core::ParseRfc3339(core::StringField(terminated, "finishedAt"));
      if (at.ok() && (!finished || *at > *finished)) {
        finished = *at;
      }
    }
  }
  const core::SysSeconds end = finished.value_or(ended);
  return std::max<int64_t>(0, (end - *started).count());
}

int64_t ComputeCostMicros(const PodRequests& requests, int64_t seconds,
                          const ComputePrices& prices) {
  // Inputs are clamped to far beyond any real pod (a million cores, a petabyte, ~30 years,
  // $1M per hour) so that the products below fit in 128 bits.
  auto clamp = [](int64_t value, int64_t most) { return std::clamp<int64_t>(value, 0, most); };
  const Int128 cpu = static_cast<Int128>(clamp(requests.millicores, 1'000'000'000)) *
                       clamp(seconds, 1'000'000'000) *
                       clamp(prices.micros_per_core_hour, 1'000'000'000'000);
  const Int128 memory = static_cast<Int128>(clamp(requests.memory_bytes, 1LL << 50)) *
                          clamp(seconds, 1'000'000'000) *
                          clamp(prices.micros_per_gib_hour, 1'000'000'000'000);
  auto divide_up = [](Int128 a, Int128 b) { return (a + b - 1) / b; };
  const Int128 micros = divide_up(cpu, static_cast<Int128>(1000) * 3600) +
                          divide_up(memory, static_cast<Int128>(3600) << 30);
  return micros > kMax ? kMax : static_cast<int64_t>(micros);
}

}  // namespace agentbudget::queue
