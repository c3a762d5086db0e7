#!/usr/bin/env bash
# Loads image archives (docker-archive tars, e.g. from e2e/realnode/images.sh) into the
# real node's containerd (namespace k8s.io), where the kubelet finds them without a pull.
#
#   node-load.sh ARCHIVE...
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/node/lib.sh"
(($#)) || { echo "usage: node-load.sh ARCHIVE..." >&2; exit 2; }
[[ -S "$CONTAINERD_SOCK" ]] || { echo "node-load.sh: the real node is not up (node-up.sh NAME)" >&2; exit 1; }
for archive in "$@"; do
  [[ -f "$archive" ]] || { echo "node-load.sh: no such archive: $archive" >&2; exit 1; }
  started=$(date +%s)
  ctr_node images import "$archive" >/dev/null
  echo "node-load.sh: loaded $(basename "$archive") in $(( $(date +%s) - started )) s" >&2
done
