#include "operator/authority/kube_ledger_store.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

#include "common/log.h"
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

// Decodes the JSON lines of a ConfigMap into `out`; kInvalidArgument naming the first bad
// line, and then `out` is unchanged.
Status DecodeLines(const nlohmann::json& item, std::vector<LedgerEntry>& out) {
  const nlohmann::json* lines_json = nullptr;
  if (auto data = item.find("data"); data != item.end() && data->is_object()) {
    if (auto entries = data->find("entries"); entries != data->end() && entries->is_string()) {
      lines_json = &*entries;
    }
  }
  if (lines_json == nullptr) {
    return InvalidArgument("no data.entries");
  }
  std::istringstream stream(lines_json->get_ref<const std::string&>());
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

int64_t SizeOf(const nlohmann::json& object) {
  return static_cast<int64_t>(object.dump().size());
}

}  // namespace

KubeLedgerStore::KubeLedgerStore(kube::Client& client, std::string namespace_name,
                                 Options options)
    : client_(client), namespace_(std::move(namespace_name)), options_(options) {}

Status KubeLedgerStore::CreateWithin(const nlohmann::json& object) {
  const std::string name = object["metadata"]["name"].get<std::string>();
  const int64_t size = SizeOf(object);
  {
    MutexLock lock(mu_);
    if (bytes_ + size > options_.ceiling_bytes) {
      return MakeError(ErrorCode::kResourceExhausted,
                       "ledger store: " + name + " (" + std::to_string(size) +
                           " bytes) would pass the ledger's ceiling of " +
                           std::to_string(options_.ceiling_bytes) + " bytes in etcd (" +
                           std::to_string(bytes_) + " held)");
    }
    // Counted before the request, so concurrent creates never pass the ceiling together.
    bytes_ += size - sizes_[name];
    sizes_[name] = size;
  }
  auto created = client_.Create(kube::resources::kConfigMaps, namespace_, object);
  if (created.ok() || created.error().code == ErrorCode::kAlreadyExists) {
    return created.ok() ? OkStatus() : Status(std::move(created).error());
  }
  // Not created (or not known to be: a timed-out create is found by the next Read).
  MutexLock lock(mu_);
  bytes_ -= size;
  sizes_.erase(name);
  return std::move(created).error();
}

Status KubeLedgerStore::Append(const std::vector<LedgerEntry>& batch) {
  const std::string lines = Lines(batch.begin(), batch.end());
  while (true) {
    std::string name;
    {
      MutexLock lock(mu_);
      name = SegmentName(next_sequence_++);
    }
    nlohmann::json segment = {
        {"apiVersion", "v1"},
        {"kind", "ConfigMap"},
        {"metadata", {{"name", name}, {"labels", {{kLabel, "segment"}}}}},
        {"data", {{"entries", lines}}},
    };
    Status created = CreateWithin(segment);
    // kAlreadyExists: a segment of ours whose Create timed out but landed, or one written
    // by a previous leader: move past it.
    if (created.ok() || created.error().code != ErrorCode::kAlreadyExists) {
      return created;
    }
  }
}

void KubeLedgerStore::Skip(const std::string& name, const std::string& why) {
  MutexLock lock(mu_);
  if (skipped_.emplace(name, why).second) {
    log::Error("ledger object is not a ledger segment or checkpoint; left out and kept",
               {{"configmap", name}, {"namespace", namespace_}, {"reason", why}});
  }
}

