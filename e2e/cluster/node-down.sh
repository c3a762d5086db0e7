#!/usr/bin/env bash
# Stops the machine's real node (node-up.sh) and restores the host as node-up.sh found it:
# sysctls, iptables (IPv4 and IPv6), the bridge and its route, cgroups, mounts, network
# namespaces and the paths the kubelet creates. Idempotent: safe after a failed or
# interrupted node-up.sh, with or without the cluster still running, and when nothing is up.
#
#   node-down.sh [--keep-logs DIR]   (copies the node's logs to DIR first)
#
# Exits non-zero, listing what is left, if the host could not be restored.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/node/lib.sh"

keep_logs=""
case "${1:-}" in
  -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  --keep-logs) keep_logs=${2:?--keep-logs needs a directory} ;;
  '') ;;
  *) echo "usage: node-down.sh [--keep-logs DIR]" >&2; exit 2 ;;
esac
[[ $(id -u) == 0 ]] || { echo "node-down.sh: needs root (the node's state is root's)" >&2; exit 1; }
[[ -e "$NODE_STATE" || -e "$NODE_RUN" ]] || exit 0
ndir=$NODE_STATE
if [[ -n "$keep_logs" ]]; then
  mkdir -p "$keep_logs" && cp "$ndir"/logs/*.log "$keep_logs/" 2>/dev/null
fi

# 1. While the kubelet still runs, let it stop the node's pods (CNI DEL, unmounts).
if [[ -f "$ndir/cluster.env" && -f "$ndir/pids/kubelet" ]] && kill -0 "$(cat "$ndir/pids/kubelet")" 2>/dev/null; then
  BIN=$(sed -n 's/^BIN=//p' "$ndir/cluster.env")
  kubectl() { timeout 20 "$BIN/kubectl" --kubeconfig "$ndir/admin.kubeconfig" "$@"; }
  if kubectl get --raw /readyz >/dev/null 2>&1; then
    kubectl cordon "$NODE_NAME" >/dev/null 2>&1
    kubectl delete pods --all-namespaces --field-selector "spec.nodeName=$NODE_NAME" \
      --grace-period=5 --wait=false >/dev/null 2>&1
    for _ in $(seq 60); do
      [[ -z "$(ctr_node tasks ls -q 2>/dev/null)" ]] && break
      sleep 0.5
    done
    kubectl delete node "$NODE_NAME" --wait=false >/dev/null 2>&1
    kubectl delete endpointslice -n default kubernetes >/dev/null 2>&1
  fi
fi

# 2. What is left of the containers, then the processes.
if [[ -S "$CONTAINERD_SOCK" ]]; then
  for task in $(ctr_node tasks ls -q 2>/dev/null); do ctr_node tasks kill -s SIGKILL "$task" >/dev/null 2>&1; done
  sleep 0.5
  for task in $(ctr_node tasks ls -q 2>/dev/null); do ctr_node tasks delete -f "$task" >/dev/null 2>&1; done
  for container in $(ctr_node containers ls -q 2>/dev/null); do ctr_node containers delete "$container" >/dev/null 2>&1; done
fi
for component in coredns kube-proxy kubelet apiserver-forward; do stop_component "$ndir" "$component"; done
# kube-proxy's own chains; the iptables restore below would drop them too.
if [[ -f "$ndir/cluster.env" ]]; then
  BIN=$(sed -n 's/^BIN=//p' "$ndir/cluster.env")
  [[ -x "$BIN/kube-proxy" ]] && "$BIN/kube-proxy" --cleanup >/dev/null 2>&1
fi
stop_component "$ndir" containerd
# Shims outlive containerd; every process still in the node's cgroups goes.
for cg in /sys/fs/cgroup/*/; do
  for group in "${NODE_CGROUPS[@]}"; do
    grep -qx "$cg$group" "$ndir/host/cgroups" 2>/dev/null && continue
    [[ -d "$cg$group" ]] || continue
    find "$cg$group" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null
  done
done
pgrep -f "containerd-shim-runc-v2 -namespace k8s.io -id .* -address $CONTAINERD_SOCK" | xargs -r kill -KILL 2>/dev/null
sleep 0.3

