#include "operator/ledger_ceiling.h"

#include <prometheus/family.h>

#include "common/log.h"

namespace agentbudget::op {
namespace {

prometheus::Gauge& Gauge(prometheus::Registry& registry, const std::string& name,
                         const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

std::string Mib(int64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

}  // namespace

LedgerCeiling::LedgerCeiling(prometheus::Registry& registry, LedgerCeilingReports& reports)
    : reports_(reports),
      bytes_(Gauge(registry, "agentbudget_ledger_store_bytes",
                   "Bytes the durable ledger holds in its store (etcd: its ConfigMaps' JSON).")),
      objects_(Gauge(registry, "agentbudget_ledger_store_objects",
                     "Objects (ConfigMaps) holding the durable ledger.")),
      ceiling_(Gauge(registry, "agentbudget_ledger_store_ceiling_bytes",
                     "The most the ledger store will hold; 0 for no ceiling.")),
      skipped_(Gauge(registry, "agentbudget_ledger_store_skipped_objects",
                     "Corrupt or foreign ledger objects reported and left out.")),
      near_gauge_(Gauge(registry, "agentbudget_ledger_store_near_ceiling",
                        "1 while the ledger store is near its ceiling (folding sooner).")) {}

bool LedgerCeiling::Observe(const authority::StoreUsage& usage) {
  bytes_.Set(static_cast<double>(usage.bytes));
  objects_.Set(static_cast<double>(usage.objects));
  ceiling_.Set(static_cast<double>(usage.ceiling_bytes));
  skipped_.Set(static_cast<double>(usage.skipped));
  const double ratio = usage.ceiling_bytes > 0 ? static_cast<double>(usage.bytes) /
                                                     static_cast<double>(usage.ceiling_bytes)
                                               : 0.0;
  MutexLock lock(mu_);
  bool raised = false;
  bool cleared = false;
  if (!near_ && ratio >= kNearRatio) {
    near_ = raised = true;
  } else if (near_ && ratio < kClearRatio) {
    near_ = false;
    cleared = true;
  }
  const bool more_skipped = usage.skipped > skipped_seen_;
  skipped_seen_ = usage.skipped;
  near_gauge_.Set(near_ ? 1.0 : 0.0);
  const std::string held = Mib(usage.bytes) + " of its " + Mib(usage.ceiling_bytes) + " ceiling";
  const std::string near_message =
      "The ledger holds " + held +
      " in etcd; it folds every minute now, and refuses commits (meters spool them) rather "
      "than pass the ceiling. Raise operator.ledgerCeilingBytes if etcd has room, or move the "
      "ledger to PostgreSQL (docs/sizing.md).";
  const std::string below_message = "The ledger holds " + held + ".";
  if (raised) {
    log::Warn("the ledger is near its ceiling in etcd; folding sooner",
              {{"bytes", usage.bytes}, {"ceiling_bytes", usage.ceiling_bytes}});
    reports_.Event(kube::EventSeverity::kWarning, LedgerCeilingReports::kNearReason, near_message);
  }
  if (cleared) {
    log::Info("the ledger is back below its ceiling's warning line", {{"bytes", usage.bytes}});
    reports_.Event(kube::EventSeverity::kNormal, LedgerCeilingReports::kBelowReason,
                   below_message);
  }
  if (raised || cleared || !condition_written_) {
    condition_written_ = reports_.Condition(
        near_, near_ ? LedgerCeilingReports::kNearReason : LedgerCeilingReports::kBelowReason,
        near_ ? near_message : below_message);
  }
  if (more_skipped) {
    reports_.Event(kube::EventSeverity::kWarning, "LedgerObjectSkipped",
                   std::to_string(usage.skipped) +
                       " ConfigMap(s) labelled agentbudget.io/ledger are not ledger data and "
                       "were left out of the balances; the operator's log names them.");
  }
  return near_;
}

}  // namespace agentbudget::op
