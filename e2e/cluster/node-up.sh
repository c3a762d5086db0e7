#!/usr/bin/env bash
# Adds the machine's one real node to the local cluster NAME (started by up.sh): containerd,
# runc and the CNI bridge plugin from Debian, kubelet and kube-proxy built by build-tools.sh
# from the control plane's module, and CoreDNS serving cluster.local from the API.
#
#   node-up.sh NAME
#   node-up.sh --check    only the preflight: names what this host lacks, exits 1 if anything
#
# All traffic stays on this machine: pods sit on bridge abr0 (10.88.0.0/16) with no default
# route and no masquerade, a FORWARD guard drops anything from the bridge to elsewhere,
# CoreDNS forwards nothing, and the node pulls no image (containerd resolves no registry).
# Pods reach the API server through the `kubernetes` Service (a forward on 10.88.0.1 to its
# loopback port). Images are loaded with node/load-image.sh. Needs root and cgroups;
# without them it fails naming what is missing. A node that cannot start prints the blocker
# found in the logs and the setting that fixes it, then undoes everything.
# node-down.sh stops the node and restores the host (also after a failed run).
set -Eeuo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/node/lib.sh"
source "$here/node/blockers.sh"

case "${1:-}" in
  ''|-h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; [[ -n "${1:-}" ]]; exit $? ;;
  --check) node_preflight; exit $? ;;
esac
name=$1
valid_name "$name" || { echo "node-up.sh: invalid cluster name '$name'" >&2; exit 2; }

node_preflight || exit 1
dir=$(cluster_dir "$name")
[[ -f "$dir/env" ]] || { echo "node-up.sh: cluster $name is not running (start it with up.sh $name)" >&2; exit 1; }
source "$dir/env"
kubeconfig=$dir/kubeconfig
kubectl() { "$BIN/kubectl" --kubeconfig "$kubeconfig" "$@"; }
kubectl get --raw /readyz >/dev/null 2>&1 || { echo "node-up.sh: the API server of cluster $name does not answer" >&2; exit 1; }
for binary in kubelet kube-proxy coredns; do
  [[ -x "$BIN/$binary" ]] || { echo "node-up.sh: $BIN has no $binary (build-tools.sh builds it)" >&2; exit 1; }
done

owner=$(node_owner)
if [[ -n "$owner" && "$owner" != "$name" && -f "$(cluster_dir "$owner")/env" ]]; then
  echo "node-up.sh: the real node of cluster $owner is up; one real node per machine (node-down.sh stops it)" >&2
  exit 1
fi
# Leftovers of an earlier run (crashed, or never stopped) are undone first.
[[ -e "$NODE_STATE" || -e "$NODE_RUN" ]] && "$here/node-down.sh" >&2

ndir=$NODE_STATE
mkdir -p "$ndir"/{logs,pids,run,pki,host,cni/net.d,cni/ipam,kubelet,pod-logs,containerd} "$NODE_RUN"
echo "$name" > "$ndir/cluster"
cp "$dir/env" "$ndir/cluster.env"
cp "$kubeconfig" "$ndir/admin.kubeconfig"

# --- what the host looks like before: node-down.sh restores exactly this.
for key in "${HOST_SYSCTLS[@]}"; do
  value=$(sysctl -n "$key" 2>/dev/null) && echo "$key=$value"
