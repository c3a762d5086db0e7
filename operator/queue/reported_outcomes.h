#pragma once

#include <cstddef>
#include <map>
#include <set>
#include <string>

#include "common/mutex.h"
#include "common/thread_annotations.h"

namespace agentbudget::queue {

// The run outcomes this process has reported to the ledger (or is reporting), so that each
// is sent once; the ledger's idempotency keys make a report repeated after a restart count
// once, and the month's tallies are the ledger's aggregates, so nothing here outlives the
// runs. Kept per workload and run, and trimmed on each pass over a workload to the runs its
// cached objects still show (Retain): at most one entry per outcome — how the run ended,
// and each of CI's agentbudget.io/outcome values — of the finished runs still in the cache.
// Thread-safe.
class ReportedOutcomes {
 public:
  // Marks `outcome` of `run` (of `workload`) reported; false when it already was.
  bool Claim(const std::string& workload, const std::string& run, const std::string& outcome)
      EXCLUDES(mu_);
  // Unmarks it: its report failed, and the next pass retries it.
  void Release(const std::string& workload, const std::string& run, const std::string& outcome)
      EXCLUDES(mu_);
  // Forgets the runs of `workload` other than `runs` (with none, the workload).
  void Retain(const std::string& workload, const std::set<std::string>& runs) EXCLUDES(mu_);
  // Outcomes remembered, over every workload.
  size_t size() const EXCLUDES(mu_);

 private:
  mutable Mutex mu_;
  // workload → run → outcomes.
  std::map<std::string, std::map<std::string, std::set<std::string>>> reported_ GUARDED_BY(mu_);
};

}  // namespace agentbudget::queue
