#!/usr/bin/env bash
# Keeps one source for what the chart copies: the CRDs (crds/*.yaml) and the meter's shipped
# rate card (meter/rates/default-rates.yaml). Exits 1 naming every copy that differs from
# its source; with --fix, copies the sources over first.
#
#   e2e/chart/check-chart-sources.sh [--fix]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
chart="$root/charts/agentbudget"
pairs=()
for crd in "$root"/crds/*.yaml; do
  pairs+=("$crd" "$chart/crds/$(basename "$crd")")
done
pairs+=("$root/meter/rates/default-rates.yaml" "$chart/files/default-rates.yaml")

status=0
for ((i = 0; i < ${#pairs[@]}; i += 2)); do
  source=${pairs[i]} copy=${pairs[i + 1]}
  if [[ ${1:-} == --fix ]]; then
    cp "$source" "$copy"
  fi
  if ! cmp -s "$source" "$copy"; then
    echo "check-chart-sources: ${copy#"$root"/} differs from ${source#"$root"/}" \
         "(run e2e/chart/check-chart-sources.sh --fix)" >&2
    status=1
  fi
done
# A chart CRD whose source was removed.
for copy in "$chart"/crds/*.yaml; do
  if [[ ! -f "$root/crds/$(basename "$copy")" ]]; then
    echo "check-chart-sources: ${copy#"$root"/} has no source in crds/" >&2
    status=1
  fi
done
exit $status
