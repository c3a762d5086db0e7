#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>

#include "core/rate_card.h"
#include "core/run_figures.h"
#include "core/time_zone.h"
#include "operator/authority/ledger_entry.h"

namespace agentbudget::authority {

// A zero-cost ledger report (LedgerEntry::IsReport) of kind kOutcomeReport + outcome says
// how a top-level run ended ("Succeeded", "Failed": the admission queue, from the Job or
// Pod) or what CI said of it later ("merged", "abandoned", "reverted": its
// agentbudget.io/outcome annotation). Kept in the ledger, the month's run outcomes outlive
// the Jobs they came from.
inline constexpr char kOutcomeReport[] = "outcome:";

// The runs of a workload that ended in a month (those with an outcome report), summed
// with their spend and tokens of that month.
struct EndedRuns {
  int64_t finished = 0;
  int64_t succeeded = 0;
  int64_t merged = 0;       // of succeeded runs, those CI reported merged
  int64_t good_tokens = 0;  // of succeeded runs CI did not mark abandoned or reverted
  int64_t all_tokens = 0;   // of every ended run
};

// What one AgentWorkload spent in one calendar month (UTC): the status fields spend,
// lowCostTierShare, successRate, costPerSuccessfulRun, costPerMergedPr and tokenYield are
// read from it, through the figures of core/run_figures.h.
struct WorkloadSpend {
  core::SysSeconds month;  // the month's first instant
  int64_t cost_micros = 0;  // commits and direct debits (compute included)
  // LLM calls (commits) by the model that served them, named by the rate card's id or
  // "other" (core::RateCard::BoundedId); a folded entry counts as the calls it replaces.
  // Direct debits are no calls.
  std::map<std::string, int64_t> calls_by_model;
  EndedRuns ended;

  int64_t calls() const;
  // The month's spend and ended runs, the input of every run figure.
  core::RunOutcomes Outcomes() const;
};

// Spend per AgentWorkload ("namespace/name", from the entry's namespace and its
// attribution's workload label) for the current calendar month in UTC, the period
// AgentWorkload status reports. Fed every ledger entry as it is recorded and, after a
// restart, every recovered entry in ledger order. An entry of a later month starts that
// workload's month afresh; an entry of an earlier month than the workload's is ignored.
// Entries without a workload label are not counted. A run's last outcome report of each
// kind wins. Bounds: workloads as many as the entries name (the webhook stamps the label
// from an existing AgentWorkload); per workload, one month's runs (an entry of a later
// month drops the earlier month's) and the rate card's ids plus "other" as models.
// A value type; not thread-safe.
class WorkloadSpendTally {
 public:
  // Names models by `rates`, which must outlive the tally.
  explicit WorkloadSpendTally(const core::RateCard& rates) : rates_(&rates) {}

  void Add(const LedgerEntry& entry);
  // Every workload's spend in the month that holds `now` (workloads whose last spend is
  // from an earlier month are left out). O(runs of the month).
  std::map<std::string, WorkloadSpend> Current(core::SysSeconds now) const;
  // The runs tallied, over every workload (for tests of the bound).
  size_t runs() const;

 private:
  // One run of a workload in the month, as its ledger entries tell.
  struct Run {
    int64_t cost_micros = 0;
    int64_t tokens = 0;
    std::string ended;  // "Succeeded" | "Failed"; "" while running (or for a subagent)
    std::string ci;     // merged | abandoned | reverted; "" when CI said nothing
  };
  struct Month {
    WorkloadSpend spend;  // without `ended`, which Current() sums from `runs`
    std::unordered_map<std::string, Run> runs;
  };

  const core::RateCard* rates_;
  std::map<std::string, Month> by_workload_;
};

// The first instant of the calendar month (UTC) that holds `instant`.
core::SysSeconds MonthStart(core::SysSeconds instant);

}  // namespace agentbudget::authority
