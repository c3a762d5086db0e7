#include "operator/authority/kube_ledger_store.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <utility>
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
constexpr const char* kBaseAnnotation = "agentbudget.io/ledger-base";
constexpr size_t kEntriesPerCheckpointPart = 1000;
// Well below the API server's 1 MiB limit on a ConfigMap's data.
constexpr size_t kCheckpointPartBytes = 768 << 10;
// Deltas on a checkpoint chain before it is merged into one checkpoint again.
constexpr size_t kMergeAfter = 12;
// ConfigMaps per list request: a page holds at most this many checkpoint parts.
constexpr int64_t kListPageSize = 8;
// How far behind the newest entry a merge writes totals out: entries come in commit order,
// and a bucket this old gets no more.
constexpr std::chrono::hours kSettledAfter{1};
// More than the API server adds to a ConfigMap we create (about 300 bytes of metadata).
constexpr int64_t kServerMetadataAllowance = 1024;

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

// Decodes JSON lines into `out`; kInvalidArgument naming the first bad line, and then
// `out` is unchanged.
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

// A listed ledger ConfigMap, without the rest of its JSON.
struct Listed {
  std::string name;
  std::string kind;  // its agentbudget.io/ledger label
  nlohmann::json annotations;
  std::optional<std::string> lines;  // data.entries, when a string
};

// data.entries of ConfigMap `item`, moved out; nullopt when it has none.
std::optional<std::string> TakeLines(nlohmann::json& item) {
  if (auto data = item.find("data"); data != item.end() && data->is_object()) {
    if (auto entries = data->find("entries"); entries != data->end() && entries->is_string()) {
      return std::move(entries->get_ref<std::string&>());
    }
  }
  return std::nullopt;
}

// A checkpoint's lines are left out (read again a part at a time when used).
Listed Keep(nlohmann::json& item) {
  Listed listed;
  listed.name = item.value("/metadata/name"_json_pointer, std::string());
  listed.kind = item.value("/metadata/labels/agentbudget.io~1ledger"_json_pointer, std::string());
  listed.annotations = item.value("/metadata/annotations"_json_pointer, nlohmann::json());
  listed.lines = TakeLines(item);
  if (listed.kind == "checkpoint" && listed.lines) {
    listed.lines = std::string();
  }
  return listed;
}

// Checkpoint entries as JSON lines, in parts of at most kEntriesPerCheckpointPart entries
// and kCheckpointPartBytes (an entry's key digests make it grow with its bucket's calls).
class CheckpointParts {
 public:
  void Add(const LedgerEntry& entry) {
    std::string line = entry.ToJson().dump() + '\n';
    if (in_part_ > 0 && (in_part_ == kEntriesPerCheckpointPart ||
                         parts_.back().size() + line.size() > kCheckpointPartBytes)) {
      parts_.emplace_back();
      in_part_ = 0;
    }
    parts_.back() += line;
    ++in_part_;
    ++entries_;
  }
  size_t entries() const { return entries_; }
  std::vector<std::string> Take() { return std::exchange(parts_, std::vector<std::string>(1)); }

 private:
  std::vector<std::string> parts_ = std::vector<std::string>(1);
  size_t in_part_ = 0;
  size_t entries_ = 0;
};

int64_t SizeOf(const nlohmann::json& object) {
  return static_cast<int64_t>(object.dump().size());
}

}  // namespace

KubeLedgerStore::KubeLedgerStore(kube::Client& client, std::string namespace_name,
                                 Options options)
    : client_(client), namespace_(std::move(namespace_name)), options_(options) {}