# 3. Mounts and network namespaces.
for netns in /run/netns/cni-*; do
  [[ -e "$netns" ]] && ip netns delete "$(basename "$netns")" 2>/dev/null
done
for _ in 1 2 3; do
  findmnt -rn -o TARGET | grep -E "^($NODE_STATE|$NODE_RUN)(/|$)" | sort -r | xargs -r -n1 umount -l 2>/dev/null
done

# 4. Network: the bridge (its veths went with the namespaces), the route, iptables.
ip link show "$NODE_BRIDGE" >/dev/null 2>&1 && ip link delete "$NODE_BRIDGE"
# restore_tables FAMILY SAVE RESTORE BEFORE: tables absent before are deleted (iptables here
# is the nf_tables backend); the others are put back as they were (iptables-restore replaces
# each table it is given).
restore_tables() {
  local family=$1 save=$2 restore=$3 before=$4 table
  [[ -f "$before" ]] || return 0
  for table in filter nat mangle raw security; do
    grep -qx "\*$table" "$before" && continue
    nft list table "$family" "$table" >/dev/null 2>&1 && nft delete table "$family" "$table"
  done
  grep -q '^\*' "$before" && "$restore" < "$before"
}
restore_tables ip iptables-save iptables-restore "$ndir/host/iptables.v4"
restore_tables ip6 ip6tables-save ip6tables-restore "$ndir/host/iptables.v6"

# 5. Sysctls, cgroups, host paths.
if [[ -f "$ndir/host/sysctls" ]]; then
  while IFS= read -r setting; do sysctl -qw "$setting"; done < "$ndir/host/sysctls"
fi
for cg in /sys/fs/cgroup/*/; do
  for group in "${NODE_CGROUPS[@]}"; do
    grep -qx "$cg$group" "$ndir/host/cgroups" 2>/dev/null && continue
    [[ -d "$cg$group" ]] && find "$cg$group" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
done
for path in "${HOST_PATHS[@]}"; do
  [[ -f "$ndir/host/paths" ]] || break
  grep -qx "$path" "$ndir/host/paths" || rm -rf "$path"
done

# 6. Check, then forget the node.
left=()
ip link show "$NODE_BRIDGE" >/dev/null 2>&1 && left+=("bridge $NODE_BRIDGE")
ip route show "$SERVICE_RANGE" | grep -q . && left+=("route $SERVICE_RANGE")
findmnt -rn -o TARGET | grep -qE "^($NODE_STATE|$NODE_RUN)(/|$)" && left+=("mounts under $NODE_STATE or $NODE_RUN")
if [[ -f "$ndir/host/sysctls" ]]; then
  while IFS='=' read -r key value; do
    [[ "$(sysctl -n "$key")" == "$value" ]] || left+=("sysctl $key=$(sysctl -n "$key") (was $value)")
  done < "$ndir/host/sysctls"
fi
normalise() { grep -v -E '^#' | sed -E 's/\[[0-9]+:[0-9]+\]/[0:0]/'; }
for family in iptables:v4 ip6tables:v6; do
  before=$ndir/host/${family%:*}.${family#*:}
  [[ -f "$before" ]] || continue
  diff <(normalise < "$before") <("${family%:*}-save" | normalise) >/dev/null \
    || left+=("${family%:*} rules differ from before")
done
for cg in /sys/fs/cgroup/*/; do
  for group in "${NODE_CGROUPS[@]}"; do
    [[ -d "$cg$group" ]] && ! grep -qx "$cg$group" "$ndir/host/cgroups" 2>/dev/null && left+=("cgroup $cg$group")
  done
done
if ((${#left[@]})); then
  printf 'node-down.sh: the host is not restored; left:\n' >&2
  printf '  - %s\n' "${left[@]}" >&2
  echo "node-down.sh: state kept in $NODE_STATE for another node-down.sh" >&2
  exit 1
fi
rm -rf "$NODE_STATE" "$NODE_RUN"
echo "node-down.sh: real node stopped, host restored" >&2
