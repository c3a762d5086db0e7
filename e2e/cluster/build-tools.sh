#!/usr/bin/env bash
# Builds the local control plane's binaries (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kwok), the real node's (kubelet, kube-proxy, CoreDNS) and helm
# (for the chart's tests) from the Go module proxy into a cache outside the work tree.
# Each tools module (tools/<module>/) is cached under the hash of its go.mod and go.sum, so
# only a module whose pins change is rebuilt. Prints, as its last line of stdout, a
# directory holding every binary.
#
# Environment:
#   AGENTBUDGET_CACHE  cache root (default: $XDG_CACHE_HOME/agentbudget or ~/.cache/agentbudget)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools="$here/tools"
cache=${AGENTBUDGET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/agentbudget}/control-plane
# Bump when the way binaries are built changes, to invalidate every cached build.
layout=2

command -v go >/dev/null || { echo "build-tools: 'go' is not on PATH; install Go 1.26 or later" >&2; exit 1; }

module_key() { cat "$tools/$1/go.mod" "$tools/$1/go.sum" <(echo "$layout") | sha256sum | cut -c1-16; }

# build_module MODULE: builds the module's binaries into $cache/MODULE-<key> unless cached.
build_module() {
  local module=$1 out
  out="$cache/$module-$(module_key "$module")"
  [[ -f "$out/.complete" ]] && return 0
  rm -rf "$out"
  mkdir -p "$out"
  local start
  start=$(date +%s)
  echo "build-tools: building $module (first time only; several minutes for kube)" >&2
  (cd "$tools/$module" && CGO_ENABLED=0 "build_$module" "$out") >&2
  echo "build-tools: built $module in $(( $(date +%s) - start )) s into $out" >&2
  touch "$out/.complete"
}

build_etcd() {
  go build -o "$1/" go.etcd.io/etcd/server/v3
  mv "$1/server" "$1/etcd"
}

build_coredns() { go build -o "$1/" github.com/coredns/coredns; }

build_kwok() { go build -o "$1/" sigs.k8s.io/kwok/cmd/kwok; }

build_kube() {
  local version major minor stamp="" pkg
  version=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
  major=${version#v}; major=${major%%.*}
  minor=${version#v*.}; minor=${minor%%.*}
  # Without these, /version reports v0.0.0-master.
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    stamp+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    stamp+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  go build -o "$1/" -ldflags "$stamp" k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubectl k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy
}

build_helm() {
  local version kube minor
  version=$(go list -m -f '{{.Version}}' helm.sh/helm/v3)
  kube=$(go list -m -f '{{.Version}}' k8s.io/client-go)
  minor=${kube#v0.}; minor=${minor%%.*}
  # Without these, `helm version` reports a development build and `helm template` assumes
  # Kubernetes 1.20.
  go build -o "$1/" -ldflags "-X helm.sh/helm/v3/internal/version.version=$version \
    -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 \
    -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor" helm.sh/helm/v3/cmd/helm
}

mkdir -p "$cache"
# Parallel callers (test suites starting clusters at once) build one at a time.
exec 8>"$cache/.lock"
flock 8
modules=(etcd kwok kube helm coredns)
combined=""
for module in "${modules[@]}"; do
  build_module "$module"
  combined+="$module-$(module_key "$module") "
done

# One directory of links to every module's binaries.
bin="$cache/bin-$(echo "$combined" | sha256sum | cut -c1-16)"
if [[ ! -f "$bin/.complete" ]]; then
  rm -rf "$bin"
  mkdir -p "$bin"
  for dir in $combined; do
    for binary in "$cache/$dir"/*; do
      ln -s "$binary" "$bin/$(basename "$binary")"
    done
  done
  touch "$bin/.complete"
fi
echo "$bin"
