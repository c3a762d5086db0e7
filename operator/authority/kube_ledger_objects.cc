#include "operator/authority/kube_ledger_objects.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <sstream>
#include <utility>

#include "common/base64.h"
#include "common/gzip.h"

namespace agentbudget::authority::kube_ledger {

std::string SegmentName(uint64_t sequence) {
  char name[64];
  std::snprintf(name, sizeof(name), "%s%016llu", kPrefix,
                static_cast<unsigned long long>(sequence));
  return name;
}

std::string CheckpointPrefix(uint64_t covers) {
  char prefix[80];
  std::snprintf(prefix, sizeof(prefix), "%s%016llu-", kCheckpointPrefix,
                static_cast<unsigned long long>(covers));
  return prefix;
}

std::string CheckpointName(uint64_t covers, size_t part) {
  char digits[24];
  std::snprintf(digits, sizeof(digits), "%04zu", part);
  return CheckpointPrefix(covers) + digits;
}

std::optional<uint64_t> Number(const std::string& digits) {
  if (digits.empty() || digits.size() > 19 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return std::stoull(digits);
}

std::string Lines(std::vector<LedgerEntry>::const_iterator begin,
                  std::vector<LedgerEntry>::const_iterator end) {
  std::string lines;
  for (auto entry = begin; entry != end; ++entry) {
    lines += entry->ToJson().dump();
    lines += '\n';
  }
  return lines;
}

Status DecodeLines(const std::string& lines, std::vector<LedgerEntry>& out) {
  std::istringstream stream(lines);
  std::vector<LedgerEntry> decoded;
  std::string line;
  for (int number = 1; std::getline(stream, line); ++number) {
    if (line.empty()) {
      continue;
    }
    auto entry = LedgerEntry::FromJson(nlohmann::json::parse(line, nullptr, false));
    if (!entry.ok()) {
      return InvalidArgument("line " + std::to_string(number) + ": " + entry.error().message);
    }
    decoded.push_back(std::move(*entry));
  }
  out.insert(out.end(), std::make_move_iterator(decoded.begin()),
             std::make_move_iterator(decoded.end()));
  return OkStatus();
}

nlohmann::json BinaryData(std::string_view lines) {
  return {{kEntriesKey, base64::Encode(gzip::Compress(lines))}};
}

namespace {

// The member `name` of `item`'s object `field` when it is a string, or null.
std::string* StringIn(nlohmann::json& item, const char* field, const char* name) {
  auto object = item.find(field);
  if (object == item.end() || !object->is_object()) {
    return nullptr;
  }
  auto member = object->find(name);
  return member != object->end() && member->is_string() ? &member->get_ref<std::string&>()
                                                        : nullptr;
}

Result<std::string> NoLines() {
  return InvalidArgument(std::string("no binaryData[") + kEntriesKey + "] or data.entries");
}

// Where `item` keeps its lines, if anywhere: gzipped and base64-encoded under
// binaryData[kEntriesKey], or as text under data.entries.
struct StoredLines {
  std::string* value;
  bool gzipped;
};
std::optional<StoredLines> FindLines(nlohmann::json& item) {
  if (std::string* gzipped = StringIn(item, "binaryData", kEntriesKey)) {
    return StoredLines{gzipped, true};
  }
  if (std::string* text = StringIn(item, "data", "entries")) {
    return StoredLines{text, false};
  }
  return std::nullopt;
}

}  // namespace

Result<std::string> TakeLines(nlohmann::json& item) {
  const std::optional<StoredLines> stored = FindLines(item);
  if (!stored) {
    return NoLines();
  }
  if (!stored->gzipped) {
    return std::move(*stored->value);
  }
  auto compressed = base64::Decode(*stored->value);
  auto lines = compressed.ok() ? gzip::Decompress(*compressed, kMaxLinesBytes)
                               : Result<std::string>(std::move(compressed).error());
  if (!lines.ok()) {
    return InvalidArgument(std::string("binaryData[") + kEntriesKey +
                           "]: " + lines.error().message);
  }
  return lines;
}

Listed Keep(nlohmann::json& item) {
  Listed listed;
  listed.name = item.value("/metadata/name"_json_pointer, std::string());
  listed.kind = item.value("/metadata/labels/agentbudget.io~1ledger"_json_pointer, std::string());
  listed.annotations = item.value("/metadata/annotations"_json_pointer, nlohmann::json());
  if (listed.kind != "checkpoint") {
    listed.lines = TakeLines(item);
  } else if (!FindLines(item)) {
    listed.lines = NoLines();
  }
  return listed;
}

CheckpointParts::CheckpointParts(std::function<Status(std::string&&)> sink)
    : sink_(std::move(sink)) {}

Status CheckpointParts::Hand() {
  if (failed_.ok()) {
    failed_ = sink_(std::exchange(part_, std::string()));
  }
  in_part_ = 0;
  return failed_;
}

Status CheckpointParts::Add(const LedgerEntry& entry) {
  if (!failed_.ok()) {
    return failed_;
  }
  std::string line = entry.ToJson().dump() + '\n';
  if (in_part_ > 0 && (in_part_ == kEntriesPerCheckpointPart ||
                       part_.size() + line.size() > kCheckpointPartBytes)) {
    if (Status handed = Hand(); !handed.ok()) {
      return handed;
    }
  }
  part_ += line;
  ++in_part_;
  ++entries_;
  return failed_;
}

Status CheckpointParts::Finish() { return Hand(); }

int64_t SizeOf(const nlohmann::json& object) {
  return static_cast<int64_t>(object.dump().size());
}

}  // namespace agentbudget::authority::kube_ledger
