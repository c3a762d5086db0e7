#pragma once

#include <chrono>
#include <memory>

#include "common/clock.h"
#include "kube/manager.h"
#include "operator/authority/ledger.h"
#include "operator/authority/ledger_store.h"
#include "operator/authority/metrics.h"
#include "operator/certs/certificates.h"
#include "operator/ledger_ceiling.h"
#include "operator/options.h"

namespace agentbudget::op {

// The authority's periodic work, as leader-only periodic runnables of `manager`, each
// waiting for its next step on the manager's stop signal:
//   ledger-sweep       every 200 ms: expires reservations past their TTL (Ledger::Sweep)
//   ledger-compaction  at once, then every kFoldInterval (kFoldIntervalNearCeiling while
//                      `ceiling` says the store is near its ceiling): folds entries older
//                      than kFoldDelay into per-(run, model, attribution, 15-minute
//                      bucket) totals, keeping key digests for the idempotency window; on a
//                      thread of its own, since it reads the whole ledger; then publishes
//                      the store's usage through `ceiling`
//   authority-metrics  every `metrics_interval`: the budgets' and the ledger's metrics
// Every reference must outlive the manager's run. REQUIRES: `manager` not started.
void AddHousekeeping(kube::Manager& manager, authority::Ledger& ledger,
                     authority::LedgerStore& store, LedgerCeiling& ceiling,
                     authority::AuthorityMetrics& metrics, const Clock& clock,
                     std::chrono::milliseconds metrics_interval);

inline constexpr std::chrono::minutes kFoldInterval{5};
inline constexpr std::chrono::minutes kFoldIntervalNearCeiling{1};
// Entries younger than this stay as they are: a group-committed segment is folded once
// every entry in it is this old, which covers the group commit's latency.
inline constexpr std::chrono::minutes kFoldDelay{2};

// What a compaction at `now` folds (LedgerStore::Compact): entries older than kFoldDelay,
// keeping the digests of keys inside `ledger`'s idempotency window and the totals
// `ledger` still needs (Ledger::RetainTotalsFrom).
authority::CompactOptions FoldOptions(core::SysSeconds now, const authority::Ledger& ledger);

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
