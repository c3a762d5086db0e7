# Shared by node-up.sh, node-down.sh and the real-node suites: where the machine's one real
# node keeps its state, its fixed addresses, and the host settings it changes. Sourced.

# One real node per machine: its state is machine-wide, not per cluster.
NODE_STATE=/var/lib/agentbudget-node     # kubelet and containerd roots, logs, host record
NODE_RUN=/run/agentbudget-node           # sockets and containerd's runtime state
NODE_NAME=real-node
NODE_BRIDGE=abr0
NODE_IP=10.88.0.1                        # the bridge: kubelet, CoreDNS, the API forward
POD_SUBNET=10.88.0.0/16
SERVICE_RANGE=10.96.0.0/16               # up.sh's --service-cluster-ip-range
CONTAINERD_SOCK=$NODE_RUN/containerd.sock
KUBELET_PORT=10250                       # on NODE_IP only
KUBELET_HEALTHZ_PORT=10248               # on 127.0.0.1 only
PROXY_HEALTHZ_PORT=10256                 # on 127.0.0.1 only
PROXY_METRICS_PORT=10249                 # on 127.0.0.1 only
GUARD_CHAIN=AGENTBUDGET-NODE-FORWARD

# The host settings the node changes (kubelet, the CNI bridge plugin, the bridge itself);
# node-up.sh records their values first and node-down.sh puts them back.
HOST_SYSCTLS=(vm.overcommit_memory kernel.panic kernel.panic_on_oops net.ipv4.ip_forward
  net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables)
# Cgroups the kubelet (kubepods) and containerd (k8s.io) create in every v1 hierarchy.
NODE_CGROUPS=(kubepods k8s.io)
# Host paths the kubelet creates outside its root directory.
HOST_PATHS=(/var/log/containers /var/log/pods /var/lib/cni)

ctr_node() { ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }

# node_owner: the cluster whose node is up (or was, if a run failed), or nothing.
node_owner() { cat "$NODE_STATE/cluster" 2>/dev/null || true; }

# node_preflight: names on stderr everything this host lacks to run the node (root, cgroups,
# the Debian tools scripts/setup installs) and returns 1 if anything; nothing is skipped.
node_preflight() {
  local missing=() tool plugin
  [[ $(id -u) == 0 ]] || missing+=("root (the kubelet, containerd and the bridge need uid 0)")
  [[ -d /sys/fs/cgroup/memory || -f /sys/fs/cgroup/cgroup.controllers ]] \
    || missing+=("cgroups (neither a v1 memory hierarchy nor cgroup v2 under /sys/fs/cgroup)")
  for tool in containerd containerd-shim-runc-v2 runc ctr iptables iptables-save iptables-restore \
    ip6tables-save ip6tables-restore nft conntrack socat ip sysctl cc python3 openssl; do
    command -v "$tool" >/dev/null || missing+=("$tool (run scripts/setup)")
  done
  for plugin in bridge host-local loopback; do
    [[ -x /usr/lib/cni/$plugin ]] || missing+=("/usr/lib/cni/$plugin (Debian containernetworking-plugins; run scripts/setup)")
  done
  if ((${#missing[@]})); then
    printf 'node-up.sh: cannot start a real node; missing:\n' >&2
    printf '  - %s\n' "${missing[@]}" >&2
    return 1
  fi
}
