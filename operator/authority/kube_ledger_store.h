#pragma once

#include <cstdint>
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
// holding the batch as JSON lines under data["entries"]. A Create either stores the whole
// batch or nothing, so a batch is durable exactly when Create returns (etcd has
// persisted it). Batches of at most GroupCommitter::Options::max_batch entries (~350 bytes
// each) keep every segment far below etcd's 1.5 MiB object limit, however many budgets and
// perKey users exist: per-key and per-run balances are not stored as objects at all, they
// are folded from the segments on start. Only the leader appends. Thread-safe.
//
// Compaction folds a prefix of the segments (those holding only entries older than the
// cutoff) together with the previous checkpoint into a new checkpoint: ConfigMaps
// `agentbudget-ledger-checkpoint-<last folded sequence>-<part>` labelled
// `agentbudget.io/ledger=checkpoint`, each annotated with the sequence it covers and its
// number of parts, at most 1,000 entries each. Only then are the folded segments and the
// older checkpoint deleted. Load uses the newest checkpoint whose parts are all present and
// the segments after the sequence it covers, so a compaction interrupted at any step
// leaves either the old or the new state, never a mix that counts spend twice or drops it.
class KubeLedgerStore final : public LedgerStore {
 public:
  // `client` must outlive the store.
  KubeLedgerStore(kube::Client& client, std::string namespace_name);

  // Creates the next segment. kUnavailable (or the client's error) when the API server
  // did not confirm it; a segment whose Create timed out may still exist, which Load
  // tolerates (the ledger counts each idempotency key once).
  Status Append(const std::vector<LedgerEntry>& batch) override EXCLUDES(mu_);

  // Reads the newest complete checkpoint and every segment after it, in sequence order,
  // and decodes their entries. Fails with kInternal naming the object when one does not
  // decode (never silently skips spend).
  Result<std::vector<LedgerEntry>> Load() override EXCLUDES(mu_);

  // Folds the leading segments whose entries are all older than `before`.
  Result<size_t> Compact(core::SysSeconds before) override EXCLUDES(mu_);

 private:
  struct Segment {
    uint64_t sequence = 0;
    std::string name;
    std::vector<LedgerEntry> entries;
  };
  // What Load reads: the newest complete checkpoint, then the segments after it.
  struct Layout {
    std::optional<uint64_t> covers;            // last sequence the checkpoint folded
    std::vector<LedgerEntry> checkpoint;       // its entries, in part order
    std::vector<std::string> checkpoint_maps;  // every checkpoint ConfigMap, complete or not
    std::vector<Segment> segments;             // sequence > covers, in order
    std::vector<std::string> stale_segments;   // sequence <= covers (a deletion interrupted)
  };
  Result<Layout> Read() EXCLUDES(mu_);
  Status DeleteAll(const std::vector<std::string>& names);

  kube::Client& client_;
  const std::string namespace_;
  Mutex mu_;
  uint64_t next_sequence_ GUARDED_BY(mu_) = 0;  // set by Load, advanced by Append
};

}  // namespace agentbudget::authority
