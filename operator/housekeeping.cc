#include "operator/housekeeping.h"

#include "common/log.h"
#include "operator/authority_tls.h"

namespace agentbudget::op {

authority::CompactOptions FoldOptions(core::SysSeconds now, const authority::Ledger& ledger) {
  return authority::CompactOptions{now - kFoldDelay, now - ledger.idempotency_window(),
                                   ledger.RetainTotalsFrom()};
}

void AddHousekeeping(kube::Manager& manager, authority::Ledger& ledger,
                     authority::LedgerStore& store, LedgerCeiling& ceiling,
                     authority::AuthorityMetrics& metrics, const Clock& clock,
                     std::chrono::milliseconds metrics_interval) {
  constexpr auto kLeader = kube::Scope::kLeader;
  manager.AddPeriodic("ledger-sweep", kLeader, [&ledger] {
    ledger.Sweep();
    return std::chrono::milliseconds{200};
  });
  manager.AddPeriodic("ledger-compaction", kLeader, [&store, &ceiling, &clock, &ledger] {
    const core::SysSeconds now = std::chrono::floor<std::chrono::seconds>(clock.Now());
    auto compacted = store.Compact(FoldOptions(now, ledger));
    if (compacted.ok()) {
      log::Info("ledger compacted", {{"folded_entries", *compacted}});
    } else {
      log::Warn("ledger compaction failed", {{"error", compacted.error().ToString()}});
    }
    const bool near = ceiling.Observe(store.Usage());
    return std::chrono::duration_cast<std::chrono::milliseconds>(
        near ? kFoldIntervalNearCeiling : kFoldInterval);
  });
  manager.AddPeriodic("authority-metrics", kLeader, [&ledger, &metrics, metrics_interval] {
    metrics.Update(ledger.Budgets(), ledger.stats(), ledger.spend(), ledger.pending_commits());
    return metrics_interval;
  });
}

std::unique_ptr<certs::Certificates> AddCertificates(kube::Manager& manager, kube::Client& client,
                                                     const Clock& clock, const Options& options,
                                                     const std::string& authority_tls_dir) {
  const std::string& ns = options.namespace_name;
  certs::Certificates::Options certificate_options;
  certificate_options.namespace_name = ns;
  if (options.webhook_certs) {
    certs::Certificates::Serving webhook;
    webhook.secret = "agentbudget-webhook-tls";
    webhook.hosts = certs::Certificates::ServiceHosts(options.webhook_service, ns,
                                                      options.webhook_cert_hosts);
    webhook.publication = std::make_unique<certs::WebhookCaBundles>("agentbudget");
    certificate_options.servings.push_back(std::move(webhook));
  }
  if (!authority_tls_dir.empty()) {
    certs::Certificates::Serving authority;
    authority.secret = "agentbudget-authority-tls";
    authority.hosts = certs::Certificates::ServiceHosts(options.authority_service, ns,
                                                        options.authority_cert_hosts);
    authority.publication =
        std::make_unique<certs::CaConfigMap>(ns, "agentbudget-authority-ca", kMeterTrustDelay);
    authority.install = [authority_tls_dir](const certs::CertificateAndKey& pair) {
      return InstallKeyPair(authority_tls_dir, pair);
    };
    certificate_options.servings.push_back(std::move(authority));
  }
  if (certificate_options.servings.empty()) {
    return nullptr;
  }
  auto certificates =
      std::make_unique<certs::Certificates>(client, clock, std::move(certificate_options));
  if (!authority_tls_dir.empty()) {
    // The listener starts after the leader setups: its files must exist by then.
    manager.AddLeaderSetup("authority-certificate", [certificates = certificates.get()] {
      auto plan = certificates->Reconcile();
      if (!plan.ok()) {
        log::Warn("cannot issue the authority's certificate; retrying",
                  {{"error", plan.error().ToString()}});
        return Status(std::move(plan).error());
      }
      return OkStatus();
    });
  }
  manager.AddPeriodic("certificates", kube::Scope::kLeader,
                      [certificates = certificates.get()] {
                        return certificates->ReconcileWhenDue(std::chrono::seconds{60},
                                                              std::chrono::seconds{5});
                      });
  return certificates;
}

}  // namespace agentbudget::op
