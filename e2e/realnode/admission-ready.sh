#!/usr/bin/env bash
# Waits until the API server admits through the chart's webhook Service: a server-side dry
# run of an AgentBudget, which the validating webhook checks, succeeds.
#
#   e2e/realnode/admission-ready.sh KUBECTL KUBECONFIG [SECONDS]   (default 60)
#
# The webhook's pods being Ready is not enough. kube-proxy writes the Service's rules after
# its EndpointSlice turns ready, up to its minSyncPeriod (1 s) later; until then the host's
# rule for a Service without endpoints rejects the API server's connection (`dial tcp
# <ClusterIP>:443: connect: connection refused`), and anything created in that window that
# the webhook must admit (failurePolicy Fail) is refused.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../cluster/lib.sh"
kubectl=${1:?usage: admission-ready.sh KUBECTL KUBECONFIG [SECONDS]}
kubeconfig=${2:?usage: admission-ready.sh KUBECTL KUBECONFIG [SECONDS]}
seconds=${3:-60}
admitted() {
  "$kubectl" --kubeconfig "$kubeconfig" create --dry-run=server -f - <<'BUDGET'
apiVersion: agentbudget.io/v1alpha1
kind: AgentBudget
metadata: {name: admission-ready}
spec:
  period: Month
  limit: {amount: "1"}
BUDGET
}
if ! poll_until "$seconds" admitted; then
  admitted >&2 || true
  echo "admission-ready.sh: the API server did not admit through the webhook within $seconds s" >&2
  exit 1
fi
