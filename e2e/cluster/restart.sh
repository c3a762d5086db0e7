#!/usr/bin/env bash
# Restarts one component of a running local cluster with the same flags and ports, and
# waits until the API server answers again.
#   restart.sh NAME COMPONENT   (etcd, kube-apiserver, kube-controller-manager,
#                                kube-scheduler or kwok)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"

[[ $# == 2 ]] || { echo "usage: restart.sh NAME COMPONENT" >&2; exit 2; }
name=$1 component=$2
valid_name "$name" || { echo "restart.sh: invalid cluster name '$name'" >&2; exit 2; }
dir=$(cluster_dir "$name")
[[ -f "$dir/run/$component.sh" ]] || { echo "restart.sh: no component '$component' in cluster $name ($dir)" >&2; exit 1; }
stop_component "$dir" "$component"
start_component "$dir" "$component"
source "$dir/env"
deadline=$(( $(date +%s) + 180 ))
until curl -sf --cacert "$dir/pki/ca.crt" "https://127.0.0.1:$APISERVER_PORT/readyz" >/dev/null; do
  if (( $(date +%s) > deadline )); then
    echo "restart.sh: kube-apiserver not ready 180 s after restarting $component; logs in $dir/logs" >&2
    exit 1
  fi
  sleep 0.2
done
echo "restart.sh: $component restarted in cluster $name" >&2
