#!/usr/bin/env bash
# Builds the local control plane's binaries (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kwok) from the Go module proxy into a cache outside the work tree.
# A build is keyed by the hash of the pinning go.mod/go.sum files, so it reruns only when a
# pin changes. Prints the directory holding the binaries on its last line of stdout.
#
# Environment:
#   AGENTBUDGET_CACHE  cache root (default: $XDG_CACHE_HOME/agentbudget or ~/.cache/agentbudget)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools="$here/tools"
cache=${AGENTBUDGET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/agentbudget}

command -v go >/dev/null || { echo "build-tools: 'go' is not on PATH; install Go 1.26 or later" >&2; exit 1; }

key=$(cat "$tools"/*/go.mod "$tools"/*/go.sum "$here/build-tools.sh" | sha256sum | cut -c1-16)
out="$cache/control-plane/$key"
if [[ -f "$out/.complete" ]]; then
  echo "$out"
  exit 0
fi

mkdir -p "$out"
kube_version=$(cd "$tools/kube" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
[[ -n "$kube_version" ]] || { echo "build-tools: no k8s.io/kubernetes pin in $tools/kube/go.mod" >&2; exit 1; }
major=${kube_version#v}; major=${major%%.*}
minor=${kube_version#v*.}; minor=${minor%%.*}
stamp=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  stamp+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  stamp+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

export CGO_ENABLED=0
build() {  # build <module dir> <go build args...>
  local dir=$1; shift
  echo "build-tools: building $* in $dir" >&2
  (cd "$tools/$dir" && go build -o "$out/" "$@") >&2
}
start=$(date +%s)
build etcd go.etcd.io/etcd/server/v3
mv "$out/server" "$out/etcd"
build kwok sigs.k8s.io/kwok/cmd/kwok
build kube -ldflags "$stamp" k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kubectl
echo "build-tools: built in $(( $(date +%s) - start )) s into $out" >&2
touch "$out/.complete"
echo "$out"
