#!/usr/bin/env bash
# Renders the chart's PrometheusRule with the default values and checks it with promtool:
# `promtool check rules` (syntax, PromQL) and `promtool test rules` on alert_rules_test.yaml
# (each alert quiet below its threshold, firing with its labels and annotations above it).
#   tests/chart/alert_rules_test.sh    (ctest: chart_alert_rules_test, label tools)
# Needs promtool (Debian package prometheus) and helm (e2e/cluster/build-tools.sh); both come
# with scripts/setup.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
command -v promtool >/dev/null || {
  echo "alert_rules_test: promtool is missing; install the Debian package prometheus (scripts/setup does)" >&2
  exit 1
}
bin=$("$root/e2e/cluster/build-tools.sh" | tail -n 1)
[[ -x "$bin/helm" ]] || { echo "alert_rules_test: helm is missing in $bin (e2e/cluster/build-tools.sh builds it)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin/helm" template agentbudget "$root/charts/agentbudget" --namespace agentbudget-system \
  --set metrics.prometheusRules.enabled=true --show-only templates/monitoring.yaml >"$work/rendered.yaml"
# The rule file promtool reads is the PrometheusRule's spec (its groups).
python3 - "$work/rendered.yaml" "$work/rules.yaml" <<'PY'
import sys, yaml
rules = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d.get("kind") == "PrometheusRule"]
if len(rules) != 1:
    sys.exit(f"alert_rules_test: expected one PrometheusRule in the chart, found {len(rules)}")
yaml.safe_dump(rules[0]["spec"], open(sys.argv[2], "w"), sort_keys=False)
PY
cp "$here/alert_rules_test.yaml" "$work/"
promtool check rules "$work/rules.yaml"
# Every alert the chart defines has a test.
python3 - "$work/rules.yaml" "$work/alert_rules_test.yaml" <<'PY'
import sys, yaml
alerts = {r["alert"] for g in yaml.safe_load(open(sys.argv[1]))["groups"] for r in g["rules"] if "alert" in r}
tested = {t["alertname"] for case in yaml.safe_load(open(sys.argv[2]))["tests"] for t in case.get("alert_rule_test", [])}
if alerts - tested:
    sys.exit("alert_rules_test: alerts without a promtool test: " + ", ".join(sorted(alerts - tested)))
PY
promtool test rules "$work/alert_rules_test.yaml"
