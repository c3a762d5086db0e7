#pragma once

#include <cstddef>
#include <string>

#include "common/flag_values.h"
#include "common/http_server.h"
#include "common/result.h"
#include "kube/manager.h"
#include "operator/authority/api.h"
#include "operator/authority/token_review_authenticator.h"

namespace agentbudget::op {

// Server options for `address` with `workers` handler threads and the authority's limits
// (64 KiB bodies, 4,096 queued requests).
http::ServerOptions ListenOptions(const flags::ListenAddress& address, size_t workers);

// Authenticator options that map a token's pod to its run, namespace and workload from
// `manager`'s shared caches (governed Pods by agentbudget.io/run, Namespaces,
// AgentWorkloads), so the reserve path reads the API only for the (cached) TokenReview.
// REQUIRES: `manager` not started; it outlives the authenticator.
authority::TokenReviewAuthenticator::Options CachedCallers(kube::Manager& manager);

// Whether the authority serves: only the leader does, once its leader setups (the ledger's
// recovery) are done, since its ledger is the only authoritative one. Followers answer
// 503 (retryable) and fail readiness. `manager` must outlive the check.
authority::AuthorityApi::ServingCheck LeaderServing(const kube::Manager& manager);

// The leader's authority listener (a kLeader runnable): serves `routes` (the AuthorityApi's
// and the FOCUS export's) with `options` from when the leader setups are done (the ledger
// recovered, its certificate issued) until the manager stops, and prints "authority <url>"
// and "ops <ops_url>" on stdout for scripts that bound port 0. A listener that cannot start
// ends the process (exit 1), as a failed start did. Whatever the routes refer to must
// outlive the manager's run.
kube::RunFunc ServeAuthority(http::Router routes, http::ServerOptions options,
                             std::string ops_url);

}  // namespace agentbudget::op
