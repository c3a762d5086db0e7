#include "operator/authority/kube_ledger_store.h"

#include <algorithm>
#include <chrono>

#include "common/log.h"
#include "operator/authority/kube_ledger_objects.h"
#include "operator/authority/ledger_compaction.h"

// KubeLedgerStore::Compact: folding segments into checkpoints, as deltas or merged.
namespace agentbudget::authority {

using namespace kube_ledger;  // NOLINT(google-build-using-namespace): the store's own layout

namespace {

// Deltas on a checkpoint chain before it is merged into one checkpoint again.
constexpr size_t kMergeAfter = 12;
// How far behind the newest entry a merge writes totals out: entries come in commit order,
// and a bucket this old gets no more.
constexpr std::chrono::hours kSettledAfter{1};

}  // namespace

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
  // hour older than the newest entry seen are handed on as lines (far smaller than
  // entries) while the rest is read; under a delta, only their keys count as seen (what
  // the delta is stored next to). Returns the entries added to the fold.
  auto fold = [&](CheckpointParts& parts) -> Result<size_t> {
    Folder folder(options.keep_digests_after, options.retain_from);
    size_t added = settled.size();
    core::SysSeconds newest = core::SysSeconds::min();
    Status handed = OkStatus();
    auto hand_on = [&](std::vector<LedgerEntry>&& totals) {
      for (const LedgerEntry& total : totals) {
        if (handed.ok()) {
          handed = parts.Add(total);
        }
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
        hand_on(folder.TakeSettled(newest - kSettledAfter));
      }
    });
    if (!visited.ok()) {
      return std::move(visited).error();
    }
    for (const LedgerEntry& entry : settled) {
      folder.Add(entry);
    }
    hand_on(folder.Take());
    if (!handed.ok()) {
      return std::move(handed).error();
    }
    if (Status finished = parts.Finish(); !finished.ok()) {
      return std::move(finished).error();
    }
    return added;
  };
  // A delta's lines are the totals of a few minutes: kept, then written. A merge's are the
  // whole chain's totals, which grow with the day: it folds twice instead, the same chain
  // and entries in the same order, first to count the parts (every part's annotations
  // name their number), then to write each part as soon as it is full, so that it holds
  // one part of the new checkpoint's text rather than all of it.
  size_t part_count = 0;
  std::vector<std::string> delta_parts;
  CheckpointParts first([&](std::string&& lines) {
    ++part_count;
    if (!merge) {
      delta_parts.push_back(std::move(lines));
    }
    return OkStatus();
  });
  Result<size_t> added = fold(first);
  if (!added.ok()) {
    return std::move(added).error();
  }
  std::vector<std::string> written_parts;
  auto write_part = [&](std::string&& lines) -> Status {
    if (written_parts.size() == part_count) {
      return Internal("the ledger checkpoint folded into more parts than counted");
    }
    const std::string name = CheckpointName(*covers, written_parts.size());
    Status created = WriteCheckpointPart(*covers, base, written_parts.size(), part_count,
                                         std::move(lines));
    if (created.ok()) {
      written_parts.push_back(name);
    }
    return created;
  };
  Status written = OkStatus();
  size_t written_entries = first.entries();
  if (merge) {
    CheckpointParts second(write_part);
    added = fold(second);
    written = added.ok() ? OkStatus() : Status(added.error());
    written_entries = second.entries();
  }
  for (std::string& lines : delta_parts) {
    if (written.ok()) {
      written = write_part(std::move(lines));
    }
  }
  if (written.ok() && written_parts.size() != part_count) {
    written = Internal("the ledger checkpoint folded into fewer parts than counted");
  }
  if (!written.ok()) {
    // An incomplete checkpoint is never read; free its room for the next attempt.
    if (Status deleted = DeleteAll(written_parts); !deleted.ok()) {
      log::Warn("cannot delete an incomplete ledger checkpoint",
                {{"error", deleted.error().ToString()}});
    }
  }
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
  return *added - std::min(*added, written_entries);
}

Status KubeLedgerStore::WriteCheckpointPart(uint64_t covers, std::optional<uint64_t> base,
                                            size_t part, size_t parts, std::string&& lines) {
  nlohmann::json annotations = {{kCoversAnnotation, std::to_string(covers)},
                                {kPartsAnnotation, std::to_string(parts)}};
  if (base) {
    annotations[kBaseAnnotation] = std::to_string(*base);
  }
  const nlohmann::json checkpoint = {
      {"apiVersion", "v1"},
      {"kind", "ConfigMap"},
      {"metadata",
       {{"name", CheckpointName(covers, part)},
        {"labels", {{kLabel, "checkpoint"}}},
        {"annotations", std::move(annotations)}}},
      {"binaryData", BinaryData(lines)},
  };
  return CreateWithin(checkpoint, options_.ceiling_bytes);
}

}  // namespace agentbudget::authority
