#include "operator/authority/kube_ledger_store.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

#include "operator/authority/ledger_compaction.h"

namespace agentbudget::authority {
namespace {

constexpr const char* kLabel = "agentbudget.io/ledger";
constexpr const char* kPrefix = "agentbudget-ledger-";
constexpr const char* kCheckpointPrefix = "agentbudget-ledger-checkpoint-";
constexpr const char* kCoversAnnotation = "agentbudget.io/ledger-covers";
constexpr const char* kPartsAnnotation = "agentbudget.io/ledger-parts";
constexpr size_t kEntriesPerCheckpointPart = 1000;

std::string SegmentName(uint64_t sequence) {
  char name[64];
  std::snprintf(name, sizeof(name), "%s%016llu", kPrefix,
                static_cast<unsigned long long>(sequence));
  return name;
}

// Every part of the checkpoint covering `covers` starts with this.
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

// A decimal number of at most 19 digits, or nullopt.
std::optional<uint64_t> Number(const std::string& digits) {
  if (digits.empty() || digits.size() > 19 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return std::stoull(digits);
}

// JSON lines, one entry each.
std::string Lines(std::vector<LedgerEntry>::const_iterator begin,
                  std::vector<LedgerEntry>::const_iterator end) {
  std::string lines;
  for (auto entry = begin; entry != end; ++entry) {
    lines += entry->ToJson().dump();
    lines += '\n';
  }
  return lines;
}

// Decodes the JSON lines of ConfigMap `name`; kInternal naming it for a bad line.
Status DecodeLines(const nlohmann::json& item, const std::string& name,
                   std::vector<LedgerEntry>& out) {
  const std::string lines = item.value("/data/entries"_json_pointer, std::string());
  std::istringstream stream(lines);
  std::string line;
  while (std::getline(stream, line)) {
    if (line.empty()) {
      continue;
    }
    auto entry = LedgerEntry::FromJson(nlohmann::json::parse(line, nullptr, false));
    if (!entry.ok()) {
      return Internal("ledger object " + name + ": " + entry.error().message);
    }
    out.push_back(std::move(*entry));
  }
  return OkStatus();
}

}  // namespace

KubeLedgerStore::KubeLedgerStore(kube::Client& client, std::string namespace_name)
    : client_(client), namespace_(std::move(namespace_name)) {}

Status KubeLedgerStore::Append(const std::vector<LedgerEntry>& batch) {
  const std::string lines = Lines(batch.begin(), batch.end());
  MutexLock lock(mu_);
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

Result<KubeLedgerStore::Layout> KubeLedgerStore::Read() {
  kube::ListOptions options;
  options.label_selector = kLabel;
  auto listed = client_.ListAll(kube::resources::kConfigMaps, namespace_, options, 100);
  if (!listed.ok()) {
    return std::move(listed).error();
  }
  Layout layout;
  // covers -> part -> the ConfigMap, and the parts each says the checkpoint has.
  std::map<uint64_t, std::map<size_t, const nlohmann::json*>> checkpoints;
  std::map<uint64_t, size_t> declared_parts;
  std::map<uint64_t, std::pair<std::string, const nlohmann::json*>> segments;
  for (const auto& item : listed->items) {
    const std::string name = item.value("/metadata/name"_json_pointer, std::string());
    const std::string kind = item.value("/metadata/labels/agentbudget.io~1ledger"_json_pointer,
                                        std::string());
    if (kind == "checkpoint" && name.rfind(kCheckpointPrefix, 0) == 0) {
      layout.checkpoint_maps.push_back(name);
      const auto& annotations = item.value("/metadata/annotations"_json_pointer, nlohmann::json());
      auto covers = Number(annotations.value(kCoversAnnotation, std::string()));
      auto parts = Number(annotations.value(kPartsAnnotation, std::string()));
      auto part = Number(name.substr(name.rfind('-') + 1));
      if (covers && parts && part && *part < *parts) {
        checkpoints[*covers][*part] = &item;
        declared_parts[*covers] = *parts;
      }
    } else if (kind == "segment" && name.rfind(kPrefix, 0) == 0) {
      if (auto sequence = Number(name.substr(std::string(kPrefix).size()))) {
        segments[*sequence] = {name, &item};
      }
    }
  }
  // The newest checkpoint with every part present.
  for (auto checkpoint = checkpoints.rbegin(); checkpoint != checkpoints.rend(); ++checkpoint) {
    if (checkpoint->second.size() != declared_parts[checkpoint->first]) {
      continue;
    }
    layout.covers = checkpoint->first;
    for (const auto& [part, item] : checkpoint->second) {
      if (Status decoded = DecodeLines(*item, CheckpointName(checkpoint->first, part),
                                       layout.checkpoint);
          !decoded.ok()) {
        return std::move(decoded).error();
      }
    }
    break;
  }
  for (const auto& [sequence, named] : segments) {
    if (layout.covers && sequence <= *layout.covers) {
      layout.stale_segments.push_back(named.first);
      continue;
    }
    Segment segment{sequence, named.first, {}};
    if (Status decoded = DecodeLines(*named.second, named.first, segment.entries); !decoded.ok()) {
      return std::move(decoded).error();
    }
    layout.segments.push_back(std::move(segment));
  }
  uint64_t next = layout.covers ? *layout.covers + 1 : 0;
  if (!segments.empty()) {
    next = std::max(next, segments.rbegin()->first + 1);
  }
  MutexLock lock(mu_);
  next_sequence_ = std::max(next_sequence_, next);
  return layout;
}

Result<std::vector<LedgerEntry>> KubeLedgerStore::Load() {
  auto layout = Read();
  if (!layout.ok()) {
    return std::move(layout).error();
  }
  std::vector<LedgerEntry> entries = std::move(layout->checkpoint);
  for (Segment& segment : layout->segments) {
    entries.insert(entries.end(), std::make_move_iterator(segment.entries.begin()),
                   std::make_move_iterator(segment.entries.end()));
  }
  return entries;
}

Status KubeLedgerStore::DeleteAll(const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    Status deleted = client_.Delete(kube::resources::kConfigMaps, namespace_, name);
    if (!deleted.ok() && deleted.error().code != ErrorCode::kNotFound) {
      return deleted;
    }
  }
  return OkStatus();
}

Result<size_t> KubeLedgerStore::Compact(core::SysSeconds before) {
  auto layout = Read();
  if (!layout.ok()) {
    return std::move(layout).error();
  }
  // Segments are in commit order, but a late commit can be older than its neighbours:
  // fold only the leading segments whose every entry is settled.
  std::vector<LedgerEntry> settled = std::move(layout->checkpoint);
  std::vector<std::string> folded_maps = std::move(layout->stale_segments);
  std::optional<uint64_t> covers;
  for (Segment& segment : layout->segments) {
    if (!std::all_of(segment.entries.begin(), segment.entries.end(),
                     [&](const LedgerEntry& entry) { return entry.at < before; })) {
      break;
    }
    covers = segment.sequence;
    folded_maps.push_back(segment.name);
    settled.insert(settled.end(), std::make_move_iterator(segment.entries.begin()),
                   std::make_move_iterator(segment.entries.end()));
  }
  if (!covers) {
    // Nothing new to fold; finish a cleanup an earlier compaction could not.
    if (Status deleted = DeleteAll(folded_maps); !deleted.ok()) {
      return std::move(deleted).error();
    }
    return size_t{0};
  }
  const std::vector<LedgerEntry> folded = FoldEntries(settled);
  const size_t parts = std::max<size_t>(
      1, (folded.size() + kEntriesPerCheckpointPart - 1) / kEntriesPerCheckpointPart);
  for (size_t part = 0; part < parts; ++part) {
    const size_t begin = part * kEntriesPerCheckpointPart;
    const size_t end = std::min(folded.size(), begin + kEntriesPerCheckpointPart);
    nlohmann::json checkpoint = {
        {"apiVersion", "v1"},
        {"kind", "ConfigMap"},
        {"metadata",
         {{"name", CheckpointName(*covers, part)},
          {"labels", {{kLabel, "checkpoint"}}},
          {"annotations",
           {{kCoversAnnotation, std::to_string(*covers)},
            {kPartsAnnotation, std::to_string(parts)}}}}},
        {"data",
         {{"entries", Lines(folded.begin() + static_cast<long>(begin),
                            folded.begin() + static_cast<long>(end))}}},
    };
    auto created = client_.Create(kube::resources::kConfigMaps, namespace_, checkpoint);
    // The same inputs give the same parts: one left by an interrupted attempt will do.
    if (!created.ok() && created.error().code != ErrorCode::kAlreadyExists) {
      return std::move(created).error();
    }
  }
  // The new checkpoint is complete: everything it replaces may go.
  for (const std::string& name : layout->checkpoint_maps) {
    if (name.rfind(CheckpointPrefix(*covers), 0) != 0) {
      folded_maps.push_back(name);
    }
  }
  if (Status deleted = DeleteAll(folded_maps); !deleted.ok()) {
    return std::move(deleted).error();
  }
  return settled.size() - folded.size();
}

}  // namespace agentbudget::authority
