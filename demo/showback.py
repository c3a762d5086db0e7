#!/usr/bin/env python3
"""The demo's showback report, from the operator's FOCUS export and the cluster.

Spend by team, workflow, engineer and model is summed from the FOCUS rows (BilledCost,
ConsumedQuantity, Tags); cost per successful run divides a workflow's spend (its
subagents included) by its top-level Jobs that completed, read from the API server, next
to the operator's own figure from AgentWorkload status. Two
cross-checks: the FOCUS total against the spend the operator reports for the AgentBudget
that matches everything, and FOCUS tokens against the provider's own ledger. Reservation
decisions come from the operator's metrics. Money is summed as Decimal, never float.

Writes the totals as JSON next to the FOCUS file (showback.json) for the e2e test.

Usage: showback.py --kubeconfig F --focus focus.csv [--provider-ledger F] [--metrics-url U]
"""
import argparse
import csv
import json
import os
import sys
import urllib.request
from collections import defaultdict
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kube import Kube  # noqa: E402

LABEL = "agentbudget.io/"


def read_focus(path):
    rows = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            tags = json.loads(row.get("Tags") or "{}")
            tags = {k[len(LABEL):] if k.startswith(LABEL) else k: v for k, v in tags.items()}
            rows.append({"cost": Decimal(row["BilledCost"] or "0"),
                         "tokens": int(Decimal(row["ConsumedQuantity"] or "0"))
                         if row.get("ConsumedUnit") == "Tokens" else 0,
                         "model": row.get("x_Model") or tags.get("model", "-"),
                         "kind": row.get("x_Kind", "commit"), "run": row.get("x_Run", ""),
                         "tags": tags})
    return rows


def table(title, header, lines):
    widths = [max(len(str(x)) for x in column) for column in zip(header, *lines)]
    out = ["", title]
    for i, line in enumerate([header] + lines):
        out.append("  ".join(str(x).ljust(w) if j == 0 else str(x).rjust(w)
                             for j, (x, w) in enumerate(zip(line, widths))))
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def usd(value):
    return "$%s" % value.quantize(Decimal("0.0001"))


def by(rows, key):
    groups = defaultdict(lambda: [Decimal(0), 0, set()])
    for row in rows:
        group = groups[key(row)]
        group[0] += row["cost"]
        group[1] += row["tokens"]
        group[2].add(row["run"])
    return sorted(groups.items(), key=lambda item: -item[1][0])


def provider_tokens(path):
    total = 0
    with open(path) as f:
        for line in f:
            usage = json.loads(line)["usage"]
            if "prompt_tokens" in usage:
                total += usage["prompt_tokens"] + usage["completion_tokens"]
            else:
                total += sum(usage.get(k, 0) for k in ("input_tokens", "cache_read_input_tokens",
                                                       "cache_creation_input_tokens",
                                                       "output_tokens"))
    return total


