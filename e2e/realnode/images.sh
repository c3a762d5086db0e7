#!/usr/bin/env bash
# Builds the images the real node runs, from the files users build: deploy/docker/Dockerfile
# (operator, webhook, meter, via deploy/docker/build.sh) and e2e/realnode/agent.Dockerfile
# (Claude Code and Codex CLI at the versions e2e/meter/clients pins), and saves each as an
# archive that `ctr images import` loads (e2e/cluster/node/load-images.sh).
#
#   e2e/realnode/images.sh          prints the archives' paths, one a line, on stdout
#   e2e/realnode/images.sh --check  only names what this host lacks to build them (exit 1)
#
# No registry is involved. The Debian base (debian:bookworm, debian:bookworm-slim) is a
# `debootstrap --variant=minbase` root filesystem imported into a Docker engine this script
# starts by hand with no networking of its own (Debian docker.io: --bridge=none,
# --iptables=false); builds use `--network host` so that apt-get and npm inside them reach
# Debian's mirror and the npm registry exactly as the host does. Needs root.
#
# Cache ($AGENTBUDGET_CACHE/real-node-images): the base root filesystem keyed by
# debootstrap's version and suite, the engine's data root (its layer cache makes unchanged
# builds take seconds), and the archives keyed by image ID, one per image (the current).
# Every source change adds a compile layer to the engine's build cache; after the builds,
# images no tag names any more are removed and the build cache is pruned, least recently
# used first, down to $AGENTBUDGET_IMAGE_BUILD_CACHE (default 3GB), so the data root stays
# near the current images plus that bound. The script logs the data root's size.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${AGENTBUDGET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/agentbudget}/real-node-images
tag=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$root/charts/agentbudget/Chart.yaml")
docker=/usr/bin/docker   # Debian's CLI, matching Debian's engine
run=/run/agentbudget-docker
log() { echo "images.sh: $*" >&2; }

missing=()
[[ $(id -u) == 0 ]] || missing+=("root (the Docker engine and debootstrap need uid 0)")
for tool in debootstrap dockerd "$docker" containerd runc; do
  command -v "$tool" >/dev/null || missing+=("$tool (run scripts/setup)")
done
if ((${#missing[@]})); then
  printf 'images.sh: cannot build the images; missing:\n' >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi
[[ "${1:-}" == --check ]] && exit 0
mkdir -p "$cache"
exec 7>"$cache/.lock"
flock 7

# --- the Debian base.
key=$( { dpkg-query -W -f='${Version}' debootstrap; echo " bookworm minbase"; } | sha256sum | cut -c1-16)
base=$cache/debian-bookworm-$key.tar
if [[ ! -f "$base" ]]; then
  log "debootstrap bookworm (first time only)"
  started=$(date +%s)
  rootfs=$(mktemp -d "$cache/rootfs.XXXXXX")
  debootstrap --variant=minbase bookworm "$rootfs" >&2
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" --numeric-owner -cf "$base.partial" .
  rm -rf "$rootfs"
  mv "$base.partial" "$base"
  log "base root filesystem in $(( $(date +%s) - started )) s: $(du -h "$base" | cut -f1)"
fi

# --- the engine, started by hand and stopped on exit.
mkdir -p "$run" "$cache/docker"
export DOCKER_HOST=unix://$run/docker.sock
# The cgroups the engine creates (cgroupfs driver) go with it, unless they were there before.
engine_cgroups=()
for hierarchy in /sys/fs/cgroup/*/; do
  [[ -d "${hierarchy}docker" ]] || engine_cgroups+=("${hierarchy}docker")
done
stop_engine() {
  local pid group
  pid=$(cat "$run/dockerd.pid" 2>/dev/null) || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  for group in "${engine_cgroups[@]}"; do
    [[ -d "$group" ]] && find "$group" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  rm -rf "$run"
}
trap stop_engine EXIT
dockerd --host "$DOCKER_HOST" --data-root "$cache/docker" --exec-root "$run/exec" \
  --pidfile "$run/dockerd.pid" --bridge=none --iptables=false --ip6tables=false \
  --ip-forward=false --ip-masq=false --storage-driver overlay2 --exec-opt native.cgroupdriver=cgroupfs \
  > "$cache/dockerd.log" 2>&1 &
for _ in $(seq 150); do "$docker" version >/dev/null 2>&1 && break; sleep 0.2; done
"$docker" version >/dev/null 2>&1 || { tail -n 20 "$cache/dockerd.log" >&2; log "the Docker engine did not start (log: $cache/dockerd.log)"; exit 1; }

if [[ "$("$docker" image inspect -f '{{index .Config.Labels "agentbudget.base"}}' debian:bookworm 2>/dev/null)" != "$key" ]]; then
  "$docker" import --change "LABEL agentbudget.base=$key" --change 'CMD ["bash"]' "$base" debian:bookworm >/dev/null
fi
"$docker" tag debian:bookworm debian:bookworm-slim

# --- the builds (BuildKit: it honours deploy/docker/Dockerfile.dockerignore).
export DOCKER_BUILDKIT=1
build_started=$(date +%s)
DOCKER=$docker DOCKER_BUILD_FLAGS="--network host" "$root/deploy/docker/build.sh" agentbudget "$tag" >&2
ca_bundle=/etc/ssl/certs/ca-certificates.crt  # what the host trusts (Debian ca-certificates)
"$docker" build --network host -f "$here/agent.Dockerfile" -t "agentbudget-e2e/agent:$tag" \
  ${ca_bundle:+--secret "id=host-ca,src=$ca_bundle"} "$root" >&2
log "builds took $(( $(date +%s) - build_started )) s"
"$docker" image prune --force >/dev/null
"$docker" builder prune --force --keep-storage "${AGENTBUDGET_IMAGE_BUILD_CACHE:-3GB}" >/dev/null
log "engine data root: $(du -sh "$cache/docker" | cut -f1) (build cache: $("$docker" system df \
  --format '{{if eq .Type "Build Cache"}}{{.Size}}{{end}}' | tr -d '\n'))"

for image in "agentbudget/operator:$tag" "agentbudget/webhook:$tag" "agentbudget/meter:$tag" \
  "agentbudget-e2e/agent:$tag"; do
  id=$("$docker" image inspect -f '{{.Id}}' "$image")
  archive=$cache/$(echo "${image%%:*}" | tr / -)-${id#sha256:}.tar
  archive=${archive:0:${#archive}-52}.tar  # name-<first 12 hex of the ID>.tar
  if [[ ! -f "$archive" ]]; then
    "$docker" save -o "$archive.partial" "$image"
    mv "$archive.partial" "$archive"
  fi
  # One archive per image: those of earlier builds go.
  for stale in "${archive%-*}"-*.tar; do
    [[ "$stale" == "$archive" ]] || rm -f "$stale"
  done
  log "$image: $(( $("$docker" image inspect -f '{{.Size}}' "$image") / 1000000 )) MB"
  echo "$archive"
done
