#pragma once

#include <memory>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace agentbudget::webhook {

// The webhook's Prometheus metrics (docs/metrics.md: agentbudget_ prefix, units in names, no
// run ids). Label values are from small fixed sets. Thread-safe (prometheus-cpp metrics
// synchronise themselves; the families are created once in the constructor).
class WebhookMetrics {
 public:
  explicit WebhookMetrics(std::shared_ptr<prometheus::Registry> registry);

  // agentbudget_webhook_admission_duration_seconds{operation, kind, decision}
  // operation: mutate | validate; kind: Pod | Job | AgentWorkload | AgentBudget | other;
  // decision: allowed | patched | denied | error.
  void ObserveAdmission(const std::string& operation, const std::string& kind,
                        const std::string& decision, double seconds);
  // agentbudget_webhook_patches_total{kind}
  void CountPatch(const std::string& kind);
  // agentbudget_webhook_denials_total{kind}
  void CountDenial(const std::string& kind);
  // agentbudget_webhook_errors_total{reason}: bad_request | fanout | internal
  void CountError(const std::string& reason);

  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Family<prometheus::Counter>& patches_;
  prometheus::Family<prometheus::Counter>& denials_;
  prometheus::Family<prometheus::Counter>& errors_;
};

}  // namespace agentbudget::webhook
