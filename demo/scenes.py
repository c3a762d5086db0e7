"""The demo's scenes, in a known order, each waited for on its observable evidence.

The fleet counts what the components report (held Jobs, degraded calls, Jobs the operator
suspended or resumed, runs ended at their ceiling). The director walks the scenes one
after the other and drives the fleet to the next: once payments is degraded it keeps
pull-request reviews going until the team's budget reaches Queue pressure; at Queue it
creates the release-blocking and the gated Deferrable runs; once running Deferrable Jobs
were suspended and a release run finished under that pressure, finance raises the team's
limit, and the queue resumes the suspended Jobs. Each wait has a timeout; a scene that does
not show in time is reported by name (SCENE FAILED) and the fleet exits non-zero.
"""
import threading
import time

from kube import KubeError

# The scenes in the order they happen; each is (name, what its evidence is).
ORDER = [
    ("attribution", "a Job held and stamped with team, workflow, user and priority"),
    ("soft alert", "a budget's SoftLimitReached condition"),
    ("degradation", "a call the authority sent to a cheaper model"),
    ("queue pressure", "the payments budget at pressure Queue"),
    ("queued under pressure", "a Deferrable Job held with reason BudgetPressure"),
    ("running Jobs suspended", "a running Deferrable Job suspended by the operator"),
    ("ReleaseBlocking under pressure", "a release run completed at Queue pressure while "
     "suspended Jobs waited"),
    ("resumed", "a suspended Job admitted again and running after the limit was raised"),
    ("runaway", "the runaway's Job ended by the operator at its ceiling"),
]


class Director:
    """Drives `fleet` (a demo/fleet.py Fleet) through ORDER. `plan["scenes"]` says which
    budget pressure is watched, the review runs that drive it and the limit finance sets.
    Runs on its own thread; `failed` names the scene that did not show, "" when all did."""

    def __init__(self, fleet, plan, timeout):
        self.fleet = fleet
        self.config = plan["scenes"]
        self.gated = [r for r in plan["runs"] if r.get("after") == "queue pressure"]
        self.timeout = timeout
        self.failed = ""
        self.evidence = {}   # scene -> the count or text that showed it
        self.raised_at = None

    def budget_at_queue(self):
        return self.fleet.budgets.pressure(self.config["budget"]) in ("Queue", "Exhausted")

    def checks(self):
        s = self.fleet.scenes
        return {
            "attribution": lambda: s["attributed"],
            "soft alert": lambda: self.fleet.budgets.first_alert,
            "degradation": lambda: s["degraded"],
            "queue pressure": lambda: self.budget_at_queue() and self.config["budget"],
            "queued under pressure": lambda: s["queued"],
            "running Jobs suspended": lambda: s["suspended"],
            "ReleaseBlocking under pressure": lambda: s["release_done_under_pressure"],
            "resumed": lambda: s["resumed"],
            "runaway": lambda: "ended by the operator" in s["runaway"] and s["runaway"],
        }

    def run(self):
        checks = self.checks()
        for name, evidence in ORDER:
            if name == "queue pressure":
                driver = threading.Thread(target=self.drive_to_queue, daemon=True)
                driver.start()
            if name == "resumed":
                try:
                    self.raise_limit()
                except (KubeError, OSError) as error:
                    self.failed = name
                    self.fleet.console.say("SCENE", "FAILED %s: cannot raise the limit: %s"
                                           % (name, error))
                    return
            if not self.wait(checks[name]):
                self.failed = name
                self.fleet.console.say("SCENE", "FAILED %s: no %s within %d s" % (
                    name, evidence, self.timeout))
                return
            self.evidence[name] = checks[name]()
            if name == "queue pressure":
                for run in self.gated:
                    self.fleet.start_run(run)

    def wait(self, check):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline and not self.fleet.stop.is_set():
            if check():
                return True
            time.sleep(0.5)
        return bool(check())

    def drive_to_queue(self):
        """Keeps `parallel` review runs going until the watched budget is at Queue."""
        template = self.config["driver"]
        parallel = template.get("parallel", 2)
        running = []
        number = 0
        while not self.budget_at_queue() and not self.fleet.stop.is_set():
            running = [t for t in running if t.is_alive()]
            if len(running) < parallel:
                number += 1
                run = dict(template["run"], name="%s-%d" % (template["run"]["name"], number))
                running.append(self.fleet.start_run(run))
            time.sleep(1.0)

    def raise_limit(self):
        """Finance raises the watched budget's limit: pressure falls and the queue admits
        the Jobs it held and suspended."""
        budget, limit = self.config["budget"], self.config["raiseLimitTo"]
        self.fleet.kube.merge_patch(
            "/apis/agentbudget.io/v1alpha1/agentbudgets/" + budget,
            {"spec": {"limit": {"amount": limit}}})
        self.raised_at = time.time()
        self.fleet.console.say("LIMIT", "finance raised AgentBudget %s's limit to %s USD: "
                               "pressure falls and the queue admits held work" % (budget, limit))
