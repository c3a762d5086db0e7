#!/usr/bin/env python3
"""End-to-end test of the main job: runs `scripts/demo --short` on a cluster of its own
(demo-e2e) with the given operator, webhook and meter binaries, then checks its key
outcomes against the cluster and the operator, not against what the demo printed:

- a soft alert: an AgentBudget with condition SoftLimitReached True;
- a degraded call: the operator's metrics count degrade decisions;
- Deferrable work queued under budget pressure (a Job annotation or an Event with reason
  BudgetPressure);
- running Deferrable Jobs suspended by the operator under that pressure (its Warning Events
  "suspended: ...", its suspensions metric) and resumed once the limit was raised (the Job
  controller's Suspended condition False with reason JobResumed);
- release-blocking work continuing: a ReleaseBlocking Job completed after the first
  suspension and before the first resumption;
- no idle stretch: the stub provider's ledger has a call at least every 20 s of the fleet;
- the runaway stopped at its ceiling: the operator ended its Job (Failed, DeadlineExceeded,
  a RunCeilingReached Event naming maxCost), and the spend the operator recorded for it in
  FOCUS stays within its workload's perRun.maxCost plus one call;
- every row of the FOCUS file is priced at the shipped rate card's list price, and each
  run that ended has exactly the tokens of each type the stub provider's own ledger
  served it;
- the FOCUS file is non-empty, and the showback totals the operator served (overall and
  per team, in its JSON and on its HTML page) equal the FOCUS totals, which equal the spend
  of the budget that matches everything; the report's cost per successful run equals the
  AgentWorkload status's;
- the fleet created its Jobs as the CI identity, agentbudget-ci, the webhook's trusted
  creator: every Job is charged to the engineer the plan names, and every subagent Job to
  its parent's engineer and run.

Usage: demo_e2e_test.py OPERATOR WEBHOOK METER
"""
import calendar
import csv
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request
from decimal import Decimal

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLUSTER = "demo-e2e"
BINARIES = []
RESULT = {}
COUNTS = {}  # scene -> what the cluster showed of it, printed at the end


def run_demo():
    """Runs the demo once for all tests; keeps its output, kubeconfig and URLs."""
    if RESULT:
        return RESULT
    bins = tempfile.mkdtemp(prefix="agentbudget-demo-bins-")
    RESULT["bins"] = bins
    for binary in BINARIES:
        if not os.access(binary, os.X_OK):
            raise AssertionError("missing binary: " + binary)
        os.symlink(binary, os.path.join(bins, os.path.basename(binary)))
    done = subprocess.run([os.path.join(ROOT, "scripts", "demo"), "--short", "--cluster", CLUSTER,
                           "--bin-dir", bins], capture_output=True, text=True, timeout=840)
    RESULT["output"] = done.stdout + done.stderr
    RESULT["code"] = done.returncode
    kubeconfig = re.search(r"export KUBECONFIG=(\S+) PATH=(\S+):", done.stdout)
    metrics = re.search(r"curl -s (http://127\.0\.0\.1:\d+)/metrics", done.stdout)
    focus = re.search(r"FOCUS 1\.2 file: (\S+)", done.stdout)
    RESULT["kubeconfig"] = kubeconfig.group(1) if kubeconfig else None
    RESULT["tools"] = kubeconfig.group(2) if kubeconfig else None
    RESULT["ops"] = metrics.group(1) if metrics else None
    RESULT["focus"] = focus.group(1) if focus else None
    return RESULT


