#include "kube/timestamps.h"

#include <cstdio>
#include <ctime>

namespace agentbudget::kube {
namespace {

std::string Format(std::chrono::system_clock::time_point time, bool micros) {
  auto since_epoch = time.time_since_epoch();
  auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
  auto micro = std::chrono::duration_cast<std::chrono::microseconds>(since_epoch - seconds);
  std::time_t t = static_cast<std::time_t>(seconds.count());
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buffer[40];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &utc);
  std::string out(buffer);
  if (micros) {
    char fraction[32];
    std::snprintf(fraction, sizeof fraction, ".%06lld", static_cast<long long>(micro.count()));
    out += fraction;
  }
  return out + "Z";
}

}  // namespace

std::string FormatTime(std::chrono::system_clock::time_point time) { return Format(time, false); }

std::string FormatMicroTime(std::chrono::system_clock::time_point time) {
  return Format(time, true);
}

}  // namespace agentbudget::kube
