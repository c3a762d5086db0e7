#include "webhook/metrics.h"

#include <utility>

namespace agentbudget::webhook {
namespace {

std::string KindLabel(const std::string& kind) {
  for (const char* known : {"Pod", "Job", "AgentWorkload", "AgentBudget"}) {
    if (kind == known) {
      return kind;
    }
  }
  return "other";
}

}  // namespace

WebhookMetrics::WebhookMetrics(std::shared_ptr<prometheus::Registry> registry)
    : registry_(std::move(registry)),
      latency_(prometheus::BuildHistogram()
                   .Name("agentbudget_webhook_admission_duration_seconds")
                   .Help("Time to answer one AdmissionReview, from decoded body to encoded answer")
                   .Register(*registry_)),
      patches_(prometheus::BuildCounter()
                   .Name("agentbudget_webhook_patches_total")
                   .Help("AdmissionReviews answered with a non-empty JSON Patch")
                   .Register(*registry_)),
      denials_(prometheus::BuildCounter()
                   .Name("agentbudget_webhook_denials_total")
                   .Help("AdmissionReviews denied")
                   .Register(*registry_)),
      errors_(prometheus::BuildCounter()
                  .Name("agentbudget_webhook_errors_total")
                  .Help("Requests that could not be judged (bad input, unreachable counter)")
                  .Register(*registry_)) {}

void WebhookMetrics::ObserveAdmission(const std::string& operation, const std::string& kind,
                                      const std::string& decision, double seconds) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
  latency_.Add({{"operation", operation}, {"kind", KindLabel(kind)}, {"decision", decision}},
               kBuckets)
      .Observe(seconds);
}

void WebhookMetrics::CountPatch(const std::string& kind) {
  patches_.Add({{"kind", KindLabel(kind)}}).Increment();
}

void WebhookMetrics::CountDenial(const std::string& kind) {
  denials_.Add({{"kind", KindLabel(kind)}}).Increment();
}

void WebhookMetrics::CountError(const std::string& reason) {
  errors_.Add({{"reason", reason}}).Increment();
}

}  // namespace agentbudget::webhook