class DemoE2eTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.demo = run_demo()
        if cls.demo["code"] != 0 or not cls.demo["kubeconfig"]:
            raise AssertionError("scripts/demo failed (exit %d):\n%s" % (
                cls.demo["code"], cls.demo["output"][-6000:]))

    def kubectl_json(self, *args):
        out = subprocess.run([os.path.join(self.demo["tools"], "kubectl"), "--kubeconfig",
                              self.demo["kubeconfig"]] + list(args) + ["-o", "json"],
                             check=True, capture_output=True, text=True).stdout
        return json.loads(out)

    def focus_rows(self):
        with open(self.demo["focus"], newline="") as f:
            return list(csv.DictReader(f))

    def metric(self, name, label_filter):
        with urllib.request.urlopen(self.demo["ops"] + "/metrics", timeout=10) as response:
            text = response.read().decode()
        total = 0.0
        for line in text.splitlines():
            if (line.startswith(name + "{") or line.startswith(name + " ")) and \
                    label_filter in line:
                total += float(line.rsplit(" ", 1)[1])
        return total

    def test_a_budget_raised_a_soft_alert(self):
        budgets = self.kubectl_json("get", "agentbudgets")["items"]
        alerted = [b["metadata"]["name"] for b in budgets
                   for c in (b.get("status") or {}).get("conditions", [])
                   if c["type"] == "SoftLimitReached" and c["status"] == "True"]
        self.assertTrue(alerted, "no AgentBudget reached a soft threshold")
        COUNTS["soft alert"] = "%d budgets with SoftLimitReached" % len(alerted)

    def test_the_authority_degraded_calls_to_a_cheaper_model(self):
        degraded = self.metric("agentbudget_reservation_decisions_total", 'decision="degrade"')
        self.assertGreater(degraded, 0)
        COUNTS["degradation"] = "%d degrade decisions" % degraded

    def test_deferrable_work_was_queued_under_budget_pressure(self):
        jobs = self.kubectl_json("get", "jobs", "-n", "payments")["items"]
        held = [j["metadata"]["name"] for j in jobs
                if "BudgetPressure" in (j["metadata"].get("annotations") or {}).get(
                    "agentbudget.io/queue", "")]
        events = self.kubectl_json("get", "events", "-n", "payments")["items"]
        reasons = [e["metadata"]["name"] for e in events if e.get("reason") == "BudgetPressure"]
        self.assertTrue(held or reasons,
                        "no Job was held with reason BudgetPressure (annotation or Event)")
        COUNTS["queued under pressure"] = "%d Jobs held, %d BudgetPressure Events" % (
            len(held), len(reasons))

    def suspensions(self):
        """Job name -> when the operator last suspended it for budget pressure (its Warning
        Events "suspended: ...")."""
        last = {}
        for event in self.kubectl_json("get", "events", "-n", "payments")["items"]:
            if event.get("reason") == "BudgetPressure" and \
                    event.get("message", "").startswith("suspended: "):
                name = event["involvedObject"]["name"]
                at = epoch(event.get("lastTimestamp") or event.get("eventTime") or
                           event["firstTimestamp"])
                last[name] = max(last.get(name, 0), at)
        return last

    def resumptions(self, suspended, jobs):
        """Job name -> when the Job controller resumed it after its last suspension: its
        Suspended condition False, reason JobResumed, since then. (Every Job the queue
        admits was resumed once already, from the webhook's suspension at creation.)"""
        resumed = {}
        for name, at in suspended.items():
            for c in (jobs[name].get("status") or {}).get("conditions") or []:
                if c["type"] == "Suspended" and c["status"] == "False" and \
                        c.get("reason") == "JobResumed" and \
                        epoch(c["lastTransitionTime"]) >= int(at):
                    resumed[name] = epoch(c["lastTransitionTime"])
        return resumed

    def payments_jobs(self):
        return {j["metadata"]["name"]: j
                for j in self.kubectl_json("get", "jobs", "-n", "payments")["items"]}

    def fleet_record(self):
        with open(os.path.join(os.path.dirname(self.demo["focus"]), "fleet-outcomes.json")) as f:
            return json.load(f)

    def test_running_deferrable_jobs_were_suspended_and_later_resumed(self):
        suspended = self.suspensions()
        self.assertTrue(suspended, "the operator suspended no running Job for budget pressure")
        self.assertGreaterEqual(self.metric("agentbudget_queue_suspensions_total", ""),
                                len(suspended))
        jobs = self.payments_jobs()
        for name in suspended:
            self.assertEqual(jobs[name]["metadata"]["labels"]["agentbudget.io/priority"],
                             "Deferrable", name)
        resumed = self.resumptions(suspended, jobs)
        self.assertTrue(resumed, "no suspended Job was resumed: %s" % sorted(suspended))
        COUNTS["running Jobs suspended"] = "%d Jobs" % len(suspended)
        COUNTS["resumed"] = "%d of them resumed" % len(resumed)

    def test_release_blocking_work_completed_under_pressure(self):
        """A ReleaseBlocking Job completed while Deferrable Jobs the operator had suspended
        waited: after the first suspension, before the first resumption."""
        suspended = self.suspensions()
        self.assertTrue(suspended, "the operator suspended no running Job for budget pressure")
        jobs = self.payments_jobs()
        resumed = self.resumptions(suspended, jobs)
        self.assertTrue(resumed, "no suspended Job was resumed")
        first, until = int(min(suspended.values())), min(resumed.values())
        done = [name for name, j in jobs.items()
                if j["metadata"]["labels"].get("agentbudget.io/priority") == "ReleaseBlocking"
                and (j.get("status") or {}).get("completionTime")
                and first <= epoch(j["status"]["completionTime"]) <= until]
        self.assertTrue(done, "no ReleaseBlocking Job completed between the first suspension "
                        "and the first resumption")
        COUNTS["ReleaseBlocking under pressure"] = "%d Jobs completed" % len(done)

    def test_the_fleet_is_never_idle(self):
        record = self.fleet_record()
        start, end = record["startedAt"], record["endedAt"]
        with open(os.path.join(os.path.dirname(self.demo["focus"]), "provider-ledger.jsonl")) as f:
            times = sorted([start, end] + [t for t in (json.loads(line)["at"] for line in f)
                                           if start <= t <= end])
        idle = max(b - a for a, b in zip(times, times[1:]))
        self.assertLess(idle, 20, "no call for %.1f s" % idle)
        COUNTS["no idle stretch"] = "%d calls, longest gap %.1f s" % (len(times) - 2, idle)

    def test_the_runaway_was_stopped_at_its_ceiling(self):
        job = self.kubectl_json("get", "job", "flaky-test-fixer-1", "-n", "search")
        failed = [c for c in (job.get("status") or {}).get("conditions", [])
                  if c["type"] == "Failed" and c["status"] == "True"]
        self.assertTrue(failed, "the runaway's Job did not fail")
        # Its workload has perRun.onCeiling Stop: the operator ended it, naming the ceiling.
        self.assertEqual(failed[0].get("reason"), "DeadlineExceeded", failed)
        events = self.kubectl_json("get", "events", "-n", "search")["items"]
        ended = [e["message"] for e in events if e.get("reason") == "RunCeilingReached"
                 and e["involvedObject"]["name"] == "flaky-test-fixer-1"]
        self.assertTrue(ended, "no RunCeilingReached Event on the runaway's Job")
        self.assertIn("reached its ceiling maxCost ($0.80)", ended[0])
        workload = self.kubectl_json("get", "agentworkload", "flaky-test-fixer", "-n", "search")
        ceiling = Decimal(workload["spec"]["perRun"]["maxCost"])
        # A Job's run id is its UID (its pods carry it as agentbudget.io/run).
        run = job["metadata"]["uid"]
        spent = sum(Decimal(r["BilledCost"]) for r in self.focus_rows() if r["x_Run"] == run)
        # FOCUS rows sum a run's calls by hour and token type: each call's cost is in its
        # meter's records.
        calls = []
        for path in glob.glob(os.path.join(os.path.dirname(self.demo["focus"]), "runs",
                                           "flaky-test-fixer-1", "records-*.jsonl")):
            with open(path) as f:
                calls += [Decimal(json.loads(line).get("cost") or "0")
                          for line in f if line.strip()]
        self.assertGreater(len(calls), 3, "the runaway made almost no calls")
        self.assertEqual(sum(calls), spent)
        # Admission is checked before each call, so the run may pass its ceiling by at most
        # the last admitted call's actual cost.
        self.assertLessEqual(spent - max(calls), ceiling)
        COUNTS["runaway"] = "stopped after %d calls, %s spent" % (len(calls), spent)

    def test_focus_is_not_empty_and_showback_totals_equal_it(self):
        rows = self.focus_rows()
        self.assertGreater(len(rows), 0, "the FOCUS export is empty")
        total = sum((Decimal(r["BilledCost"]) for r in rows), Decimal(0))
        by_team = {}
        for row in rows:
            team = json.loads(row["Tags"] or "{}").get("team", "-")
            by_team[team] = by_team.get(team, Decimal(0)) + Decimal(row["BilledCost"])
        with open(os.path.join(os.path.dirname(self.demo["focus"]), "showback.json")) as f:
            showback = json.load(f)
        self.assertEqual(Decimal(showback["total"]), total)
        self.assertEqual({k: Decimal(v) for k, v in showback["byTeam"].items()}, by_team)
        org = self.kubectl_json("get", "agentbudget", "org-daily")
        self.assertEqual(Decimal(str(org["status"]["spent"])), total)
        with open(os.path.join(os.path.dirname(self.demo["focus"]), "showback.html")) as f:
            page = f.read()
        shown = re.search(r'data-figure="total" data-usd="([0-9.]+)"', page)
        self.assertIsNotNone(shown, "the showback page has no total")
        self.assertEqual(Decimal(shown.group(1)), total)

    def test_the_showback_reports_cost_per_successful_run_as_workload_status_does(self):
        with open(os.path.join(os.path.dirname(self.demo["focus"]), "showback-report.json")) as f:
            report = json.load(f)
        figures = {w["workload"]: w["costPerSuccessfulRun"] for w in report["workloads"]}
        workloads = self.kubectl_json("get", "agentworkloads", "-A")["items"]
        compared = 0
        for workload in workloads:
            name = workload["metadata"]["namespace"] + "/" + workload["metadata"]["name"]
            status = workload.get("status") or {}
            if name in figures and status.get("costPerSuccessfulRun") is not None:
                compared += 1
                self.assertEqual(Decimal(status["costPerSuccessfulRun"]), Decimal(figures[name]),
                                 name)
        self.assertGreater(compared, 0, "no workload with a successful run to compare")

    def test_focus_reconciles_with_the_providers_ledger_and_the_rate_card(self):
        """Every row is at its rate card price, and each run that ended has exactly the
        tokens of each type the stub provider's own ledger says it served that run. (A run
        still going when the demo stopped may have a call the stub answered whose commit the
        demo's end cut off: at most the provider's figure there.)"""
        provider = {}  # (run, token type) -> tokens
        ledger = os.path.join(os.path.dirname(self.demo["focus"]), "provider-ledger.jsonl")
        with open(ledger) as f:
            for line in f:
                call = json.loads(line)
                usage = call["usage"]
                if "prompt_tokens" in usage:
                    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
                    served = {"input": usage["prompt_tokens"] - cached, "cache read": cached,
                              "output": usage["completion_tokens"]}
                else:
                    split = usage.get("cache_creation") or {}
                    served = {"input": usage["input_tokens"],
                              "cache read": usage.get("cache_read_input_tokens", 0),
                              "cache write 5m": split.get("ephemeral_5m_input_tokens", 0),
                              "cache write 1h": split.get("ephemeral_1h_input_tokens", 0),
                              "output": usage["output_tokens"]}
                for token_type, tokens in served.items():
                    if tokens:
                        key = (call["run"], token_type)
                        provider[key] = provider.get(key, 0) + tokens
        with open(os.path.join(ROOT, "meter", "rates", "default-rates.yaml")) as f:
            card = {m["id"]: m for m in yaml.safe_load(f)["models"]}
        keys = {"input": "input", "cache read": "cacheRead", "cache write 5m": "cacheWrite5m",
                "cache write 1h": "cacheWrite1h", "output": "output"}
        exported = {}
        for row in self.focus_rows():
            self.assertEqual(Decimal(row["ListUnitPrice"]) * Decimal(row["PricingQuantity"]),
                             Decimal(row["ListCost"]), row)
            if row["x_Kind"] != "tokens":
                continue
            self.assertEqual(row["x_PricingError"], "", row)
            key = (row["x_Run"], row["x_TokenType"])
            exported[key] = exported.get(key, 0) + int(Decimal(row["ConsumedQuantity"]))
            model = card[row["x_Model"]]
            tiers = [model["prices"]] + [dict(model["prices"], **t["prices"])
                                         for t in model.get("longContext", [])]
            self.assertIn(Decimal(row["ListUnitPrice"]),
                          [Decimal(t[keys[row["x_TokenType"]]]) for t in tiers], row)
        ended = {job["metadata"]["uid"] for ns in ("payments", "search")
                 for job in self.kubectl_json("get", "jobs", "-n", ns)["items"]
                 if any(c["type"] in ("Complete", "Failed") and c["status"] == "True"
                        for c in (job.get("status") or {}).get("conditions") or [])}
        reconciled = 0
        for key in sorted(set(provider) | set(exported)):
            if key[0] in ended:
                self.assertEqual(exported.get(key, 0), provider.get(key, 0), key)
                reconciled += 1
            else:
                self.assertLessEqual(exported.get(key, 0), provider.get(key, 0), key)
        self.assertGreater(reconciled, 10, "too few ended runs to reconcile")

    def test_jobs_are_charged_to_the_engineers_the_ci_identity_named(self):
        with open(os.path.join(ROOT, "demo", "scenario", "fleet.json")) as f:
            plan = {r["name"]: r for r in json.load(f)["runs"]}
        jobs = {j["metadata"]["name"]: j for ns in ("payments", "search")
                for j in self.kubectl_json("get", "jobs", "-n", ns)["items"]}
        checked = 0
        for name, job in jobs.items():
            labels = job["metadata"]["labels"]
            parent = plan.get(name.split("-sub-")[0]) if "-sub-" in name else None
            run = plan.get(name) or parent
            if run is None:
                continue
            # A creator that is not trusted would be charged itself (agentbudget-ci).
            self.assertEqual(labels.get("agentbudget.io/user"), run["user"], name)
            if parent:
                parent_job = jobs[parent["name"]]
                self.assertEqual(labels.get("agentbudget.io/parent-run"),
                                 parent_job["metadata"]["uid"], name)
            checked += 1
        self.assertGreater(checked, len(plan) // 2, "few of the plan's Jobs were created")
        COUNTS["attribution"] = "%d Jobs charged to the engineer the plan names" % checked


def epoch(stamp):
    """An RFC 3339 time of the API server (whole or micro seconds, Z) as epoch seconds."""
    stamp = stamp.rstrip("Z").split(".")
    seconds = calendar.timegm(time.strptime(stamp[0], "%Y-%m-%dT%H:%M:%S"))
    return seconds + (float("0." + stamp[1]) if len(stamp) > 1 else 0)


def main():
    BINARIES.extend(sys.argv[1:4])
    if len(BINARIES) != 3:
        sys.exit("usage: demo_e2e_test.py OPERATOR WEBHOOK METER")
    try:
        program = unittest.main(argv=[sys.argv[0], "-v"], exit=False)
        ok = program.result.wasSuccessful()
    finally:
        subprocess.run([os.path.join(ROOT, "scripts", "demo"), "--down", "--cluster", CLUSTER],
                       capture_output=True, text=True)
        if RESULT.get("bins"):
            shutil.rmtree(RESULT["bins"])
    for scene, count in COUNTS.items():
        print("scene %-31s %s" % (scene + ":", count))
    if not ok and RESULT.get("output"):
        print("----- scripts/demo output (last lines)\n" + RESULT["output"][-4000:])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
