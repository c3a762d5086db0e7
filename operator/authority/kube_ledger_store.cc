#include "operator/authority/kube_ledger_store.h"

#include <utility>

#include "common/log.h"
#include "operator/authority/kube_ledger_objects.h"

namespace agentbudget::authority {

using namespace kube_ledger;  // NOLINT(google-build-using-namespace): the store's own layout

namespace {

// More than the API server adds to a ConfigMap we create (about 300 bytes of metadata).
constexpr int64_t kServerMetadataAllowance = 1024;

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
  const nlohmann::json entries = BinaryData(Lines(batch.begin(), batch.end()));
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
        {"binaryData", entries},
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
    const Result<std::string> lines = TakeLines(listed->items[0]);
    Status decoded = lines.ok() ? DecodeLines(*lines, entries) : Status(lines.error());
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

}  // namespace agentbudget::authority
