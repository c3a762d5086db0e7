"""The demo's view of its budgets: AgentBudget status as the operator writes it, polled
once a second, turned into plain lines — a soft threshold crossed (ALERT), a pressure
condition or level changing (PRESSURE), and every 15 s the spend of each budget (BUDGETS).
Budgets in shadow mode (onExhausted: Observe) say so.
"""
import re
import threading
import time
from decimal import Decimal

from kube import KubeError

PATH = "/apis/agentbudget.io/v1alpha1/agentbudgets"


def money(text):
    """A decimal amount as dollars with four places; never through floating point."""
    return "$%s" % Decimal(str(text or "0")).quantize(Decimal("0.0001"))


class BudgetWatch:
    """Polls until `stop` (a threading.Event) is set; `say(tag, text)` prints a line.
    Written by its own thread only; what it has seen may be read from any thread."""

    def __init__(self, kube, say, stop):
        self.kube = kube
        self.say = say
        self.stop = stop
        self.first_alert = ""          # the first soft threshold crossed, as reported
        self.seen = {}
        self.enforcing = set()         # budgets not in shadow mode, under `lock`
        self.lock = threading.Lock()

    def pressure(self, name):
        """Budget `name`'s pressure as last read ("None" before the first read)."""
        return self.seen.get((name, "pressure"), "None")

    def under_queue_pressure(self):
        """Whether an enforcing budget is now at Queue pressure or beyond."""
        with self.lock:
            enforcing = list(self.enforcing)
        return any(self.pressure(name) in ("Queue", "Exhausted") for name in enforcing)

    def run(self):
        next_summary = time.monotonic() + 15
        while not self.stop.is_set():
            try:
                budgets = self.kube.get(PATH)["items"]
            except (KubeError, OSError) as error:
                self.say("ERROR", "cannot read budgets: %s" % error)
                budgets = []
            for budget in budgets:
                self.observe(budget)
            if time.monotonic() >= next_summary and budgets:
                next_summary = time.monotonic() + 15
                self.say("BUDGETS", " | ".join(
                    "%s %s of %s (%s)" % (b["metadata"]["name"],
                                          money((b.get("status") or {}).get("spent")),
                                          money(b["spec"]["limit"].get("amount")),
                                          (b.get("status") or {}).get("utilization", "-"))
                    for b in budgets if not b["spec"].get("perKey")))
            self.stop.wait(1.0)

    def observe(self, budget):
        name = budget["metadata"]["name"]
        status = budget.get("status") or {}
        shadow = " (onExhausted: Observe: recorded, not enforced)" \
            if budget["spec"].get("onExhausted") == "Observe" else ""
        for condition in status.get("conditions", []):
            if condition["type"] == "Ready":
                continue
            key = (name, condition["type"])
            value = (condition.get("status"), condition.get("reason"))
            threshold = re.search(r"threshold \d+%", condition.get("message", "")) \
                if condition["type"] == "SoftLimitReached" else None
            if threshold:
                # Once per threshold: a raised limit takes utilization back below a
                # threshold, which it can cross again.
                key = (name, threshold.group(0))
            if self.seen.get(key, ("False", None)) != value and condition["status"] == "True" \
                    and not (threshold and key in self.seen):
                tag = "ALERT" if condition["type"] == "SoftLimitReached" else "PRESSURE"
                if tag == "ALERT" and not self.first_alert:
                    self.first_alert = "%s: %s" % (name, condition.get("message"))
                self.say(tag, "AgentBudget %s %s: %s%s" % (
                    name, condition["type"], condition.get("message", ""), shadow))
            self.seen[key] = value
        pressure = status.get("pressure") or "None"
        before = self.seen.get((name, "pressure"), "None")
        if pressure != before:
            self.say("PRESSURE", "AgentBudget %s pressure %s -> %s (%s used)%s" % (
                name, before, pressure, status.get("utilization", "?"), shadow))
        self.seen[(name, "pressure")] = pressure
        if not shadow:
            with self.lock:
                self.enforcing.add(name)
