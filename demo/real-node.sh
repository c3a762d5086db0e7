#!/usr/bin/env bash
# The demo on real pods (`scripts/demo --real-node [--cluster NAME]`): the images built from
# deploy/docker, the chart installed with helm on the local cluster's real node, the demo's
# teams, budgets and workloads, and one real Claude Code run per team as a governed Job
# whose meter sends its calls to the demo's stub provider. Then the
# budgets as the operator sees them and showback from its FOCUS export, next to the
# provider's own ledger. Needs root and cgroups (docs/real-node.md). Leaves everything up;
# `scripts/demo --real-node --down` stops it and restores the host.
#
#   demo/real-node.sh CLUSTER [--down]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cluster=${1:?usage: real-node.sh CLUSTER [--down]}
state=${AGENTBUDGET_STATE:-${TMPDIR:-/tmp}/agentbudget}/demo/$cluster
scripts=$root/e2e/cluster
node_ip=10.88.0.1

stop_processes() {
  local pidfile pid
  for pidfile in "$state"/pids/*; do
    [[ -f "$pidfile" ]] || continue
    pid=$(cat "$pidfile")
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}
if [[ "${2:-}" == --down ]]; then
  stop_processes
  "$scripts/node-down.sh"
  "$scripts/down.sh" "$cluster"
  echo "demo: stopped (logs and the FOCUS file stay in $state)" >&2
  exit 0
fi

say() { printf '\n== %s\n' "$*"; }
start() {  # start NAME COMMAND...: in its own session, output to logs/NAME.log
  local name=$1; shift
  setsid "$@" >"$state/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$state/pids/$name"
}

"$root/scripts/setup" --minimal
tools=$("$scripts/build-tools.sh" | tail -n 1)
stop_processes
"$scripts/node-down.sh"
rm -rf "$state"
mkdir -p "$state"/{pids,logs}

say "Images from deploy/docker and e2e/realnode/agent.Dockerfile"
mapfile -t archives < <("$root/e2e/realnode/images.sh")
printf '%s\n' "${archives[@]}"

say "The local cluster with one real node"
kubeconfig=$(AGENTBUDGET_NODES=0 "$scripts/up.sh" "$cluster" --replace | tail -n 1)
kubeconfig=${kubeconfig#KUBECONFIG=}
kubectl() { "$tools/kubectl" --kubeconfig "$kubeconfig" "$@"; }
"$scripts/node-up.sh" "$cluster"
"$scripts/node-load.sh" "${archives[@]}"
kubectl get nodes -o wide

say "The stub LLM provider on the host, Service stub-provider for the pods"
start stub python3 -u "$root/demo/stub_provider.py" --ledger "$state/provider-ledger.jsonl"
for _ in $(seq 100); do grep -q '^PORT=' "$state/logs/stub.log" && break; sleep 0.1; done
stub_port=$(sed -n 's/^PORT=//p' "$state/logs/stub.log")
start stub-forward socat "TCP-LISTEN:$stub_port,bind=$node_ip,fork,reuseaddr" "TCP:127.0.0.1:$stub_port"
kubectl apply -f - <<EOF
apiVersion: v1
kind: Service
metadata: {name: stub-provider, namespace: default}
spec:
  ports: [{name: http, port: 80, targetPort: $stub_port}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: stub-provider, namespace: default, labels: {kubernetes.io/service-name: stub-provider}}
addressType: IPv4
endpoints: [{addresses: ["$node_ip"], conditions: {ready: true}}]
ports: [{name: http, port: $stub_port, protocol: TCP}]
EOF

say "helm install: the operator and the webhook as pods"
"$tools/helm" --kubeconfig "$kubeconfig" install agentbudget "$root/charts/agentbudget" \
  --namespace agentbudget-system --create-namespace \
  --set 'webhook.jobControllerUsers={agentbudget-admin}' --set 'webhook.trustedCreators={agentbudget-ci}'
kubectl -n agentbudget-system rollout status deploy/agentbudget-webhook --timeout=300s
"$root/e2e/realnode/admission-ready.sh" "$tools/kubectl" "$kubeconfig"
kubectl -n agentbudget-system get pods -o wide

say "Teams, budgets and workloads (demo/scenario)"
for manifest in "$root"/demo/scenario/*.yaml; do
  sed "s|@STUB_URL@|http://stub-provider.default.svc.cluster.local|g" "$manifest"
  echo "---"
done | kubectl apply -f -

say "Agent runs: real Claude Code, created by the CI identity"
agent_image=agentbudget-e2e/agent:$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$root/charts/agentbudget/Chart.yaml")
# job NAMESPACE WORKLOAD ENGINEER NAME COMMAND: a governed Job charged to ENGINEER.
job() {
  kubectl create --as agentbudget-ci -f - <<EOF
apiVersion: batch/v1
kind: Job
metadata:
  name: $4
  namespace: $1
  labels: {agentbudget.io/workload: $2, agentbudget.io/user: $3}
spec:
  backoffLimit: 0
  template:
    metadata:
      labels: {agentbudget.io/workload: $2, agentbudget.io/user: $3}
    spec:
      restartPolicy: Never
      containers:
      - name: agent
        image: $agent_image
        imagePullPolicy: IfNotPresent
        command: [bash, -c, $(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$5")]
        # The demo's workloads hold no provider keys (the stub needs none), so the clients
        # bring placeholders; with credentials in a workload the webhook injects them.
        env: [{name: DISABLE_AUTOUPDATER, value: "1"}, {name: CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC, value: "1"},
              {name: ANTHROPIC_API_KEY, value: placeholder}, {name: OPENAI_API_KEY, value: placeholder}]
EOF
}
# The demo's stub answers with tool calls, so each run goes on until its workload's
# per-run ceiling stops it. (It speaks Chat Completions, not the Responses API Codex needs;
# the real-node suite runs Codex against e2e/meter's stub.)
claude() { echo "exec claude -p \"$1\" --model $2"; }
job payments pr-review alice review "$(claude "review this pull request" claude-haiku-4-5)"
job search flaky-test-fixer bob fix-flaky "$(claude "fix the flaky test" claude-sonnet-4-5)"
for run in payments/review search/fix-flaky; do
  for _ in $(seq 300); do
    outcome=$(kubectl get job -n "${run%/*}" "${run#*/}" -o jsonpath='{.status.conditions[?(@.status=="True")].type}')
    [[ "$outcome" =~ Complete|Failed ]] && break
    sleep 1
  done
  echo "$run: ${outcome:-still running}"
  # A run the operator ended (perRun.onCeiling: Stop) has no pod left to read.
  kubectl logs -n "${run%/*}" "job/${run#*/}" -c agent 2>/dev/null | tail -n 3 \
    || echo "(no agent log: the operator ended the run and its pod is gone)"