def decisions(metrics_url):
    counts = {}
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("agentbudget_reservation_decisions_total{"):
                name = line.split('decision="')[1].split('"')[0]
                counts[name] = counts.get(name, 0) + int(float(line.rsplit(" ", 1)[1]))
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--kubectl", default="kubectl")
    parser.add_argument("--focus", required=True)
    parser.add_argument("--provider-ledger")
    parser.add_argument("--metrics-url")
    args = parser.parse_args()
    kube = Kube(args.kubeconfig, args.kubectl)
    rows = read_focus(args.focus)
    if not rows:
        print("showback: the FOCUS export %s has no rows: nothing was committed" % args.focus)
        return 1
    total = sum((r["cost"] for r in rows), Decimal(0))
    tokens = sum(r["tokens"] for r in rows)
    budgets = kube.get("/apis/agentbudget.io/v1alpha1/agentbudgets")["items"]
    # A per-engineer budget's envelopes as the operator reports them (its top keys).
    per_user = next((b for b in budgets if b["spec"].get("perKey") == "user"), None)
    per_user_spent = {k["key"]: "$%s (%s)" % (k["spent"], k.get("utilization", "-"))
                      for k in ((per_user or {}).get("status") or {}).get("topKeys", [])}
    out = []
    for title, name, key in [("By team", "team", lambda r: r["tags"].get("team", "-")),
                             ("By workflow", "workflow", lambda r: r["tags"].get("workflow", "-")),
                             ("By engineer", "engineer", lambda r: r["tags"].get("user", "-")),
                             ("By model", "model", lambda r: r["model"])]:
        groups = by(rows, key)
        extra = name == "engineer" and per_user is not None
        header = [name, "runs", "tokens", "cost", "share"]
        if extra:
            header.append("AgentBudget " + per_user["metadata"]["name"])
        lines = [[k, len(v[2]), format(v[1], ","), usd(v[0]),
                  "%.1f%%" % (100 * v[0] / total if total else 0)] +
                 ([per_user_spent.get(k, "-")] if extra else []) for k, v in groups]
        lines.append(["total", len({r["run"] for r in rows}), format(tokens, ","), usd(total),
                      "100.0%"] + ([""] if extra else []))
        out.append(table(title, header, lines))

    # Cost per successful run: a workflow's spend over its top-level Jobs that completed.
    jobs = kube.get("/apis/batch/v1/jobs?labelSelector=agentbudget.io%2Fworkflow")["items"]
    succeeded, top_level = defaultdict(int), defaultdict(int)
    for job in jobs:
        labels = job["metadata"].get("labels") or {}
        if LABEL + "parent-run" in labels:
            continue
        workflow = labels.get(LABEL + "workflow", "-")
        top_level[workflow] += 1
        conditions = (job.get("status") or {}).get("conditions") or []
        if any(c["type"] == "Complete" and c["status"] == "True" for c in conditions):
            succeeded[workflow] += 1
    # The operator's own figure, from AgentWorkload status, for comparison.
    operator_figure = {}
    for workload in kube.get("/apis/agentbudget.io/v1alpha1/agentworkloads")["items"]:
        workflow = ((workload.get("spec") or {}).get("attribution") or {}).get("workflow")
        figure = (workload.get("status") or {}).get("costPerSuccessfulRun")
        if workflow and figure is not None:
            operator_figure[workflow] = "$" + str(figure)
    lines = []
    for workflow, (cost, _, runs) in by(rows, lambda r: r["tags"].get("workflow", "-")):
        per_run = usd(cost / succeeded[workflow]) if succeeded[workflow] else "n/a (none succeeded)"
        lines.append([workflow, top_level[workflow], succeeded[workflow], usd(cost), per_run,
                      operator_figure.get(workflow, "-")])
    out.append(table("Cost per successful run (spend incl. subagents / completed top-level Jobs)",
                     ["workflow", "jobs", "succeeded", "spend", "per success",
                      "AgentWorkload status"], lines))

    out.append(table("Budgets (AgentBudget status, written by the operator)",
                     ["budget", "limit", "spent", "used", "pressure"], [
                         [b["metadata"]["name"], "$" + b["spec"]["limit"].get("amount", "?"),
                          "$" + str((b.get("status") or {}).get("spent", "?")),
                          (b.get("status") or {}).get("utilization", "-"),
                          (b.get("status") or {}).get("pressure", "-")]
                         for b in budgets if not b["spec"].get("perKey")]))
    out.append("")
    checks = {}
    everything = [b for b in budgets if not b["spec"].get("selector") and
                  not b["spec"].get("namespaceSelector") and not b["spec"].get("perKey")]
    if everything:
        spent = Decimal(str((everything[0].get("status") or {}).get("spent", "0")))
        checks["budgetSpent"] = str(spent)
        out.append("check: FOCUS total %s %s the spend of AgentBudget %s (%s)" % (
            usd(total), "equals" if spent == total else "DIFFERS FROM",
            everything[0]["metadata"]["name"], usd(spent)))
    if args.provider_ledger and os.path.exists(args.provider_ledger):
        provider = provider_tokens(args.provider_ledger)
        checks["providerTokens"] = provider
        out.append("check: FOCUS tokens %s; the provider's own ledger %s%s" % (
            format(tokens, ","), format(provider, ","),
            "" if provider == tokens else " (calls cut off by the end of the demo or unanswered)"))
    if args.metrics_url:
        counts = decisions(args.metrics_url)
        checks["decisions"] = counts
        out.append("reservation decisions (operator metrics): " + ", ".join(
            "%s %d" % (k, v) for k, v in sorted(counts.items())))
    print("\n".join(out))
    summary = {"total": str(total), "tokens": tokens,
               "byTeam": {k: str(v[0]) for k, v in by(rows, lambda r: r["tags"].get("team", "-"))},
               "checks": checks}
    with open(os.path.join(os.path.dirname(os.path.abspath(args.focus)), "showback.json"),
              "w") as f:
        json.dump(summary, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