Status KubeLedgerStore::CreateWithin(const nlohmann::json& object, int64_t limit) {
  const std::string name = object["metadata"]["name"].get<std::string>();
  // The API server adds metadata (uid, resourceVersion, timestamps, managedFields): room
  // for it is held until the stored object's size is known.
  const int64_t size = SizeOf(object) + kServerMetadataAllowance;
  {
    MutexLock lock(mu_);
    if (bytes_ + size > limit) {
      return MakeError(ErrorCode::kResourceExhausted,
                       "ledger store: " + name + " (" + std::to_string(size) +
                           " bytes) would pass " + std::to_string(limit) +
                           " bytes of the ledger's ceiling of " +
                           std::to_string(options_.ceiling_bytes) + " bytes in etcd (" +
                           std::to_string(bytes_) + " held)");
    }
    // Counted before the request, so concurrent creates never pass the ceiling together.
    bytes_ += size - sizes_[name];
    sizes_[name] = size;
  }
  auto created = client_.Create(kube::resources::kConfigMaps, namespace_, object);
  MutexLock lock(mu_);
  if (created.ok()) {
    const int64_t stored = SizeOf(*created);
    bytes_ += stored - sizes_[name];
    sizes_[name] = stored;
    return OkStatus();
  }
  if (created.error().code == ErrorCode::kAlreadyExists) {
    return std::move(created).error();  // its size is counted until the next Read
  }
  // Not created (or not known to be: a timed-out create is found by the next Read).
  bytes_ -= sizes_[name];
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
    Status created = CreateWithin(
        segment, static_cast<int64_t>(static_cast<double>(options_.ceiling_bytes) * kAppendShare));
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
    log::Error("a ConfigMap labelled as the ledger's is not ledger data; left out and kept",
               {{"configmap", name}, {"namespace", namespace_}, {"reason", why}});
  }
}

StoreUsage KubeLedgerStore::Usage() const {
  MutexLock lock(mu_);
  return StoreUsage{bytes_, static_cast<int64_t>(sizes_.size()), options_.ceiling_bytes,
                    static_cast<int64_t>(skipped_.size())};
}

