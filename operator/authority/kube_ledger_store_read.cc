#include "operator/authority/kube_ledger_store.h"

#include <algorithm>
#include <map>
#include <set>

#include "operator/authority/kube_ledger_objects.h"

// KubeLedgerStore::Read: how a listing of the ledger's ConfigMaps becomes its layout.
namespace agentbudget::authority {

using namespace kube_ledger;  // NOLINT(google-build-using-namespace): the store's own layout

namespace {

// ConfigMaps per list request: a page holds at most this many checkpoint parts.
constexpr int64_t kListPageSize = 8;

}  // namespace

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
        complete = complete && object->lines.ok() && !bad.contains(object->name);
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
    Status decoded = object->lines.ok() ? DecodeLines(*object->lines, segment.entries)
                                        : Status(object->lines.error());
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

}  // namespace agentbudget::authority
