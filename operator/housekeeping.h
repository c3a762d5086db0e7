#pragma once

#include <chrono>
#include <memory>

#include "common/clock.h"
#include "kube/manager.h"
#include "operator/authority/kube_ledger_store.h"
#include "operator/authority/ledger.h"
#include "operator/authority/metrics.h"
#include "operator/certs/webhook_certificates.h"
#include "operator/options.h"

namespace agentbudget::op {

// The authority's periodic work, as leader-only periodic runnables of `manager`, each
// waiting for its next step on the manager's stop signal:
//   ledger-sweep       every 200 ms: expires reservations past their TTL (Ledger::Sweep)
//   ledger-compaction  at once, then hourly: folds segments older than the idempotency
//                      window and an hour's margin into checkpoints; on a thread of its
//                      own, since it reads the whole ledger
//   authority-metrics  every `metrics_interval`: the budgets' and the ledger's metrics
// Every reference must outlive the manager's run. REQUIRES: `manager` not started.
void AddHousekeeping(kube::Manager& manager, authority::Ledger& ledger,
                     authority::KubeLedgerStore& store, authority::AuthorityMetrics& metrics,
                     const Clock& clock, std::chrono::milliseconds metrics_interval);

// The webhook's CA, serving certificate and caBundles (operator/certs/) for Service
// options.webhook_service in options.namespace_name and options.webhook_cert_hosts, kept
// by a leader-only periodic runnable "webhook-certificates": at once, then every 60 s (5 s
// after a failure). The caller owns the result, which must outlive the manager's run.
std::unique_ptr<certs::WebhookCertificates> AddWebhookCertificates(kube::Manager& manager,
                                                                   kube::Client& client,
                                                                   const Clock& clock,
                                                                   const Options& options);

}  // namespace agentbudget::op