StoreUsage KubeLedgerStore::Usage() const {
  MutexLock lock(mu_);
  return StoreUsage{bytes_, static_cast<int64_t>(sizes_.size()), options_.ceiling_bytes,
                    static_cast<int64_t>(skipped_.size())};
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
  std::map<std::string, int64_t> sizes;
  for (const auto& item : listed->items) {
    const std::string name = item.value("/metadata/name"_json_pointer, std::string());
    const std::string kind = item.value("/metadata/labels/agentbudget.io~1ledger"_json_pointer,
                                        std::string());
    sizes[name] = SizeOf(item);
    if (kind == "checkpoint" && name.rfind(kCheckpointPrefix, 0) == 0) {
      layout.checkpoint_maps.push_back(name);
      const auto& annotations = item.value("/metadata/annotations"_json_pointer, nlohmann::json());
      auto covers = Number(annotations.value(kCoversAnnotation, std::string()));
      auto parts = Number(annotations.value(kPartsAnnotation, std::string()));
      auto part = Number(name.substr(name.rfind('-') + 1));
      if (covers && parts && part && *part < *parts) {
        checkpoints[*covers][*part] = &item;
        declared_parts[*covers] = *parts;
      } else {
        Skip(name, "a checkpoint without valid covers, parts and part number");
      }
      continue;
    }
    if (kind == "segment" && name.rfind(kCheckpointPrefix, 0) != 0 &&
        name.rfind(kPrefix, 0) == 0) {
      if (auto sequence = Number(name.substr(std::string(kPrefix).size()))) {
        segments[*sequence] = {name, &item};
        continue;
      }
    }
    Skip(name, "labelled " + std::string(kLabel) + "=" + kind +
                   " but not named as a ledger segment or checkpoint");
  }
  // The newest checkpoint with every part present (and decodable).
  for (auto checkpoint = checkpoints.rbegin(); checkpoint != checkpoints.rend(); ++checkpoint) {
    if (checkpoint->second.size() != declared_parts[checkpoint->first]) {
      continue;
    }
    std::vector<LedgerEntry> entries;
    bool complete = true;
    for (const auto& [part, item] : checkpoint->second) {
      if (Status decoded = DecodeLines(*item, entries); !decoded.ok()) {
        Skip(CheckpointName(checkpoint->first, part), decoded.error().message);
        complete = false;
      }
    }
    if (complete) {
      layout.covers = checkpoint->first;
      layout.checkpoint = std::move(entries);
      break;
    }
  }
  for (const auto& [sequence, named] : segments) {
    if (layout.covers && sequence <= *layout.covers) {
      layout.stale_segments.push_back(named.first);
      continue;
    }
    Segment segment{sequence, named.first, {}};
    if (Status decoded = DecodeLines(*named.second, segment.entries); !decoded.ok()) {
      Skip(named.first, decoded.error().message);
      continue;
    }
    layout.segments.push_back(std::move(segment));
  }
  uint64_t next = layout.covers ? *layout.covers + 1 : 0;
  if (!segments.empty()) {
    next = std::max(next, segments.rbegin()->first + 1);
  }
  MutexLock lock(mu_);
  next_sequence_ = std::max(next_sequence_, next);
  // What the listing saw, plus what was created since it was taken.
  for (auto& [name, size] : sizes) {
    sizes_[name] = size;
  }
  bytes_ = 0;
  for (const auto& [name, size] : sizes_) {
    bytes_ += size;
  }
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
    {
      MutexLock lock(mu_);
      if (skipped_.contains(name)) {
        continue;  // kept for inspection
      }
    }
    Status deleted = client_.Delete(kube::resources::kConfigMaps, namespace_, name);
    if (!deleted.ok() && deleted.error().code != ErrorCode::kNotFound) {
      return deleted;
    }
    MutexLock lock(mu_);
    if (auto found = sizes_.find(name); found != sizes_.end()) {
      bytes_ -= found->second;
      sizes_.erase(found);
    }
  }
  return OkStatus();
}

Result<size_t> KubeLedgerStore::Compact(const CompactOptions& options) {
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
                     [&](const LedgerEntry& entry) { return entry.at < options.before; })) {
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
  // Parts named for this checkpoint can only be left by an interrupted attempt, possibly
  // with other contents: they go first, so the new parts never mix with them.
  std::vector<std::string> leftovers;
  for (const std::string& name : layout->checkpoint_maps) {
    if (name.rfind(CheckpointPrefix(*covers), 0) == 0) {
      leftovers.push_back(name);
    }
  }
  if (Status deleted = DeleteAll(leftovers); !deleted.ok()) {
    return std::move(deleted).error();
  }
  std::vector<LedgerEntry> folded = FoldEntries(settled, options.keep_digests_after);
  Status written = WriteCheckpoint(*covers, folded);
  if (!written.ok() && written.error().code == ErrorCode::kResourceExhausted) {
    log::Warn("ledger checkpoint does not fit under the ceiling; folding without key digests",
              {{"error", written.error().ToString()}});
    // Replays of the keys folded now are no longer recognised; spend stays exact.
    folded = FoldEntries(settled, core::SysSeconds::max());
    written = WriteCheckpoint(*covers, folded);
  }
  if (!written.ok()) {
    return std::move(written).error();
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

Status KubeLedgerStore::WriteCheckpoint(uint64_t covers, const std::vector<LedgerEntry>& folded) {
  const size_t parts = std::max<size_t>(
      1, (folded.size() + kEntriesPerCheckpointPart - 1) / kEntriesPerCheckpointPart);
  std::vector<std::string> written;
  for (size_t part = 0; part < parts; ++part) {
    const size_t begin = part * kEntriesPerCheckpointPart;
    const size_t end = std::min(folded.size(), begin + kEntriesPerCheckpointPart);
    nlohmann::json checkpoint = {
        {"apiVersion", "v1"},
        {"kind", "ConfigMap"},
        {"metadata",
         {{"name", CheckpointName(covers, part)},
          {"labels", {{kLabel, "checkpoint"}}},
          {"annotations",
           {{kCoversAnnotation, std::to_string(covers)},
            {kPartsAnnotation, std::to_string(parts)}}}}},
        {"data",
         {{"entries", Lines(folded.begin() + static_cast<long>(begin),
                            folded.begin() + static_cast<long>(end))}}},
    };
    if (Status created = CreateWithin(checkpoint); !created.ok()) {
      // An incomplete checkpoint is never read; free its room for the next attempt.
      if (Status deleted = DeleteAll(written); !deleted.ok()) {
        log::Warn("cannot delete an incomplete ledger checkpoint",
                  {{"error", deleted.error().ToString()}});
      }
      return created;
    }
    written.push_back(CheckpointName(covers, part));
  }
  return OkStatus();
}

}  // namespace agentbudget::authority
