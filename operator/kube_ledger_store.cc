#include "operator/kube_ledger_store.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace agentbudget::operator_ {
namespace {

constexpr const char* kLabel = "agentbudget.io/ledger";
constexpr const char* kPrefix = "agentbudget-ledger-";

std::string SegmentName(uint64_t sequence) {
  char name[64];
  std::snprintf(name, sizeof(name), "%s%016llu", kPrefix,
                static_cast<unsigned long long>(sequence));
  return name;
}

}  // namespace

KubeLedgerStore::KubeLedgerStore(kube::Client& client, std::string namespace_name)
    : client_(client), namespace_(std::move(namespace_name)) {}

Status KubeLedgerStore::Append(const std::vector<LedgerEntry>& batch) {
  std::string lines;
  for (const LedgerEntry& entry : batch) {
    lines += entry.ToJson().dump();
    lines += '\n';
  }
  std::lock_guard lock(mu_);
  while (true) {
    nlohmann::json segment = {
        {"apiVersion", "v1"},
        {"kind", "ConfigMap"},
        {"metadata",
         {{"name", SegmentName(next_sequence_)}, {"labels", {{kLabel, "segment"}}}}},
        {"data", {{"entries", lines}}},
    };
    auto created = client_.Create(kube::resources::kConfigMaps, namespace_, segment);
    if (created.ok()) {
      ++next_sequence_;
      return OkStatus();
    }
    if (created.error().code == ErrorCode::kAlreadyExists) {
      // A segment of ours whose Create timed out but landed, or one written by a previous
      // leader: move past it.
      ++next_sequence_;
      continue;
    }
    return std::move(created).error();
  }
}

Result<std::vector<LedgerEntry>> KubeLedgerStore::Load() {
  kube::ListOptions options;
  options.label_selector = std::string(kLabel) + "=segment";
  auto listed = client_.ListAll(kube::resources::kConfigMaps, namespace_, options, 100);
  if (!listed.ok()) {
    return std::move(listed).error();
  }
  std::vector<std::pair<std::string, const nlohmann::json*>> segments;
  for (const auto& item : listed->items) {
    const std::string name = item.value("/metadata/name"_json_pointer, std::string());
    const std::string digits = name.substr(std::min(name.size(), std::string(kPrefix).size()));
    if (name.rfind(kPrefix, 0) == 0 && !digits.empty() && digits.size() <= 19 &&
        std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      segments.emplace_back(name, &item);
    }
  }
  std::sort(segments.begin(), segments.end());
  std::vector<LedgerEntry> entries;
  uint64_t next = 0;
  for (const auto& [name, item] : segments) {
    next = std::max<uint64_t>(next, std::stoull(name.substr(std::string(kPrefix).size())) + 1);
    const std::string lines = item->value("/data/entries"_json_pointer, std::string());
    std::istringstream stream(lines);
    std::string line;
    while (std::getline(stream, line)) {
      if (line.empty()) {
        continue;
      }
      auto parsed = nlohmann::json::parse(line, nullptr, false);
      auto entry = LedgerEntry::FromJson(parsed);
      if (!entry.ok()) {
        return Internal("ledger segment " + name + ": " + entry.error().message);
      }
      entries.push_back(std::move(*entry));
    }
  }
  std::lock_guard lock(mu_);
  next_sequence_ = std::max(next_sequence_, next);
  return entries;
}

}  // namespace agentbudget::operator_
