#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "common/mutex.h"
#include "kube/event_recorder.h"
#include "operator/authority/ledger_store.h"

namespace agentbudget::op {

// Watches how full the ledger store is against its ceiling (StoreUsage) and says so:
//   metrics   agentbudget_ledger_store_bytes, _objects, _ceiling_bytes (gauges) and
//             agentbudget_ledger_store_skipped_objects (gauge: bad objects found so far);
//             the chart's PrometheusRule alerts on bytes / ceiling_bytes
//   condition near ceiling (gauge agentbudget_ledger_store_near_ceiling, 1 while it holds):
//             bytes at or past kNearRatio of the ceiling; cleared below kClearRatio
//             (hysteresis, so a ledger hovering at the line does not flap)
//   Events    Warning LedgerNearCeiling when the condition is raised, Normal
//             LedgerBelowCeiling when it clears, and Warning LedgerObjectSkipped when more
//             bad objects were found; about `subject` (the operator's pod)
// and tells housekeeping to fold sooner while the condition holds. Thread-safe.
class LedgerCeiling {
 public:
  static constexpr double kNearRatio = 0.8;
  static constexpr double kClearRatio = 0.7;

  // `recorder` must outlive this. `subject` is the object Events are about.
  LedgerCeiling(prometheus::Registry& registry, kube::EventRecorder& recorder,
                nlohmann::json subject);

  // Publishes `usage` and raises or clears the condition; returns whether it holds.
  bool Observe(const authority::StoreUsage& usage) EXCLUDES(mu_);

 private:
  void Record(kube::EventSeverity severity, const std::string& reason,
              const std::string& message);

  kube::EventRecorder& recorder_;
  const nlohmann::json subject_;
  prometheus::Gauge& bytes_;
  prometheus::Gauge& objects_;
  prometheus::Gauge& ceiling_;
  prometheus::Gauge& skipped_;
  prometheus::Gauge& near_gauge_;
  mutable Mutex mu_;
  bool near_ GUARDED_BY(mu_) = false;
  int64_t skipped_seen_ GUARDED_BY(mu_) = 0;
};

}  // namespace agentbudget::op
