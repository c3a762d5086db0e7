#!/usr/bin/env bash
# Starts a real Kubernetes control plane on loopback: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and kwok with fake Nodes whose Pods run and
# (when owned by a Job) succeed. Several clusters can run side by side under different names.
#
#   up.sh [NAME] [--replace]   (default NAME: local; --replace stops a running cluster
#                               of that name first, e.g. one left by a crashed test)
#
# On success prints `KUBECONFIG=<path>` as its last line (stdout, after all progress on stderr). On failure stops what it
# started, prints the tail of every log and where the logs are kept, and exits non-zero.
# Environment:
#   AGENTBUDGET_STATE   state root (default: $TMPDIR/agentbudget or /tmp/agentbudget)
#   AGENTBUDGET_NODES   fake Nodes to create (default 4; 0 for a cluster whose only Node is
#                       the real one of node-up.sh)
#   AGENTBUDGET_CACHE   where build-tools.sh caches the binaries
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"

case "${1:-}" in -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
name=local replace=0
for arg in "$@"; do
  case "$arg" in
    --replace) replace=1 ;;
    *) name=$arg ;;
  esac
done
valid_name "$name" || { echo "up.sh: invalid cluster name '$name' (lower-case letters, digits, '-')" >&2; exit 2; }
for tool in openssl curl python3 setsid; do
  command -v "$tool" >/dev/null || { echo "up.sh: '$tool' is not installed (run scripts/setup)" >&2; exit 1; }
done

bin=$("$here/build-tools.sh" | tail -n 1)
dir=$(cluster_dir "$name")
if [[ -d "$dir" ]]; then
  if [[ $replace == 0 && -f "$dir/pids/kube-apiserver" ]] && kill -0 "$(cat "$dir/pids/kube-apiserver")" 2>/dev/null; then
    echo "up.sh: cluster $name is already running (state in $dir); stop it with down.sh $name or pass --replace" >&2
    exit 1
  fi
  "$here/down.sh" "$name" >/dev/null 2>&1 || true
fi
mkdir -p "$dir"/{pki,logs,pids,run,etcd}

fail() {
  echo "up.sh: $*" >&2
  tail_logs "$dir" 15
  echo "up.sh: logs kept in $dir/logs" >&2
  "$here/down.sh" --keep "$name" >/dev/null 2>&1 || true
  exit 1
}
trap 'fail "interrupted"' INT TERM

# --- ports: six consecutive free ports below the ephemeral range, not claimed by another
# cluster under the same state root (the lock serialises the choice between parallel runs).
exec 9>"$(cluster_root)/.ports.lock"
flock 9
base=$(python3 - "$(cluster_root)" <<'PY'
import glob, random, socket, sys
claimed = set()
for path in glob.glob(sys.argv[1] + "/*/env"):
    for line in open(path):
        if line.startswith("PORT_BASE="):
            claimed.add(int(line.split("=")[1]))
def free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
for _ in range(200):
    base = random.randrange(20000, 32000, 10)
    if base not in claimed and all(free(base + i) for i in range(6)):
        print(base)
        sys.exit(0)
sys.exit("no free port range found")
PY
) || fail "no free loopback ports"
cat > "$dir/env" <<ENV
PORT_BASE=$base
ETCD_PORT=$base
ETCD_PEER_PORT=$((base + 1))
APISERVER_PORT=$((base + 2))
CONTROLLER_MANAGER_PORT=$((base + 3))
SCHEDULER_PORT=$((base + 4))
KWOK_PORT=$((base + 5))
BIN=$bin
ENV
flock -u 9
source "$dir/env"

# --- PKI: one ECDSA P-256 CA; the API server's serving certificate; an admin client
# certificate in system:masters; the service-account signing key.
pki=$dir/pki
ec() { openssl ecparam -name prime256v1 -genkey -noout -out "$1" 2>/dev/null; }
ec "$pki/ca.key"
openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=agentbudget-local-ca" -days 3650 \
  -out "$pki/ca.crt" 2>/dev/null || fail "could not create the CA"
issue() {  # issue NAME SUBJECT EXTENSIONS
  ec "$pki/$1.key"
  openssl req -new -key "$pki/$1.key" -subj "$2" -out "$pki/$1.csr" 2>/dev/null
  printf '%s\n' "$3" > "$pki/$1.ext"
  openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 3650 -extfile "$pki/$1.ext" -out "$pki/$1.crt" 2>/dev/null || fail "could not issue $1"
}
issue apiserver "/CN=kube-apiserver" "$(printf '%s\n' \
  'basicConstraints=CA:FALSE' 'keyUsage=digitalSignature,keyEncipherment' \
  'extendedKeyUsage=serverAuth' \
  'subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local')"
issue admin "/O=system:masters/CN=agentbudget-admin" "$(printf '%s\n' \
  'basicConstraints=CA:FALSE' 'keyUsage=digitalSignature,keyEncipherment' 'extendedKeyUsage=clientAuth')"
