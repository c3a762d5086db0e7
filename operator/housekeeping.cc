#include "operator/housekeeping.h"

#include "common/log.h"

namespace agentbudget::op {

void AddHousekeeping(kube::Manager& manager, authority::Ledger& ledger,
                     authority::KubeLedgerStore& store, authority::AuthorityMetrics& metrics,
                     const Clock& clock, std::chrono::milliseconds metrics_interval) {
  constexpr auto kLeader = kube::Scope::kLeader;
  manager.AddPeriodic("ledger-sweep", kLeader, [&ledger] {
    ledger.Sweep();
    return std::chrono::milliseconds{200};
  });
  manager.AddPeriodic("ledger-compaction", kLeader, [&store, &clock] {
    const core::SysSeconds before = std::chrono::floor<std::chrono::seconds>(clock.Now()) -
                                    authority::Ledger::Options{}.idempotency_ttl -
                                    std::chrono::hours{1};
    auto compacted = store.Compact(before);
    if (compacted.ok()) {
      log::Info("ledger compacted", {{"folded_entries", *compacted}});
    } else {
      log::Warn("ledger compaction failed", {{"error", compacted.error().ToString()}});
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::hours{1});
  });
  manager.AddPeriodic("authority-metrics", kLeader, [&ledger, &metrics, metrics_interval] {
    metrics.Update(ledger.Budgets(), ledger.stats(), ledger.spend(), ledger.pending_commits());
    return metrics_interval;
  });
}

std::unique_ptr<certs::WebhookCertificates> AddWebhookCertificates(kube::Manager& manager,
                                                                   kube::Client& client,
                                                                   const Clock& clock,
                                                                   const Options& options) {
  certs::WebhookCertificates::Options certificate_options;
  certificate_options.namespace_name = options.namespace_name;
  certificate_options.hosts = certs::WebhookCertificates::ServiceHosts(
      options.webhook_service, options.namespace_name, options.webhook_cert_hosts);
  auto certificates =
      std::make_unique<certs::WebhookCertificates>(client, clock, std::move(certificate_options));
  manager.AddPeriodic("webhook-certificates", kube::Scope::kLeader,
                      [certificates = certificates.get()] {
                        return certificates->ReconcileWhenDue(std::chrono::seconds{60},
                                                              std::chrono::seconds{5});
                      });
  return certificates;
}

}  // namespace agentbudget::op
