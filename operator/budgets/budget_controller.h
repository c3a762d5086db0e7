#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "kube/client.h"
#include "operator/authority/ledger.h"

namespace agentbudget::budgets {

// Keeps the ledger's budgets in step with AgentBudget objects (fed by an informer) and
// writes each budget's status, conditions and Events. Level-based: SyncStatuses() looks
// at every budget's current balance and writes only what changed, so it is safe to call
// on any schedule. Status is written as a merge patch of the status subresource, which
// needs no resourceVersion and so never conflicts with spec edits; a failed write is
// retried on the next sync. Thread-safe.
class BudgetController {
 public:
  struct Options {
    std::string zoneinfo_dir = "/usr/share/zoneinfo";
    // Namespace for Events about (cluster-scoped) AgentBudgets.
    std::string events_namespace = "default";
  };

  // `client`, `ledger` and `clock` must outlive the controller.
  BudgetController(kube::Client& client, authority::Ledger& ledger, const Clock& clock,
                   Options options);

  // Informer handlers. An invalid spec is logged, reported in status (Ready False,
  // InvalidSpec) and leaves the ledger's previous version of the budget, if any, in force.
  void OnUpsert(const nlohmann::json& object);
  void OnDelete(const nlohmann::json& object);

  // Writes every changed status and emits threshold Events. Returns the statuses written.
  int SyncStatuses();

 private:
  struct Tracked {
    std::string uid;
    std::vector<int> alerts;
    nlohmann::json stored_status;  // what the API server holds, as far as we know
    std::string invalid;           // the parse error, when the spec is invalid
    int64_t generation = 0;
  };
  void Emit(const std::string& name, const std::string& uid, const std::string& type,
            const std::string& reason, const std::string& message);

  kube::Client& client_;
  authority::Ledger& ledger_;
  const Clock& clock_;
  const Options options_;
  std::mutex mu_;
  std::map<std::string, Tracked> tracked_;  // GUARDED_BY(mu_)
};

}  // namespace agentbudget::budgets