# The API server's client certificate towards kubelets (logs, exec, port-forward on a real
# node; node-up.sh).
issue kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$(printf '%s\n' \
  'basicConstraints=CA:FALSE' 'keyUsage=digitalSignature,keyEncipherment' 'extendedKeyUsage=clientAuth')"
ec "$pki/sa.key"
openssl ec -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null

kubeconfig=$dir/kubeconfig
cat > "$kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: $name
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority: $pki/ca.crt
users:
- name: admin
  user:
    client-certificate: $pki/admin.crt
    client-key: $pki/admin.key
contexts:
- name: $name
  context: {cluster: $name, user: admin}
current-context: $name
KC

# --- one launcher script per component, so that restart.sh reuses the exact command.
launcher() { write_launcher "$dir" "$@"; }  # launcher NAME COMMAND...
launcher etcd "$BIN/etcd" --name default --data-dir "$dir/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "default=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync \
  --log-level warn
launcher kube-apiserver "$BIN/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
  --cert-dir "$pki/apiserver" \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/ca.crt" \
  --authorization-mode Node,RBAC \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --api-audiences https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range 10.96.0.0/16 --allow-privileged=true \
  --endpoint-reconciler-type none --profiling=false \
  --kubelet-preferred-address-types InternalIP \
  --kubelet-client-certificate "$pki/kubelet-client.crt" --kubelet-client-key "$pki/kubelet-client.key"
launcher kube-controller-manager "$BIN/kube-controller-manager" \
  --kubeconfig "$kubeconfig" --authentication-kubeconfig "$kubeconfig" \
  --authorization-kubeconfig "$kubeconfig" \
  --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
  --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
  --bind-address 127.0.0.1 --secure-port "$CONTROLLER_MANAGER_PORT" \
  --authorization-always-allow-paths /healthz,/readyz,/livez,/metrics \
  --leader-elect=false --profiling=false
launcher kube-scheduler "$BIN/kube-scheduler" \
  --kubeconfig "$kubeconfig" --authentication-kubeconfig "$kubeconfig" \
  --authorization-kubeconfig "$kubeconfig" \
  --bind-address 127.0.0.1 --secure-port "$SCHEDULER_PORT" \
  --authorization-always-allow-paths /healthz,/readyz,/livez,/metrics \
  --leader-elect=false --profiling=false
launcher kwok "$BIN/kwok" --kubeconfig "$kubeconfig" \
  --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
  --node-lease-duration-seconds 40 --server-address "127.0.0.1:$KWOK_PORT" \
  --config "$here/kwok-stages.yaml"

# wait_for WHAT SECONDS COMMAND...: polls COMMAND every 0.2 s until it succeeds.
wait_for() {
  local what=$1 seconds=$2
  shift 2
  poll_until "$seconds" "$@" || fail "$what did not happen within $seconds s"
}
kubectl() { "$BIN/kubectl" --kubeconfig "$kubeconfig" "$@"; }
started=$(date +%s)

start_component "$dir" etcd
wait_for "etcd health" 30 curl -sf "http://127.0.0.1:$ETCD_PORT/health"
start_component "$dir" kube-apiserver
wait_for "kube-apiserver readiness" 180 curl -sf --cacert "$pki/ca.crt" "https://127.0.0.1:$APISERVER_PORT/readyz"
for component in kube-controller-manager kube-scheduler kwok; do
  start_component "$dir" "$component"
done
wait_for "kube-controller-manager health" 60 curl -sfk "https://127.0.0.1:$CONTROLLER_MANAGER_PORT/healthz"
wait_for "kube-scheduler health" 60 curl -sfk "https://127.0.0.1:$SCHEDULER_PORT/healthz"

# Fake Nodes for kwok; it only manages Nodes carrying its annotation.
nodes=${AGENTBUDGET_NODES:-4}
for ((i = 0; i < nodes; i++)); do
  cat <<NODE
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {type: kwok, kubernetes.io/hostname: kwok-node-$i, kubernetes.io/os: linux, kubernetes.io/arch: amd64}
status:
  allocatable: {cpu: "64", memory: 256Gi, pods: "500"}
  capacity: {cpu: "64", memory: 256Gi, pods: "500"}
---
NODE
done > "$dir/fake-nodes.yaml"
if ((nodes > 0)); then
  kubectl apply -f "$dir/fake-nodes.yaml" >/dev/null || fail "could not create the fake Nodes"
  wait_for "fake Nodes becoming Ready" 60 kubectl wait --for=condition=Ready node --all --timeout=1s
fi
# The service-account controller creates `default` in each namespace; pods need it.
wait_for "the default ServiceAccount" 60 kubectl get serviceaccount default -n default

trap - INT TERM
echo "up.sh: cluster $name ready in $(( $(date +%s) - started )) s (logs: $dir/logs)" >&2
echo "KUBECONFIG=$kubeconfig"
