#!/usr/bin/env bash
# Builds the three images with Docker (or any builder with the same CLI, e.g. podman).
#
#   deploy/docker/build.sh [REGISTRY [TAG]]    # default: agentbudget 0.1.0
#
# Produces REGISTRY/operator:TAG, REGISTRY/webhook:TAG and REGISTRY/meter:TAG, the names
# the chart uses (image.registry, <component>.image.repository, tag). DOCKER_BUILD_FLAGS adds
# flags to every build (e2e/realnode/images.sh passes --network host).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
registry=${1:-agentbudget}
tag=${2:-0.1.0}
docker=${DOCKER:-docker}
command -v "$docker" >/dev/null || { echo "build.sh: '$docker' is not on PATH" >&2; exit 1; }
for component in operator webhook meter; do
  # shellcheck disable=SC2086
  "$docker" build ${DOCKER_BUILD_FLAGS:-} -f "$root/deploy/docker/Dockerfile" --build-arg "COMPONENT=$component" \
    -t "$registry/$component:$tag" "$root"
done