done

say "Showback (from the operator's FOCUS export and the cluster)"
sleep 6  # one status interval of the chart's operator
kubectl get agentbudgets
kubectl get agentworkloads -A
"$tools/helm" template agentbudget "$root/charts/agentbudget" --namespace agentbudget-system \
  --show-only templates/rbac-spend-viewer.yaml | kubectl apply -f - >/dev/null
kubectl create serviceaccount finance -n agentbudget-system >/dev/null
kubectl create clusterrolebinding finance-reads-spend --clusterrole agentbudget-spend-viewer \
  --serviceaccount agentbudget-system:finance >/dev/null
kubectl get configmap -n agentbudget-system agentbudget-authority-ca -o jsonpath='{.data.ca\.crt}' > "$state/authority-ca.crt"
authority_ip=$(kubectl get service -n agentbudget-system agentbudget-operator -o jsonpath='{.spec.clusterIP}')
finance_token=$(kubectl create token finance -n agentbudget-system --duration=10m)
# The FOCUS file, the showback page and its figures as JSON, from the operator.
for path in "v1/focus:focus.csv" "v1/showback:showback.html" "v1/showback?format=json:showback-report.json"; do
  curl -sf --cacert "$state/authority-ca.crt" \
    --resolve "agentbudget-operator.agentbudget-system.svc:8443:$authority_ip" \
    -H "Authorization: Bearer $finance_token" \
    "https://agentbudget-operator.agentbudget-system.svc:8443/${path%%:*}" -o "$state/${path#*:}"
done
python3 "$root/demo/showback.py" --report "$state/showback-report.json" \
  --focus "$state/focus.csv" --provider-ledger "$state/provider-ledger.jsonl" | tee "$state/showback.txt"

say "Explore"
echo "export KUBECONFIG=$kubeconfig PATH=$tools:\$PATH"
echo "kubectl get pods -A -o wide    # the operator, the webhook and the agent runs, on node real-node"
echo "scripts/demo --real-node --cluster $cluster --down    # stop, restore the host"
