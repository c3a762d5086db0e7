#!/usr/bin/env bash
# Stops a local cluster started by up.sh and removes its state.
#   down.sh NAME        stop cluster NAME
#   down.sh --all       stop every cluster under the state root
#   --keep              keep the state directory (logs, data) after stopping
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"

keep=0 all=0 names=()
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    --all) all=1
      for d in "$(cluster_root)"/*/; do [[ -d "$d" ]] && names+=("$(basename "$d")"); done ;;
    -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) valid_name "$arg" || { echo "down.sh: invalid cluster name '$arg'" >&2; exit 2; }
       names+=("$arg") ;;
  esac
done
if [[ ${#names[@]} == 0 ]]; then
  [[ $all == 1 ]] && exit 0
  echo "usage: down.sh NAME | --all [--keep]" >&2
  exit 2
fi

for name in "${names[@]}"; do
  dir=$(cluster_dir "$name")
  [[ -d "$dir" ]] || continue
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    stop_component "$dir" "${COMPONENTS[$i]}"
  done
  if [[ $keep == 0 ]]; then
    rm -rf "$dir"
  fi
  echo "down.sh: cluster $name stopped" >&2
done
