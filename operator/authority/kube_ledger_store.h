#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "kube/client.h"
#include "operator/authority/ledger_store.h"

namespace agentbudget::authority {

// The durable ledger on the Kubernetes API, as immutable ConfigMap segments in the
// operator's namespace: each group-committed batch is one ConfigMap
// `agentbudget-ledger-<16-digit sequence>` labelled `agentbudget.io/ledger=segment`,
// holding the batch as JSON lines, gzipped, under binaryData["entries.jsonl.gz"] (segments
// and checkpoints that earlier operators wrote as text under data["entries"] are read as
// well). A Create either stores the whole batch or nothing, so a batch is durable exactly
// when Create returns (etcd has persisted it). Batches of at most
// GroupCommitter::Options::max_batch entries (500–700 bytes of JSON each, a fraction of that
// gzipped) keep every segment far below etcd's 1.5 MiB object limit, however many budgets and
// perKey users exist: per-key and per-run balances are not stored as objects at all, they
// are folded from the segments on start. Only the leader appends. Thread-safe.
//
// Compaction folds a prefix of the segments (those holding only entries older than the
// cutoff) into a checkpoint: ConfigMaps
// `agentbudget-ledger-checkpoint-<last folded sequence>-<part>` labelled
// `agentbudget.io/ledger=checkpoint`, each annotated with the sequence it covers, its
// number of parts (at most 1,000 entries each) and, for a delta, its base: the checkpoint
// it adds to. A compaction writes a delta holding only the newly folded totals, so it needs
// room for those alone; once kMergeAfter deltas are chained and there is room for a copy,
// it merges the chain and the new segments into one checkpoint without a base. Only then
// are the folded segments (and, after a merge, the old chain) deleted. Load uses the
// newest checkpoint whose chain has all its parts, then the segments after the sequence it
// covers, so a compaction interrupted at any step leaves either the old or the new state,
// never a mix that counts spend twice or drops it.
//
// The ceiling: the store never makes its ConfigMaps hold more than `ceiling_bytes` in
// total (each object's JSON as the API server returns it, which is what etcd stores within
// a few per cent). A Create that would pass it is not sent. Appends stop at kAppendShare of
// the ceiling with kResourceExhausted (the authority then answers as its failure mode says
// and meters spool), so that compaction always has room to fold; a checkpoint that still
// does not fit is written without key digests, or fails the same way. Folding shrinks the
// ledger, so appends resume after the next compaction.
//
// Bad objects: a ConfigMap labelled as the ledger's whose name, annotations or entries do
// not decode (corrupt, or written by something else) is logged, counted in
// StoreUsage::skipped and left out of Load; compaction never deletes it, so it stays for
// inspection (and counts towards the ceiling).
class KubeLedgerStore final : public LedgerStore {
 public:
  struct Options {
    int64_t ceiling_bytes = int64_t{100} << 20;
  };
  // The share of the ceiling appends may fill; the rest is compaction's room.
  static constexpr double kAppendShare = 0.9;

  // `client` must outlive the store.
  KubeLedgerStore(kube::Client& client, std::string namespace_name, Options options);

  // Creates the next segment. kUnavailable (or the client's error) when the API server
  // did not confirm it; a segment whose Create timed out may still exist, which Load
  // tolerates (the ledger counts each idempotency key once). kResourceExhausted when the
  // segment would pass the ceiling.
  Status Append(const std::vector<LedgerEntry>& batch) override EXCLUDES(mu_);

  // Reads the newest complete checkpoint and every segment after it, in sequence order,
  // and decodes their entries, skipping (and reporting) bad objects.
  Result<std::vector<LedgerEntry>> Load() override EXCLUDES(mu_);

  // Folds the leading segments whose entries are all older than `options.before`, with
  // the previous checkpoint, into a new checkpoint.
  Result<size_t> Compact(const CompactOptions& options) override EXCLUDES(mu_);

  // Bytes and ConfigMaps as of the last Load or Compact and the writes since.
  StoreUsage Usage() const override EXCLUDES(mu_);

 private:
  struct Segment {
    uint64_t sequence = 0;
    std::string name;
    std::vector<LedgerEntry> entries;
  };
  // What Load reads: the newest complete checkpoint chain, then the segments after it.
  struct Layout {
    std::optional<uint64_t> covers;            // last sequence the checkpoint folded
    std::vector<uint64_t> chain;               // what its chain's checkpoints cover, newest first
    std::vector<std::string> checkpoint;       // the chain's parts, oldest first
    std::vector<std::string> checkpoint_maps;  // every checkpoint ConfigMap, complete or not
    std::vector<Segment> segments;             // sequence > covers, in order
    std::vector<std::string> stale_segments;   // sequence <= covers (a deletion interrupted)
  };
  // Lists the ledger's ConfigMaps a page at a time, keeping of each only what the layout
  // needs. A checkpoint part reported bad (skipped_) makes its chain incomplete.
  Result<Layout> Read() EXCLUDES(mu_);
  // Reads and decodes the checkpoint's parts one at a time, oldest first, handing each
  // entry to `visit`. A part that does not decode is reported (Skip) and kUnavailable
  // returned: the next Read passes over its chain. A part gone since the listing is
  // kUnavailable too; other errors are the client's.
  Status VisitCheckpoint(const Layout& layout, const std::function<void(LedgerEntry&&)>& visit)
      EXCLUDES(mu_);
  // Creates ConfigMap `object` if the store then holds at most `limit` bytes;
  // kResourceExhausted otherwise. kAlreadyExists passes through (the caller decides).
  Status CreateWithin(const nlohmann::json& object, int64_t limit) EXCLUDES(mu_);
  Status DeleteAll(const std::vector<std::string>& names) EXCLUDES(mu_);
  // Creates part `part` of the `parts` of the checkpoint covering segments up to `covers`
  // (on top of checkpoint `base`, for a delta), holding JSON lines `lines`. Errors as
  // CreateWithin's; a checkpoint missing a part is never read.
  Status WriteCheckpointPart(uint64_t covers, std::optional<uint64_t> base, size_t part,
                             size_t parts, std::string&& lines) EXCLUDES(mu_);
  // Reports bad object `name` once per process and counts it.
  void Skip(const std::string& name, const std::string& why) EXCLUDES(mu_);

  kube::Client& client_;
  const std::string namespace_;
  const Options options_;
  mutable Mutex mu_;
  uint64_t next_sequence_ GUARDED_BY(mu_) = 0;  // set by Load, advanced by Append
  // Every ledger ConfigMap known to exist -> its size. Objects created by others appear
  // at the next Read; objects deleted by others stay counted until then (an over-count
  // only makes the ceiling act early).
  std::map<std::string, int64_t> sizes_ GUARDED_BY(mu_);
  int64_t bytes_ GUARDED_BY(mu_) = 0;  // the sum of sizes_
  std::map<std::string, std::string> skipped_ GUARDED_BY(mu_);  // bad object -> why
};

}  // namespace agentbudget::authority
