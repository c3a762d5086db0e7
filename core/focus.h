#pragma once

#include <string>
#include <vector>

#include "core/focus_rows.h"

namespace agentbudget::core {

// Who the export is for: the billing account is the cluster.
struct FocusAccount {
  std::string id = "agentbudget";
  std::string name = "agentbudget";
};

// FOCUS 1.2 Cost and Usage rows as CSV (header first, RFC 4180 quoting), one per FocusRow
// (docs/authority.md, "FOCUS export"): ServiceCategory "AI and Machine Learning",
// ChargeCategory Usage, monthly UTC billing periods and hourly charge periods, the run as
// the resource, the namespace as the sub-account, attribution as Tags.
// - A token SKU: ConsumedQuantity in tokens; PricingUnit "1000000 Tokens" with
//   PricingQuantity = tokens / 10^6 and ListUnitPrice the rate card's list price per million
//   (ContractedUnitPrice the same: no negotiated prices), so ListCost = ListUnitPrice x
//   PricingQuantity exactly; BilledCost and EffectiveCost are what the ledger charged (each
//   call rounded up to the micro-dollar), so they sum to the ledger's total.
// - A direct debit: ConsumedQuantity in debits ("Events"), priced by its reported amount
//   (PricingUnit "USD", ListUnitPrice 1).
// Also the FOCUS 1.3 columns ServiceProviderName and HostProviderName, the 1.3 split cost
// allocation columns (AllocatedMethodDetails, AllocatedMethodId, AllocatedResourceId,
// AllocatedResourceName, AllocatedTags) null on every row: no charge is split or allocated
// to another resource, each is one run's own. And x_ columns: the
// run (x_ConsumerId, where FOCUS's draft ConsumerId is heading), the engineer
// (x_PrincipalId, from the `user` attribution), the model (the debit's kind), the token type, the calls summed, and
// x_PricingError (FocusRow::pricing_error). Money and quantities are printed as decimals
// from integers, always with a decimal point. Pure.
std::string FocusCsv(const std::vector<FocusRow>& rows, const FocusAccount& account);

}  // namespace agentbudget::core