done > "$ndir/host/sysctls"
iptables-save > "$ndir/host/iptables.v4"
ip6tables-save > "$ndir/host/iptables.v6"
for path in "${HOST_PATHS[@]}"; do [[ -e "$path" ]] && echo "$path"; done > "$ndir/host/paths" || true
for cg in /sys/fs/cgroup/*/; do
  for group in "${NODE_CGROUPS[@]}"; do [[ -d "$cg$group" ]] && echo "$cg$group"; done
done > "$ndir/host/cgroups" || true

fail() {
  echo "node-up.sh: $*" >&2
  tail_logs "$ndir" 12
  local found
  found=$(blocker "$ndir"/logs/*.log) || true
  [[ -n "$found" ]] && printf 'node-up.sh: blocker: %s\n' "$found" >&2
  mkdir -p "${TMPDIR:-/tmp}/agentbudget-node-logs"
  cp "$ndir"/logs/*.log "${TMPDIR:-/tmp}/agentbudget-node-logs/" 2>/dev/null || true
  echo "node-up.sh: logs copied to ${TMPDIR:-/tmp}/agentbudget-node-logs; undoing the node" >&2
  "$here/node-down.sh" >&2 || true
  exit 1
}
trap 'fail "interrupted"' INT TERM
trap 'fail "a step failed (line $LINENO)"' ERR

wait_for() {  # wait_for WHAT SECONDS COMMAND...
  local what=$1 seconds=$2
  shift 2
  poll_until "$seconds" "$@" || fail "$what did not happen within $seconds s"
}
launcher() { write_launcher "$ndir" "$@"; }  # launcher NAME COMMAND...
started=$(date +%s)

# --- network: the bridge, a route for Services, forwarding only bridge to bridge.
ip link add "$NODE_BRIDGE" type bridge
ip addr add "$NODE_IP/16" dev "$NODE_BRIDGE"
ip link set "$NODE_BRIDGE" up
ip route add "$SERVICE_RANGE" dev "$NODE_BRIDGE" src "$NODE_IP"
sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
iptables -N "$GUARD_CHAIN"
iptables -A "$GUARD_CHAIN" -i "$NODE_BRIDGE" -o "$NODE_BRIDGE" -j ACCEPT
iptables -A "$GUARD_CHAIN" -i "$NODE_BRIDGE" -j DROP
iptables -A "$GUARD_CHAIN" -o "$NODE_BRIDGE" -j DROP
iptables -I FORWARD 1 -j "$GUARD_CHAIN"
cat > "$ndir/cni/net.d/10-agentbudget.conflist" <<CNI
{
  "cniVersion": "1.0.0",
  "name": "agentbudget-node",
  "plugins": [
    {
      "type": "bridge", "bridge": "$NODE_BRIDGE", "isGateway": true, "isDefaultGateway": false,
      "ipMasq": false, "hairpinMode": true,
      "ipam": {
        "type": "host-local", "dataDir": "$ndir/cni/ipam",
        "ranges": [[{"subnet": "$POD_SUBNET", "gateway": "$NODE_IP", "rangeStart": "10.88.1.0"}]],
        "routes": [{"dst": "$SERVICE_RANGE"}]
      }
    }
  ]
}
CNI

# --- the pause image: a static binary, as a one-layer image.
mkdir -p "$ndir/pause/rootfs"
cc -static -Os -o "$ndir/pause/rootfs/pause" "$here/node/pause.c"
python3 "$here/node/image-archive.py" "$ndir/pause/rootfs" agentbudget.local/pause:1 "$ndir/pause/pause.tar" /pause

# --- containerd: CRI with cgroupfs, no oom_score_adj writes, no registry it can resolve.
mkdir -p "$ndir/containerd/certs.d/docker.io"
# Every pull of a docker.io reference (what `image: agent:1` means) goes to a closed
# loopback port: no name lookup, no traffic, and the kubelet reports the image as missing.
cat > "$ndir/containerd/certs.d/docker.io/hosts.toml" <<'HOSTS'
server = "http://127.0.0.1:9"
[host."http://127.0.0.1:9"]
  capabilities = ["pull", "resolve"]
HOSTS
cat > "$ndir/containerd/config.toml" <<TOML
version = 2
root = "$ndir/containerd/root"
state = "$NODE_RUN/containerd"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$NODE_RUN/containerd.ttrpc.sock"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "agentbudget.local/pause:1"
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$ndir/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$ndir/containerd/certs.d"
TOML
launcher containerd containerd --config "$ndir/containerd/config.toml"
start_component "$ndir" containerd
wait_for "containerd's socket" 30 ctr --address "$CONTAINERD_SOCK" version
ctr_node images import "$ndir/pause/pause.tar" >/dev/null

# --- credentials: client certificates from the cluster CA for the kubelet and kube-proxy.
pki=$ndir/pki
client_cert() {  # client_cert NAME SUBJECT
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/$1.key" 2>/dev/null
  openssl req -new -key "$pki/$1.key" -subj "$2" -out "$pki/$1.csr" 2>/dev/null
  printf '%s\n' basicConstraints=CA:FALSE keyUsage=digitalSignature,keyEncipherment \
    extendedKeyUsage=clientAuth > "$pki/$1.ext"
  openssl x509 -req -in "$pki/$1.csr" -CA "$dir/pki/ca.crt" -CAkey "$dir/pki/ca.key" \
    -CAcreateserial -CAserial "$pki/ca.srl" -days 30 -extfile "$pki/$1.ext" -out "$pki/$1.crt" 2>/dev/null
  cat > "$ndir/$1.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "https://127.0.0.1:$APISERVER_PORT", certificate-authority: "$dir/pki/ca.crt"}
users:
- name: $1
  user: {client-certificate: "$pki/$1.crt", client-key: "$pki/$1.key"}
contexts:
- name: local
  context: {cluster: local, user: $1}
current-context: local
KC
}
client_cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME"
client_cert kube-proxy "/CN=system:kube-proxy"
# The kubelet serves on the bridge address with a certificate from the cluster CA.
openssl ecparam -name prime256v1 -genkey -noout -out "$pki/kubelet-serving.key" 2>/dev/null
openssl req -new -key "$pki/kubelet-serving.key" -subj "/CN=$NODE_NAME" -out "$pki/kubelet-serving.csr" 2>/dev/null
printf '%s\n' basicConstraints=CA:FALSE keyUsage=digitalSignature,keyEncipherment \
  extendedKeyUsage=serverAuth "subjectAltName=IP:$NODE_IP,DNS:$NODE_NAME" > "$pki/kubelet-serving.ext"
openssl x509 -req -in "$pki/kubelet-serving.csr" -CA "$dir/pki/ca.crt" -CAkey "$dir/pki/ca.key" \
  -CAserial "$pki/ca.srl" -days 30 -extfile "$pki/kubelet-serving.ext" -out "$pki/kubelet-serving.crt" 2>/dev/null

# --- the API server for pods: a forward on the bridge address to its loopback port, and the
# `kubernetes` Service's endpoints there (up.sh runs it with --endpoint-reconciler-type none).
launcher apiserver-forward socat "TCP-LISTEN:$APISERVER_PORT,bind=$NODE_IP,fork,reuseaddr" \
  "TCP:127.0.0.1:$APISERVER_PORT"
start_component "$ndir" apiserver-forward
kubectl apply -f - >/dev/null <<SLICE
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kubernetes
  namespace: default
  labels: {kubernetes.io/service-name: kubernetes, endpointslice.kubernetes.io/managed-by: agentbudget-node}
addressType: IPv4
endpoints:
- addresses: ["$NODE_IP"]
  conditions: {ready: true}
ports:
- {name: https, port: $APISERVER_PORT, protocol: TCP}
SLICE

# --- kubelet.
echo "nameserver $NODE_IP" > "$ndir/resolv.conf"
cat > "$ndir/kubelet.yaml" <<KUBELET
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
failSwapOn: false
oomScoreAdj: 0
address: $NODE_IP
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
tlsCertFile: $pki/kubelet-serving.crt
tlsPrivateKeyFile: $pki/kubelet-serving.key
authentication:
  x509: {clientCAFile: $dir/pki/ca.crt}
  webhook: {enabled: true}
  anonymous: {enabled: false}
authorization: {mode: Webhook}
resolvConf: $ndir/resolv.conf
clusterDomain: cluster.local
clusterDNS: [$NODE_IP]
podLogsDir: $ndir/pod-logs
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, nodefs.inodesFree: 1%, imagefs.available: 1%}
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
maxPods: 50
serializeImagePulls: false
KUBELET
launcher kubelet "$BIN/kubelet" --config "$ndir/kubelet.yaml" --kubeconfig "$ndir/kubelet.kubeconfig" \
  --root-dir "$ndir/kubelet" --cert-dir "$pki" --node-ip "$NODE_IP" --hostname-override "$NODE_NAME" \
  --node-labels agentbudget.io/real-node=true --v 1
start_component "$ndir" kubelet
wait_for "node $NODE_NAME becoming Ready" 90 kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=1s

# --- kube-proxy: iptables mode, no masquerade, node ports on the bridge address only.
cat > "$ndir/kube-proxy.yaml" <<PROXY
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $ndir/kube-proxy.kubeconfig}
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_SUBNET
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:$PROXY_HEALTHZ_PORT
metricsBindAddress: 127.0.0.1:$PROXY_METRICS_PORT
nodePortAddresses: ["$NODE_IP/32"]
iptables: {masqueradeAll: false}
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
PROXY
launcher kube-proxy "$BIN/kube-proxy" --config "$ndir/kube-proxy.yaml"
start_component "$ndir" kube-proxy
wait_for "kube-proxy health" 30 curl -sf "http://127.0.0.1:$PROXY_HEALTHZ_PORT/healthz"

# --- CoreDNS: cluster.local from the API on the bridge address; every other name refused.
cat > "$ndir/Corefile" <<COREFILE
cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {
  bind $NODE_IP
  errors
  kubernetes cluster.local in-addr.arpa ip6.arpa {
    kubeconfig $ndir/admin.kubeconfig
    pods insecure
  }
}
COREFILE
launcher coredns "$BIN/coredns" -conf "$ndir/Corefile"
start_component "$ndir" coredns
dns_answers() {
  python3 - "$NODE_IP" <<'PY'
import socket, struct, sys
query = struct.pack(">HHHHHH", 1, 0x0100, 1, 0, 0, 0)
for label in "kubernetes.default.svc.cluster.local".split("."):
    query += bytes([len(label)]) + label.encode()
query += b"\0" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
s.sendto(query, (sys.argv[1], 53))
reply = s.recv(512)
sys.exit(0 if reply[3] & 0xF == 0 and struct.unpack(">H", reply[6:8])[0] > 0 else 1)
PY
}
wait_for "CoreDNS answering kubernetes.default.svc.cluster.local" 30 dns_answers

# --- a pod: a node can be Ready and still fail every sandbox (the blockers above).
kubectl apply -f - >/dev/null <<POD
apiVersion: v1
kind: Pod
metadata: {name: node-check, namespace: kube-system}
spec:
  nodeName: $NODE_NAME
  restartPolicy: Never
  containers: [{name: pause, image: agentbudget.local/pause:1, imagePullPolicy: IfNotPresent}]
POD
wait_for "a first pod running on the node" 60 \
  kubectl wait --for=condition=Ready pod/node-check -n kube-system --timeout=1s
kubectl delete pod node-check -n kube-system --wait=false >/dev/null

trap - INT TERM ERR
echo "node-up.sh: node $NODE_NAME of cluster $name ready in $(( $(date +%s) - started )) s (state: $ndir)" >&2
