#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/label_selector.h"
#include "core/time_zone.h"

namespace agentbudget::core {

// One unit of committed spend to export: an LLM call's commit or a direct debit.
struct FocusCharge {
  std::string id;             // the ledger entry: reservation or event id
  SysSeconds at;              // when it was committed
  int64_t cost_micros = 0;    // USD micro-units
  int64_t tokens = 0;
  std::string model;          // the model for a call; the event kind for a direct debit
  bool event = false;         // a direct debit (tool calls, sandbox minutes, retrieval)
  std::string run;
  std::string namespace_name;
  Labels attribution;         // team, workflow, repo, environment, user, workload, model
};

// Who the export is for: the billing account is the cluster.
struct FocusAccount {
  std::string id = "agentbudget";
  std::string name = "agentbudget";
};

// FOCUS 1.2 Cost and Usage rows as CSV (header first, RFC 4180 quoting), one row per
// charge: ServiceCategory "AI and Machine Learning", ChargeCategory Usage, ConsumedUnit
// Tokens (Events for direct debits), the run as the resource, the namespace as the
// sub-account, attribution as Tags, monthly UTC billing periods and hourly charge periods,
// the provider inferred from the model name, and x_ columns for the ledger entry id, the
// run and the kind. Money is printed as decimals from integer micro-units. Pure.
std::string FocusCsv(const std::vector<FocusCharge>& charges, const FocusAccount& account);

}  // namespace agentbudget::core