Result<KubeLedgerStore::Layout> KubeLedgerStore::Read() {
  // A page at a time (checkpoint parts are up to 768 KiB each), so the raw listing is
  // never held whole.
  kube::ListOptions options;
  options.label_selector = kLabel;
  options.limit = kListPageSize;
  std::vector<Listed> objects;
  std::map<std::string, int64_t> sizes;
  bool restarted = false;
  while (true) {
    auto page = client_.List(kube::resources::kConfigMaps, namespace_, options);
    if (!page.ok()) {
      if (page.error().code == ErrorCode::kGone && !options.continue_token.empty() &&
          !restarted) {
        // The continuation expired: start over from a fresh snapshot.
        restarted = true;
        objects.clear();
        sizes.clear();
        options.continue_token.clear();
        continue;
      }
      return std::move(page).error();
    }
    for (nlohmann::json& item : page->items) {
      const int64_t size = SizeOf(item);
      objects.push_back(Keep(item));
      sizes[objects.back().name] = size;
    }
    if (page->continue_token.empty()) {
      break;
    }
    options.continue_token = page->continue_token;
  }
  std::set<std::string> bad;
  {
    MutexLock lock(mu_);
    for (const auto& [name, why] : skipped_) {
      bad.insert(name);
    }
  }
  Layout layout;
  struct Checkpoint {
    std::map<size_t, Listed*> parts;
    size_t declared_parts = 0;
    std::optional<uint64_t> base;
  };
  std::map<uint64_t, Checkpoint> checkpoints;  // by the sequence each covers
  std::map<uint64_t, Listed*> segments;
  for (Listed& object : objects) {
    const std::string& name = object.name;
    if (object.kind == "checkpoint" && name.rfind(kCheckpointPrefix, 0) == 0) {
      layout.checkpoint_maps.push_back(name);
      auto covers = Number(object.annotations.value(kCoversAnnotation, std::string()));
      auto parts = Number(object.annotations.value(kPartsAnnotation, std::string()));
      auto part = Number(name.substr(name.rfind('-') + 1));
      const std::string base = object.annotations.value(kBaseAnnotation, std::string());
      auto base_covers = Number(base);
      if (covers && parts && part && *part < *parts && (base.empty() || base_covers)) {
        Checkpoint& checkpoint = checkpoints[*covers];
        checkpoint.parts[*part] = &object;
        checkpoint.declared_parts = *parts;
        checkpoint.base = base_covers;
      } else {
        Skip(name, "a checkpoint without valid covers, parts and part number");
      }
      continue;
    }
    if (object.kind == "segment" && name.rfind(kCheckpointPrefix, 0) != 0 &&
        name.rfind(kPrefix, 0) == 0) {
      if (auto sequence = Number(name.substr(std::string(kPrefix).size()))) {
        segments[*sequence] = &object;
        continue;
      }
    }
    Skip(name, "labelled " + std::string(kLabel) + "=" + object.kind +
                   " but not named as a ledger segment or checkpoint");
  }
  // The newest checkpoint whose chain (it, its base, its base's base, ...) has every part
  // present and none reported bad; its parts are the chain's, oldest first.
  for (auto newest = checkpoints.rbegin(); newest != checkpoints.rend(); ++newest) {
    std::vector<Listed*> parts;  // newest link first, each link's parts in order
    std::vector<uint64_t> chain;
    std::optional<uint64_t> covers = newest->first;
    bool complete = true;
    while (covers && complete) {
      auto found = checkpoints.find(*covers);
      complete = found != checkpoints.end() &&
                 found->second.parts.size() == found->second.declared_parts &&
                 (!found->second.base || *found->second.base < *covers);
      if (!complete) {
        break;
      }
      std::vector<Listed*> link;
      for (const auto& [part, object] : found->second.parts) {
        complete = complete && object->lines.has_value() && !bad.contains(object->name);
        link.push_back(object);
      }
      parts.insert(parts.begin(), link.begin(), link.end());
      chain.push_back(*covers);
      covers = found->second.base;
    }
    if (!complete) {
      continue;
    }
    layout.covers = newest->first;
    layout.chain = std::move(chain);
    for (Listed* part : parts) {
      layout.checkpoint.push_back(part->name);
    }
    break;
  }
  for (const auto& [sequence, object] : segments) {
    if (layout.covers && sequence <= *layout.covers) {
      layout.stale_segments.push_back(object->name);
      continue;
    }
    Segment segment{sequence, object->name, {}};
    Status decoded = object->lines ? DecodeLines(*object->lines, segment.entries)
                                   : InvalidArgument("no data.entries");
    if (!decoded.ok()) {
      Skip(object->name, decoded.error().message);
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

Status KubeLedgerStore::VisitCheckpoint(const Layout& layout,
                                        const std::function<void(LedgerEntry&&)>& visit) {
  for (const std::string& name : layout.checkpoint) {
    // A list by name: the operator's Role lets it list the ledger's ConfigMaps, not get them.
    kube::ListOptions options;
    options.field_selector = "metadata.name=" + name;
    auto listed = client_.List(kube::resources::kConfigMaps, namespace_, options);
    if (!listed.ok()) {
      return std::move(listed).error();
    }
    if (listed->items.size() != 1) {
      return Unavailable("ledger checkpoint " + name + " went while it was read");
    }
    std::vector<LedgerEntry> entries;
    const std::optional<std::string> lines = TakeLines(listed->items[0]);
    Status decoded = lines ? DecodeLines(*lines, entries) : InvalidArgument("no data.entries");
    if (!decoded.ok()) {
      Skip(name, decoded.error().message);
      return Unavailable("ledger checkpoint " + name + " does not decode (" +
                         decoded.error().message + "); read again without its chain");
    }
    for (LedgerEntry& entry : entries) {
      visit(std::move(entry));
    }
  }
  return OkStatus();
}

Result<std::vector<LedgerEntry>> KubeLedgerStore::Load() {
  // A bad part found is reported and passed over by the next Read, so this ends.
  while (true) {
    auto layout = Read();
    if (!layout.ok()) {
      return std::move(layout).error();
    }
    const int64_t skipped = Usage().skipped;
    std::vector<LedgerEntry> entries;
    Status visited = VisitCheckpoint(
        *layout, [&](LedgerEntry&& entry) { entries.push_back(std::move(entry)); });
    if (!visited.ok()) {
      if (Usage().skipped > skipped) {
        continue;
      }
      return std::move(visited).error();
    }
    for (Segment& segment : layout->segments) {
      entries.insert(entries.end(), std::make_move_iterator(segment.entries.begin()),
                     std::make_move_iterator(segment.entries.end()));
    }
    return entries;
  }
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
  std::vector<LedgerEntry> settled;
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
  // A delta on top of the chain needs room for the new totals only; merging the chain
  // rewrites it whole, so it waits until the chain is long and there is room for a copy.
  int64_t chain_bytes = 0;
  for (const std::string& name : layout->checkpoint_maps) {
    for (uint64_t link : layout->chain) {
      if (name.rfind(CheckpointPrefix(link), 0) == 0) {
        MutexLock lock(mu_);
        chain_bytes += sizes_[name];
      }
    }
  }
  const bool merge = layout->chain.size() >= kMergeAfter && [&] {
    MutexLock lock(mu_);
    return bytes_ + chain_bytes <= options_.ceiling_bytes;
  }();
  const std::optional<uint64_t> base = merge ? std::nullopt : layout->covers;
  // The chain is decoded a part at a time: merged, its entries fold again, and totals an
  // hour older than the newest entry seen are written out as lines (far smaller than
  // entries) while the rest is read; under a delta, only their keys count as seen (what
  // the delta is stored next to).
  Folder folder(options.keep_digests_after, options.retain_from);
  CheckpointParts parts;
  size_t added = settled.size();
  core::SysSeconds newest = core::SysSeconds::min();
  auto write_out = [&parts](std::vector<LedgerEntry>&& totals) {
    for (const LedgerEntry& total : totals) {
      parts.Add(total);
    }
  };
  Status visited = VisitCheckpoint(*layout, [&](LedgerEntry&& entry) {
    if (!merge) {
      folder.Count(entry);
      return;
    }
    newest = std::max(newest, entry.at);
    folder.Add(entry);
    if (++added % kEntriesPerCheckpointPart == 0) {
      write_out(folder.TakeSettled(newest - kSettledAfter));
    }
  });
  if (!visited.ok()) {
    return std::move(visited).error();
  }
  for (const LedgerEntry& entry : settled) {
    folder.Add(entry);
  }
  settled.clear();
  write_out(folder.Take());
  const size_t written_entries = parts.entries();
  Status written = WriteCheckpoint(*covers, base, parts.Take());
  if (!written.ok() && written.error().code == ErrorCode::kResourceExhausted &&
      options.keep_digests_after != core::SysSeconds::max()) {
    log::Warn("ledger checkpoint does not fit under the ceiling; folding without key digests",
              {{"error", written.error().ToString()}});
    // Replays of the keys folded now are no longer recognised; spend stays exact (digests
    // take no part in which entries fold together or count).
    CompactOptions without_digests = options;
    without_digests.keep_digests_after = core::SysSeconds::max();
    return Compact(without_digests);
  }
  if (!written.ok()) {
    return std::move(written).error();
  }
  // The new checkpoint is complete: what it replaces may go (a delta keeps its chain).
  for (const std::string& name : layout->checkpoint_maps) {
    const bool in_chain =
        !merge && std::any_of(layout->chain.begin(), layout->chain.end(), [&](uint64_t link) {
          return name.rfind(CheckpointPrefix(link), 0) == 0;
        });
    if (!in_chain && name.rfind(CheckpointPrefix(*covers), 0) != 0) {
      folded_maps.push_back(name);
    }
  }
  if (Status deleted = DeleteAll(folded_maps); !deleted.ok()) {
    return std::move(deleted).error();
  }
  return added - std::min(added, written_entries);
}

Status KubeLedgerStore::WriteCheckpoint(uint64_t covers, std::optional<uint64_t> base,
                                        std::vector<std::string> contents) {
  const size_t parts = contents.size();
  nlohmann::json annotations = {{kCoversAnnotation, std::to_string(covers)},
                                {kPartsAnnotation, std::to_string(parts)}};
  if (base) {
    annotations[kBaseAnnotation] = std::to_string(*base);
  }
  std::vector<std::string> written;
  for (size_t part = 0; part < parts; ++part) {
    nlohmann::json checkpoint = {
        {"apiVersion", "v1"},
        {"kind", "ConfigMap"},
        {"metadata",
         {{"name", CheckpointName(covers, part)},
          {"labels", {{kLabel, "checkpoint"}}},
          {"annotations", annotations}}},
        {"data", {{"entries", std::move(contents[part])}}},
    };
    if (Status created = CreateWithin(checkpoint, options_.ceiling_bytes); !created.ok()) {
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
