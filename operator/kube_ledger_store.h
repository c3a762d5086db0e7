#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "kube/client.h"
#include "operator/ledger_store.h"

namespace agentbudget::operator_ {

// The durable ledger on the Kubernetes API, as immutable ConfigMap segments in the
// operator's namespace: each group-committed batch is one ConfigMap
// `agentbudget-ledger-<16-digit sequence>` labelled `agentbudget.io/ledger=segment`,
// holding the batch as JSON lines under data["entries"]. A Create either stores the whole
// batch or nothing, so a batch is durable exactly when Create returns (etcd has
// persisted it). Batches of at most GroupCommitter::Options::max_batch entries (~350 bytes
// each) keep every segment far below etcd's 1.5 MiB object limit, however many budgets and
// perKey users exist: per-key and per-run balances are not stored as objects at all, they
// are folded from the segments on start. Only the leader appends. Thread-safe.
class KubeLedgerStore final : public LedgerStore {
 public:
  // `client` must outlive the store.
  KubeLedgerStore(kube::Client& client, std::string namespace_name);

  // Creates the next segment. kUnavailable (or the client's error) when the API server
  // did not confirm it; a segment whose Create timed out may still exist, which Load
  // tolerates (the ledger counts each idempotency key once).
  Status Append(const std::vector<LedgerEntry>& batch) override;

  // Lists every segment, in sequence order, and decodes its entries. Fails with
  // kInternal naming the segment when one does not decode (never silently skips spend).
  Result<std::vector<LedgerEntry>> Load() override;

 private:
  kube::Client& client_;
  const std::string namespace_;
  std::mutex mu_;
  uint64_t next_sequence_ = 0;  // GUARDED_BY(mu_); set by Load, advanced by Append
};

}  // namespace agentbudget::operator_
