#pragma once

#include <chrono>
#include <memory>

#include "common/clock.h"
#include "kube/manager.h"
#include "operator/authority/ledger_store.h"
#include "operator/authority/ledger.h"
#include "operator/authority/metrics.h"
#include "operator/certs/certificates.h"
#include "operator/options.h"

namespace agentbudget::op {

// The authority's periodic work, as leader-only periodic runnables of `manager`, each
// waiting for its next step on the manager's stop signal:
//   ledger-sweep       every 200 ms: expires reservations past their TTL (Ledger::Sweep)
//   ledger-compaction  at once, then hourly: folds entries older than the idempotency
//                      window and an hour's margin (LedgerStore::Compact); on a thread of its
//                      own, since it reads the whole ledger
//   authority-metrics  every `metrics_interval`: the budgets' and the ledger's metrics
// Every reference must outlive the manager's run. REQUIRES: `manager` not started.
void AddHousekeeping(kube::Manager& manager, authority::Ledger& ledger,
                     authority::LedgerStore& store, authority::AuthorityMetrics& metrics,
                     const Clock& clock, std::chrono::milliseconds metrics_interval);

// How long meters are given to drop a CA the authority's certificate moves away from: a
// meter keeps the CA bundle it was admitted with for its pod's life, so after a CA renewal
// (about nine months after the last) the authority's certificate moves to the new CA only
// once that CA has been published this long. A pod older than that then loses the
// authority.
inline constexpr std::chrono::hours kMeterTrustDelay{24 * 30};

// The operator's certificates (operator/certs/), from one CA in Secret
// agentbudget-webhook-ca of options.namespace_name:
//   the webhook's, when options.webhook_certs: Secret agentbudget-webhook-tls, for Service
//     options.webhook_service and options.webhook_cert_hosts, trusted through the caBundles
//     of the webhook configurations named agentbudget;
//   the authority's, when `authority_tls_dir` is not empty: Secret agentbudget-authority-tls,
//     for Service options.authority_service and options.authority_cert_hosts, trusted
//     through ConfigMap agentbudget-authority-ca (key ca.crt; kMeterTrustDelay) and
//     written into `authority_tls_dir` for the listener; a leader setup issues it before
//     the authority serves.
// Kept by a leader-only periodic runnable "certificates": at once, then every 60 s (5 s
// after a failure). Returns null when there is neither; the caller owns the result, which
// must outlive the manager's run. REQUIRES: `manager` not started.
std::unique_ptr<certs::Certificates> AddCertificates(kube::Manager& manager, kube::Client& client,
                                                     const Clock& clock, const Options& options,
                                                     const std::string& authority_tls_dir);

}  // namespace agentbudget::op
