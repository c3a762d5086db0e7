#!/usr/bin/env python3
"""The demo's showback report, printed from the operator's own figures.

Reads the report the operator serves (GET /v1/showback?format=json: spend by team,
workflow, engineer and model, each budget, each workload's cost per successful run, the
degraded share; docs/authority.md, "Showback") and prints it as tables. Nothing is
recomputed here: every figure is the operator's, defined once in its core. Two
cross-checks: the report's total against the FOCUS file's (the same ledger rows), and
FOCUS tokens against the provider's own ledger. Reservation decisions come from the
operator's metrics. Money is handled as Decimal, never float.

Writes the totals as JSON next to the FOCUS file (showback.json) for the e2e test.

Usage: showback.py --report showback-report.json --focus focus.csv
                   [--provider-ledger F] [--metrics-url U]
"""
import argparse
import csv
import json
import os
import sys
import urllib.request
from decimal import Decimal


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
    return "-" if value is None else "$%s" % Decimal(value).quantize(Decimal("0.0001"))


def percent(value):
    return "-" if value is None else value + "%"


def focus_totals(path):
    total, tokens = Decimal(0), 0
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            total += Decimal(row["BilledCost"] or "0")
            if row.get("ConsumedUnit") == "Tokens":
                tokens += int(Decimal(row["ConsumedQuantity"] or "0"))
    return total, tokens


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
    parser.add_argument("--report", required=True, help="GET /v1/showback?format=json, saved")
    parser.add_argument("--focus", required=True)
    parser.add_argument("--provider-ledger")
    parser.add_argument("--metrics-url")
    args = parser.parse_args()
    with open(args.report) as f:
        report = json.load(f)
    total = Decimal(report["total"])
    if total == 0:
        print("showback: the operator's report for %s has no spend: nothing was committed"
              % report["periodStart"][:7])
        return 1
    out = ["Showback %s to %s (the operator's figures; the page: showback.html)"
           % (report["periodStart"][:10], report["periodEnd"][:10])]
    for title, name, key in [("By team", "team", "byTeam"), ("By workflow", "workflow", "byWorkflow"),
                             ("By engineer", "engineer", "byEngineer"), ("By model", "model", "byModel")]:
        lines = [[g["name"], g["runs"], format(g["tokens"], ","), usd(g["spend"]),
                  percent(g["share"])] for g in report[key]]
        lines.append(["total", report["runs"], format(report["tokens"], ","), usd(total), "100.0%"])
        out.append(table(title, [name, "runs", "tokens", "cost", "share"], lines))

    out.append(table(
        "Runs (cost per successful run: the workload's whole spend this month, failed runs "
        "and subagents included, over its runs that succeeded)",
        ["workload", "spend", "ended", "succeeded", "success", "per success", "per merged PR",
         "token yield"],
        [[w["workload"], usd(w["spend"]), w["finishedRuns"], w["succeededRuns"],
          percent(w["successRate"]), usd(w["costPerSuccessfulRun"]), usd(w["costPerMergedPr"]),
          percent(w["tokenYield"])] for w in report["workloads"]]))

    shared = [b for b in report["budgets"] if "perKey" not in b]
    out.append(table("Budgets", ["budget", "limit", "spent", "used", "burn/h", "forecast",
                                 "pressure"],
                     [[b["name"], b["limit"], b["totalSpent"], b["utilization"],
                       b["burnRatePerHour"], b["forecast"], b["pressure"]] for b in shared]))
    for budget in (b for b in report["budgets"] if "perKey" in b):
        over = ", ".join("%d at %s" % (o["keys"], o["threshold"]) for o in budget["keysOverAlert"])
        out.append(table(
            "Budget %s: limit %s; total spent %s over %d keys (forecast %s); keys over each "
            "alert: %s" % (budget["name"], budget["limit"] + " per " + budget["perKey"],
                           budget["totalSpent"], budget["keys"], budget["forecast"], over),
            [budget["perKey"], "spent", "of the limit"],
            [[k["key"], k["spent"], k["utilization"]] for k in budget["topKeys"]]))
    out.append("")
    if report.get("degradedShare") is not None:
        out.append("degraded share: %s%% of the calls let through went to a fallback model"
                   % report["degradedShare"])
    focus_total, focus_tokens = focus_totals(args.focus)
    checks = {"focusTotal": str(focus_total)}
    out.append("check: the report's total %s %s the FOCUS file's (%s)" % (
        usd(total), "equals" if focus_total == total else "DIFFERS FROM", usd(focus_total)))
    if args.provider_ledger and os.path.exists(args.provider_ledger):
        provider = provider_tokens(args.provider_ledger)
        checks["providerTokens"] = provider
        out.append("check: FOCUS tokens %s; the provider's own ledger %s%s" % (
            format(focus_tokens, ","), format(provider, ","),
            "" if provider == focus_tokens
            else " (calls cut off by the end of the demo or unanswered)"))
    if args.metrics_url:
        counts = decisions(args.metrics_url)
        checks["decisions"] = counts
        out.append("reservation decisions (operator metrics): " + ", ".join(
            "%s %d" % (k, v) for k, v in sorted(counts.items())))
    print("\n".join(out))
    summary = {"total": report["total"], "tokens": report["tokens"],
               "byTeam": {g["name"]: g["spend"] for g in report["byTeam"]}, "checks": checks}
    with open(os.path.join(os.path.dirname(os.path.abspath(args.focus)), "showback.json"),
              "w") as f:
        json.dump(summary, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
