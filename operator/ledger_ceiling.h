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

// Where LedgerCeiling reports (LedgerCeilingPod, ledger_ceiling_pod.h: the operator's pod).
// Implementations log their own failures; they are called from one thread at a time.
class LedgerCeilingReports {
 public:
  // The status condition LedgerCeiling keeps, and its reasons.
  static constexpr const char* kCondition = "agentbudget.io/LedgerNearCeiling";
  static constexpr const char* kNearReason = "LedgerNearCeiling";
  static constexpr const char* kBelowReason = "LedgerBelowCeiling";

  virtual ~LedgerCeilingReports() = default;
  // Records an Event.
  virtual void Event(kube::EventSeverity severity, const std::string& reason,
                     const std::string& message) = 0;
  // Sets condition kCondition to `near` ("True"/"False") with `reason` and `message`.
  // Returns whether it was written; a failure is retried at the next observation.
  virtual bool Condition(bool near, const std::string& reason, const std::string& message) = 0;
};

// Watches how full the ledger store is against its ceiling (StoreUsage) and says so:
//   metrics   agentbudget_ledger_store_bytes, _objects, _ceiling_bytes (gauges) and
//             agentbudget_ledger_store_skipped_objects (gauge: bad objects found so far);
//             the chart's PrometheusRule alerts on bytes / ceiling_bytes
//   condition near ceiling (gauge agentbudget_ledger_store_near_ceiling, 1 while it holds):
//             bytes at or past kNearRatio of the ceiling; cleared below kClearRatio
//             (hysteresis, so a ledger hovering at the line does not flap); also the
//             status condition LedgerCeilingReports::kCondition, written at the first
//             observation and at every change (and again until a write succeeds)
//   Events    Warning LedgerNearCeiling when the condition is raised, Normal
//             LedgerBelowCeiling when it clears, and Warning LedgerObjectSkipped when more
//             bad objects were found
// and tells housekeeping to fold sooner while the condition holds. Thread-safe.
class LedgerCeiling {
 public:
  static constexpr double kNearRatio = 0.7;
  static constexpr double kClearRatio = 0.6;

  // `reports` must outlive this.
  LedgerCeiling(prometheus::Registry& registry, LedgerCeilingReports& reports);

  // Publishes `usage` and raises or clears the condition; returns whether it holds.
  bool Observe(const authority::StoreUsage& usage) EXCLUDES(mu_);

 private:
  LedgerCeilingReports& reports_;
  prometheus::Gauge& bytes_;
  prometheus::Gauge& objects_;
  prometheus::Gauge& ceiling_;
  prometheus::Gauge& skipped_;
  prometheus::Gauge& near_gauge_;
  mutable Mutex mu_;
  bool near_ GUARDED_BY(mu_) = false;
  bool condition_written_ GUARDED_BY(mu_) = false;  // the condition shows near_
  int64_t skipped_seen_ GUARDED_BY(mu_) = 0;
};

}  // namespace agentbudget::op
