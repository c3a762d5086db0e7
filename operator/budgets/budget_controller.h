#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/result.h"
#include "common/thread_annotations.h"
#include "kube/client.h"
#include "kube/controller.h"
#include "kube/informer.h"
#include "operator/authority/ledger.h"

namespace agentbudget::budgets {

// The AgentBudget controller, one budget (its name) per reconcile: keeps the ledger's
// budget in step with the object's spec and writes the budget's status, conditions and
// Events. Level-based: a reconcile looks at the budget's current balance and writes only
// what changed; spend moves without cluster events, so every budget is reconciled again
// after `status_interval`. Status is written as a merge patch of the status subresource,
// which needs no resourceVersion and so never conflicts with spec edits; a failed write
// is retried on the next reconcile. Thread-safe.
class BudgetController {
 public:
  struct Options {
    std::string zoneinfo_dir = "/usr/share/zoneinfo";
    // Namespace for Events about (cluster-scoped) AgentBudgets.
    std::string events_namespace = "default";
    // How often a budget's status is brought up to date (--status-ms).
    std::chrono::milliseconds status_interval{5000};
  };

  // `client`, `budgets` (the AgentBudget informer), `ledger` and `clock` must outlive the
  // controller.
  BudgetController(kube::Client& client, const kube::Informer& budgets, authority::Ledger& ledger,
                   const Clock& clock, Options options);

  // Brings budget `name` in step: a new or changed spec goes to the ledger (an invalid one
  // is logged, reported in status as Ready False, InvalidSpec, and leaves the ledger's
  // previous version in force), a deleted budget leaves it, and a changed status is
  // written with its threshold Events. Requeues after status_interval.
  Result<kube::ReconcileResult> Reconcile(const std::string& name) EXCLUDES(mu_);
  // Puts every cached budget's spec into the ledger (before the ledger is read back, whose
  // entries are charged to them).
  void ApplySpecs() EXCLUDES(mu_);

 private:
  struct Tracked {
    std::string uid;
    std::vector<int> alerts;
    nlohmann::json stored_status;  // what the API server holds, as far as we know
    std::string invalid;           // the parse error, when the spec is invalid
    int64_t generation = 0;
    bool applied = false;  // the ledger has this uid and generation (or it is invalid)
  };
  void ApplySpec(const nlohmann::json& object) EXCLUDES(mu_);
  // Writes budget `name`'s status if it changed, then its Events.
  void SyncStatus(const std::string& name) EXCLUDES(mu_);
  void Emit(const std::string& name, const std::string& uid, const std::string& type,
            const std::string& reason, const std::string& message);

  kube::Client& client_;
  const kube::Informer& budgets_;
  authority::Ledger& ledger_;
  const Clock& clock_;
  const Options options_;
  Mutex mu_;
  std::map<std::string, Tracked> tracked_ GUARDED_BY(mu_);
};

}  // namespace agentbudget::budgets
