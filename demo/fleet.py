#!/usr/bin/env python3
"""The demo's fleet simulator: agent runs as Kubernetes Jobs, governed by agentbudget.

For every run of the plan (demo/scenario/fleet.json) it creates a Job through the API
server as the CI system's identity, user agentbudget-ci (impersonated; it has `edit` in the
team namespaces and is the webhook's trusted creator, so the engineer it names in
agentbudget.io/user is honoured). The webhook suspends the Job and stamps attribution; its
pods get the meter sidecar when the Job controller creates them. It waits for the operator
to admit it, and once the Job's pod runs (kwok fakes the node) it plays the pod, as the
cluster's admin: it starts the meter as the sidecar would (the same arguments and
environment the webhook injected, with a token bound to the pod) and runs the agent loop
through it to the stub provider. When the loop ends it reports the agent container's exit
on the pod's status, as a kubelet would, so the Job completes (or fails, when a ceiling
stopped it).

The scenes (demo/scenes.py) come in a known order, each waited for on its evidence; the
fleet exits 1 when one did not show. What it prints comes from the components: the Job
and pod objects (attribution, queue state), the meters (decisions, per-call records, run
totals) and AgentBudget status (alerts, pressure). Its own count of calls is printed at
the end only for comparison.

Usage: fleet.py --kubeconfig F --kubectl BIN --meter BIN --authority-url URL
                --authority-ca FILE --state DIR [--minutes 3] [--plan FILE]
                [--scene-timeout 90]
"""
import argparse
import json
import os
import signal
import sys
import threading
import time
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agents import Agent  # noqa: E402
from budget_watch import BudgetWatch, money  # noqa: E402
from kube import Kube, KubeError  # noqa: E402
from meter_process import Meter  # noqa: E402
from scenes import ORDER, Director  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
LABEL = "agentbudget.io/"
# The CI system's identity (demo/scenario/01-ci.yaml; the webhook's --trusted-creators).
CI_USER = "agentbudget-ci"


class Console:
    """Timestamped lines, one writer at a time."""

    def __init__(self):
        self.start = time.monotonic()
        self.lock = threading.Lock()

    def say(self, tag, text):
        elapsed = int(time.monotonic() - self.start)
        with self.lock:
            print("[%02d:%02d] %-10s %s" % (elapsed // 60, elapsed % 60, tag, text), flush=True)


def queue_state(obj):
    raw = (obj["metadata"].get("annotations") or {}).get(LABEL + "queue")
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return {"state": raw}


class Fleet:
    def __init__(self, args):
        self.args = args
        self.kube = Kube(args.kubeconfig, args.kubectl)
        self.ci = self.kube.as_user(CI_USER)   # creates the agent Jobs
        self.console = Console()
        self.started_at = time.time()
        self.ended_at = None
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.queue_available = None        # unknown until the first admission or timeout
        self.outcomes = {}                 # run name -> outcome text
        self.own_ledger = {"calls": 0, "denied": 0, "degraded": 0}
        self.featured = None               # the run whose every call is printed
        self.limiter = threading.Semaphore(8)   # concurrent Job creations
        self.fanned = set()                # runs that have fanned out
        self.degraded_shown = set()        # workloads whose first degraded call was shown
        # What each scene of the demo showed, from the components' own reports.
        self.scenes = {"jobs": 0, "attributed": 0, "degraded": 0, "queued": 0, "suspended": 0,
                       "resumed": 0, "runaway": "", "release_done_under_pressure": 0}
        self.threads = []                  # the top-level runs' threads, under `lock`
        self.budgets = BudgetWatch(self.kube, self.console.say, self.stop)

    # ----- one run -----------------------------------------------------------------------

    def job_manifest(self, run, parent_run=None):
        labels = {LABEL + "workload": run["workload"], LABEL + "user": run["user"]}
        if parent_run:
            labels[LABEL + "parent-run"] = parent_run
        model_env = "OPENAI_MODEL" if run["api"] == "openai" else "ANTHROPIC_MODEL"
        return {"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": run["name"], "namespace": run["namespace"],
                             "labels": labels},
                "spec": {"backoffLimit": 0, "template": {
                    "metadata": {"labels": labels, "annotations": {
                        # kwok: keep the pod Running; the simulator reports its exit.
                        "pod-complete.stage.kwok.x-k8s.io/delay": "7200s"}},
                    "spec": {"serviceAccountName": "agent", "restartPolicy": "Never",
                             "containers": [{
                                 "name": "agent", "image": "ghcr.io/acme/coding-agent:1.4",
                                 "env": [{"name": model_env, "value": run["model"]}],
                                 "resources": {"requests": {"cpu": "1", "memory": "2Gi"}}}]}}}}

    def job_path(self, run, name=None):
        return "/apis/batch/v1/namespaces/%s/jobs/%s" % (run["namespace"], name or run["name"])

    def say_run(self, run, tag, text):
        if not run.get("child"):
            self.console.say(tag, "%s/%s: %s" % (run["namespace"], run["name"], text))

    def create_job(self, run, parent_run=None):
        with self.limiter:
            for attempt in range(20):
                try:
                    return self.ci.create("/apis/batch/v1/namespaces/%s/jobs" % run["namespace"],
                                          self.job_manifest(run, parent_run))
                except KubeError as error:
                    # 5xx and 429: the API server or a webhook was busy (a timeout under a
                    # burst); anything else is the answer.
                    busy = error.status >= 500 or error.status == 429
                    if not busy or attempt == 19 or self.stop.is_set():
                        raise
                    time.sleep(0.5)

    def describe_admission(self, job):
        labels = job["metadata"].get("labels") or {}
        attribution = " ".join("%s=%s" % (k, labels.get(LABEL + k, "-"))
                               for k in ("team", "workflow", "user", "priority"))
        run_id = labels.get(LABEL + "run") or job["metadata"]["uid"]
        state = queue_state(job)
        return ("webhook: %s, %s run=%s; queue: %s" % (
            "suspended" if job["spec"].get("suspend") else "NOT suspended",
            attribution, run_id[:8],
            state.get("state", "-") + ("/" + state["reason"] if state.get("reason") else "")))

    def wait_admitted(self, run, job):
        """Polls the Job until the operator unsuspends it. Returns the Job, or None at the end."""
        state = queue_state(job)
        last = (state.get("state"), state.get("reason"))
        started = time.monotonic()
        while not self.stop.is_set():
            job = self.kube.get(self.job_path(run))
            if not job["spec"].get("suspend"):
                with self.lock:
                    self.queue_available = True
                return job
            state = queue_state(job)
            shown = (state.get("state"), state.get("reason"))
            if shown != last:
                if state.get("reason") == "BudgetPressure":
                    with self.lock:
                        self.scenes["queued"] += 1
                position = state.get("position")
                self.say_run(run, "QUEUE", "%s %s%s%s" % (
                    state.get("state", "?"), state.get("reason", ""),
                    " (position %s)" % position if position else "",
                    ": " + state["message"] if state.get("message") else ""))
            last = shown
            if self.queue_unavailable(started):
                self.say_run(run, "ADMIT", "admitted by the fleet simulator itself (the "
                             "operator has no admission queue)")
                job = self.kube.merge_patch(self.job_path(run), {"spec": {"suspend": False}})
                return job
            time.sleep(0.5)
        return None

    def queue_unavailable(self, started):
        with self.lock:
            if self.queue_available is None and \
                    time.monotonic() - started > self.args.admission_timeout:
                self.queue_available = False
                self.console.say("NOTICE", "admission queue: not available — no Job was "
                                 "admitted by the operator within %ds; the simulator unsuspends "
                                 "Jobs itself, so queueing under pressure is not shown"
                                 % self.args.admission_timeout)
            return self.queue_available is False

    def wait_pod(self, run, job):
        uid = job["metadata"]["uid"]
        path = "/api/v1/namespaces/%s/pods?labelSelector=controller-uid%%3D%s" % (
            run["namespace"], uid)
        while not self.stop.is_set():
            for pod in self.kube.get(path).get("items", []):
                if pod["status"].get("phase") == "Running" and \
                        not pod["metadata"].get("deletionTimestamp"):
                    return pod
            job = self.kube.get(self.job_path(run))
            if job["spec"].get("suspend"):
                return None
            time.sleep(0.3)
        return None

    def finish_pod(self, pod, succeeded):
        """Reports the agent container's exit, as the kubelet would. False when the pod is
        gone (its Job was suspended meanwhile, and the Job controller deleted it)."""
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        code = 0 if succeeded else 1
        status = {"phase": "Succeeded" if succeeded else "Failed", "containerStatuses": [{
            "name": "agent", "image": "ghcr.io/acme/coding-agent:1.4", "imageID": "",
            "ready": False, "restartCount": 0, "started": False,
            "state": {"terminated": {"exitCode": code, "reason": "Completed" if succeeded
                                     else "Error", "startedAt": now, "finishedAt": now}}}]}
        try:
            self.kube.merge_patch("/api/v1/namespaces/%s/pods/%s/status" % (
                pod["metadata"]["namespace"], pod["metadata"]["name"]), {"status": status})
        except KubeError as error:
            if error.status == 404:
                return False
            self.console.say("ERROR", "cannot finish pod %s: %s" % (pod["metadata"]["name"], error))
        return True

    def execute(self, run, parent_run=None):
        """The whole life of one run; returns its outcome."""
        try:
            job = self.create_job(run, parent_run)
        except KubeError as error:
            self.say_run(run, "REJECTED", error.message)
            return "rejected"
        self.say_run(run, "CREATED", self.describe_admission(job))
        labels = job["metadata"].get("labels") or {}
        with self.lock:
            self.scenes["jobs"] += 1
            if job["spec"].get("suspend") and all(
                    LABEL + k in labels for k in ("team", "workflow", "user", "priority")):
                self.scenes["attributed"] += 1
        run["uid"] = job["metadata"]["uid"]
        run["priority"] = labels.get(LABEL + "priority")
        agent = Agent(run["api"], run["model"], run.get("task", "Fix the failing build."),
                      run["behaviour"] if run["behaviour"] != "fanout" else "coding",
                      run.get("turns", 8), run["name"], run.get("stream", False), run["uid"])
        workdir = os.path.join(self.args.state, "runs", run["name"])
        os.makedirs(workdir, exist_ok=True)
        totals = {"spent": Decimal(0), "requests": 0, "tokens": 0}  # over the run's pods
        while not self.stop.is_set():
            job = self.wait_admitted(run, job)
            if job is None:
                return "still queued at the end"
            pod = self.wait_pod(run, job)
            if pod is None:
                if self.stop.is_set():
                    return "still queued at the end"
                self.note_suspended(run, "before its pod ran")
                continue
            if run.get("suspended_now"):
                self.note_resumed(run, "pod %s running, the run goes on from call %d" % (
                    pod["metadata"]["name"], agent.done_turns + 1))
            elif not run.get("child") and not run.get("resumed_once"):
                meter_injected = any(c["name"] == "agentbudget-meter"
                                     for c in pod["spec"].get("initContainers", []))
                self.say_run(run, "ADMITTED", "admitted; pod %s running on %s, meter sidecar "
                             "%s" % (pod["metadata"]["name"], pod["spec"].get("nodeName", "?"),
                                     "injected" if meter_injected else "MISSING"))
            token_file = os.path.join(workdir, "token")
            with open(token_file, "w") as f:
                f.write(self.kube.pod_token(run["namespace"], "agent", pod, "agentbudget"))
            meter = Meter(self.args.meter, pod, token_file, self.args.authority_ca,
                          self.args.authority_url, workdir)
            answered = agent.done_turns
            outcome = self.agent_loop(run, agent, meter, pod)
            if outcome == "fanout":
                self.fan_out(run)
                # Suspended while its subagents ran (and maybe admitted again since, which
                # the fan-out's watch reported): this pod is gone, the run goes on in the next.
                if not self.pod_gone(pod):
                    outcome = self.agent_loop(run, agent, meter, pod)
                elif self.stop.is_set():
                    outcome = "stopped at the end of the demo"
                else:
                    outcome = "suspended" if run.get("suspended_now") else "moved"
            pod_totals = meter.drain_and_stop(agent.done_turns - answered)
            totals["spent"] += Decimal(str(pod_totals.get("spent", "0")))
            totals["requests"] += pod_totals.get("requests", 0)
            totals["tokens"] += pod_totals.get("tokens", 0)
            if outcome != "done" and self.suspended(run):
                outcome = "suspended"
            if outcome == "moved":
                continue  # suspended and admitted again while its subagents ran
            if outcome == "suspended":
                self.note_suspended(run, "meter so far: %s in %s calls" % (
                    money(totals["spent"]), totals["requests"]))
                continue
            if self.stop.is_set() and outcome != "done":
                self.say_run(run, "CUT", "still running when the demo ended: %s calls, %s "
                             "(the meter's run totals)" % (totals["requests"],
                                                           money(totals["spent"])))
                return "still running at the end"
            succeeded = outcome == "done"
            if outcome == "denied" and self.ended_by_operator(run):
                return outcome  # the Job failed at its deadline; its pod is gone
            if not self.finish_pod(pod, succeeded):
                # Suspended as it finished: the next pod reports the exit.
                self.note_suspended(run, "meter so far: %s in %s calls" % (
                    money(totals["spent"]), totals["requests"]))
                continue
            # Release-blocking work finishing while suspended Deferrable work waits, counted
            # once the Job controller recorded the completion: the next scene resumes the
            # suspended work, so the cluster's record has them in the same order.
            if succeeded and run["priority"] == "ReleaseBlocking" and \
                    self.budgets.under_queue_pressure() and self.completed(run):
                with self.lock:
                    if self.scenes["suspended"] > self.scenes["resumed"]:
                        self.scenes["release_done_under_pressure"] += 1
            if not run.get("child"):
                self.say_run(run, "DONE" if succeeded else "STOPPED", "%s: %s calls, %s "
                             "tokens, %s (the meter's run totals)" % (
                                 "succeeded" if succeeded else "failed: " + outcome,
                                 totals["requests"], format(totals["tokens"], ","),
                                 money(totals["spent"])))
            return "succeeded" if succeeded else outcome
        return "still queued at the end"

    def agent_loop(self, run, agent, meter, pod):
        """Calls until the agent is done, denied, suspended or the fleet stops."""
        while not agent.finished and not self.stop.is_set():
            if run.get("behaviour") == "fanout" and agent.done_turns == 2 and \
                    run["name"] not in self.fanned:
                self.fanned.add(run["name"])
                return "fanout"
            turn = agent.step(meter.url + ("/anthropic" if run["api"] == "anthropic"
                                           else "/openai/v1"))
            records = meter.new_records()
            with self.lock:
                self.own_ledger["calls"] += 1
            for record in records:
                self.show_record(run, record, turn)
            if turn.denied:
                with self.lock:
                    self.own_ledger["denied"] += 1
                self.say_run(run, "DENIED", turn.denied)
                if run["behaviour"] == "runaway":
                    with self.lock:
                        self.scenes["runaway"] = "%s after %d calls: %s" % (
                            run["name"], agent.done_turns, turn.denied)
                return "denied"
            if turn.error:
                if self.suspended(run):
                    return "suspended"
                self.say_run(run, "ERROR", turn.error)
                return "error"
            # Deferrable runs are the ones the operator suspends: checked every call.
            if (run["priority"] == "Deferrable" or agent.done_turns % 3 == 0) and \
                    self.suspended(run):
                return "suspended"
            pause = (run.get("pace") or 0) * self.args.minutes * 60  # a fraction of the demo
            if pause and not agent.finished and self.stop.wait(pause):
                break
        return "done" if agent.finished else "stopped at the end of the demo"

    def ended_by_operator(self, run):
        """For a run denied at its ceiling whose workload has perRun.onCeiling Stop: waits for
        the operator to end its Job (Failed, DeadlineExceeded) and says so. False when the
        workload does not ask for it or the Job did not fail in time."""
        workload = self.kube.try_get("/apis/agentbudget.io/v1alpha1/namespaces/%s/"
                                     "agentworkloads/%s" % (run["namespace"], run["workload"]))
        if not workload or workload["spec"].get("perRun", {}).get("onCeiling") != "Stop":
            return False
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not self.stop.is_set():
            job = self.kube.try_get(self.job_path(run)) or {}
            for condition in (job.get("status") or {}).get("conditions", []):
                if condition["type"] == "Failed" and condition["status"] == "True":
                    self.say_run(run, "ENDED", "the operator ended the run at its ceiling "
                                 "(perRun.onCeiling: Stop): Job failed, %s" % (
                                     condition.get("reason", "?")))
                    if run["behaviour"] == "runaway":
                        with self.lock:
                            self.scenes["runaway"] += "; Job ended by the operator (%s)" % (
                                condition.get("reason", "?"))
                    return True
            time.sleep(0.5)
        return False

    def completed(self, run):
        """Waits up to 30 s for the Job's completionTime; whether it came."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not self.stop.is_set():
            job = self.kube.try_get(self.job_path(run)) or {}
            if (job.get("status") or {}).get("completionTime"):
                return True
            time.sleep(0.5)
        return False

    def note_suspended(self, run, detail):
        """Counts and says that the operator suspended the running Job of `run` (once per
        suspension: the fan-out's watch may have seen it first)."""
        with self.lock:
            if run.get("suspended_now"):
                return
            run["suspended_now"] = True
            self.scenes["suspended"] += 1
        self.console.say("SUSPENDED", "%s/%s: the operator suspended the Job under budget "
                         "pressure; its pod is gone and the run waits in the queue (%s)" % (
                             run["namespace"], run["name"], detail))

    def note_resumed(self, run, how):
        """Counts and says that a suspended Job of `run` was admitted again."""
        with self.lock:
            if not run.get("suspended_now"):
                return
            run["suspended_now"] = False
            run["resumed_once"] = True
            self.scenes["resumed"] += 1
        self.console.say("RESUMED", "%s/%s: admitted again after its suspension; %s" % (
            run["namespace"], run["name"], how))

    def pod_gone(self, pod):
        current = self.kube.try_get("/api/v1/namespaces/%s/pods/%s" % (
            pod["metadata"]["namespace"], pod["metadata"]["name"]))
        return current is None or bool(current["metadata"].get("deletionTimestamp"))

    def suspended(self, run):
        job = self.kube.try_get(self.job_path(run))
        return job is not None and bool(job["spec"].get("suspend"))

    def show_record(self, run, record, turn):
        if record.get("degraded"):
            with self.lock:
                self.own_ledger["degraded"] += 1
                self.scenes["degraded"] += 1
                first = run["workload"] not in self.degraded_shown
                self.degraded_shown.add(run["workload"])
            if first:
                self.say_run(run, "DEGRADED", "the authority degraded the call: asked %s, "
                             "the meter sent %s (%s for %s)" % (
                                 record["requestedModel"], record["model"],
                                 money(record.get("cost")), run["workload"]))
        if run["name"] == self.featured:
            usage = record.get("usage", {})
            self.say_run(run, "CALL", "%s context %s tokens (%s from cache), %s out, %s%s" % (
                record["model"], format(record.get("contextTokens", 0), ","),
                format(usage.get("cacheRead", 0), ","), format(usage.get("output", 0), ","),
                money(record.get("cost")), " -> tool call" if turn.tool_call else " -> answer"))

    # ----- fan-out ------------------------------------------------------------------------

    def fan_out(self, parent):
        count = parent.get("subagents", 100)
        self.say_run(parent, "FANOUT", "creating %d subagent Jobs (agentbudget.io/parent-run=%s)"
                     % (count, parent["uid"][:8]))
        children = []
        for i in range(count):
            child = {"name": "%s-sub-%03d" % (parent["name"], i), "namespace": parent["namespace"],
                     "workload": parent["workload"], "user": parent["user"],
                     "api": "anthropic", "model": parent.get("subagentModel", "claude-haiku-4-5"),
                     "behaviour": "coding", "turns": parent.get("subagentTurns", 2),
                     "pace": parent.get("subagentPace"), "child": True, "parent": parent["name"],
                     "task": "Subtask %d: fix one flaky assertion." % i}
            children.append(threading.Thread(target=self.execute_child, args=(child, parent),
                                             daemon=True))
        for thread in children:
            thread.start()
        path = "/apis/batch/v1/namespaces/%s/jobs?labelSelector=agentbudget.io%%2Fparent-run%%3D%s" \
            % (parent["namespace"], parent["uid"])
        shown = None
        while any(t.is_alive() for t in children) and not self.stop.is_set():
            self.stop.wait(5)
            try:
                jobs = self.kube.get(path)["items"]
            except (KubeError, OSError) as error:
                self.console.say("ERROR", "cannot list subagent Jobs: %s" % error)
                continue
            self.watch_parent(parent)
            held = sum(1 for j in jobs if j["spec"].get("suspend"))
            running = sum(1 for j in jobs if (j.get("status") or {}).get("active"))
            finished = sum(1 for j in jobs if (j.get("status") or {}).get("succeeded"))
            counts = (len(jobs), held, running, finished)
            if counts != shown:
                shown = counts
                self.say_run(parent, "FANOUT", "subagent Jobs: %d created, %d held, %d running, "
                             "%d succeeded" % counts)

    def watch_parent(self, parent):
        """The fan-out's parent waits for its subagents in its pod; the operator may suspend
        its Job meanwhile (it is Deferrable) and admit it again."""
        job = self.kube.try_get(self.job_path(parent))
        if job is None:
            return
        if job["spec"].get("suspend"):
            self.note_suspended(parent, "its subagents have Jobs of their own")
        elif parent.get("suspended_now"):
            self.note_resumed(parent, "its subagents go on; the run itself goes on in a new "
                              "pod when they are done")

    def execute_child(self, child, parent):
        try:
            outcome = self.execute(child, parent["uid"])
        except Exception as error:  # one subagent's failure is counted, never kills the fleet
            self.console.say("ERROR", "%s: %s: %s" % (child["name"], type(error).__name__, error))
            outcome = "error"
        with self.lock:
            self.outcomes[child["name"]] = outcome

    # ----- the whole fleet ----------------------------------------------------------------

    def run_all(self, plan):
        duration = self.args.minutes * 60
        runs = plan["runs"]
        self.featured = next((r["name"] for r in runs if r.get("featured")), None)
        self.console.say("FLEET", "%d runs over %d s (plan %s); fan-out subagents come on top"
                         % (len(runs), duration, self.args.plan))
        for line in ("Lines read [time] TAG namespace/job: what a component reported.",
                     "CREATED, QUEUE, ADMITTED, SUSPENDED: the Job as the webhook and the "
                     "operator left it; CALL, DEGRADED, DENIED, DONE: the run's meter;",
                     "ALERT, PRESSURE, BUDGETS: AgentBudget status written by the operator."):
            self.console.say("FLEET", line)
        watcher = threading.Thread(target=self.budgets.run, daemon=True)
        watcher.start()
        director = Director(self, plan, self.args.scene_timeout)
        directing = threading.Thread(target=director.run, daemon=True)
        directing.start()
        # Runs gated on a scene are started by the director.
        for run in sorted((r for r in runs if not r.get("after")), key=lambda r: r["start"]):
            delay = run["start"] * duration - (time.monotonic() - self.console.start)
            if delay > 0 and self.stop.wait(delay):
                break
            self.start_run(run)
        # Every scene shows (or fails) before the end; then the runs get their grace.
        directing.join()
        deadline = max(self.console.start + duration, time.monotonic()) + self.args.grace
        with self.lock:
            threads = list(self.threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if any(t.is_alive() for t in threads):
            self.console.say("FLEET", "time is up: stopping the runs still going")
        self.stop.set()
        self.ended_at = time.time()
        for thread in threads:
            thread.join(60)
        watcher.join(5)
        return self.summary(director)

    def start_run(self, run):
        """Starts a top-level run on a thread of its own and returns the thread."""
        thread = threading.Thread(target=self.execute_top, args=(run,), daemon=True)
        thread.start()
        with self.lock:
            self.threads.append(thread)
        return thread

    def execute_top(self, run):
        try:
            outcome = self.execute(run)
        except Exception as error:  # a run's failure is reported, never kills the fleet
            self.say_run(run, "ERROR", "%s: %s" % (type(error).__name__, error))
            outcome = "error"
        with self.lock:
            self.outcomes[run["name"]] = outcome

    def summary(self, director):
        """Prints the outcomes and what each scene showed; 1 when a scene is missing."""
        counts = {}
        for outcome in self.outcomes.values():
            counts[outcome] = counts.get(outcome, 0) + 1
        self.console.say("FLEET", "outcomes: " + ", ".join(
            "%d %s" % (n, o) for o, n in sorted(counts.items())))
        self.console.say("FLEET", "the simulator's own count, for comparison: %d calls sent, "
                         "%d denied, %d degraded" % (self.own_ledger["calls"],
                                                     self.own_ledger["denied"],
                                                     self.own_ledger["degraded"]))
        s = self.scenes
        idle = longest_idle(os.path.join(self.args.state, "provider-ledger.jsonl"),
                            self.started_at, self.ended_at)
        shown = {
            "attribution": "%d of %d Jobs held and stamped with team, workflow, user and "
                           "priority by the webhook" % (s["attributed"], s["jobs"]),
            "soft alert": self.budgets.first_alert,
            "degradation": "%d calls sent to a cheaper model (meter records)" % s["degraded"],
            "queue pressure": "AgentBudget %s at pressure Queue" % director.config["budget"],
            "queued under pressure": "%d Deferrable Jobs held for BudgetPressure" % s["queued"],
            "running Jobs suspended": "%d running Deferrable Jobs suspended by the operator"
                                      % s["suspended"],
            "ReleaseBlocking under pressure": "%d release runs completed at Queue pressure "
                                              "while suspended Jobs waited"
                                              % s["release_done_under_pressure"],
            "resumed": "%d suspended Jobs admitted again after the limit was raised"
                       % s["resumed"],
            "runaway": s["runaway"],
        }
        missing = [name for name, _ in ORDER if name not in director.evidence]
        for name, _ in ORDER:
            self.console.say("SCENE", "%-31s %s" % (name + ":", shown[name] if name in
                                                     director.evidence else "MISSING"))
        self.console.say("SCENE", "%-31s longest stretch without a call %.1f s" % (
            "no idle stretch:", idle))
        with open(os.path.join(self.args.state, "fleet-outcomes.json"), "w") as f:
            json.dump({"outcomes": self.outcomes, "ownLedger": self.own_ledger,
                       "queueAvailable": self.queue_available, "scenes": s,
                       "missingScenes": missing, "startedAt": self.started_at,
                       "endedAt": self.ended_at, "limitRaisedAt": director.raised_at,
                       "longestIdleSeconds": idle}, f, indent=1)
        if missing:
            self.console.say("SCENE", "MISSING: " + ", ".join(missing))
            return 1
        return 0


def longest_idle(ledger, start, end):
    """The longest stretch between `start` and `end` (epoch seconds) in which the provider
    answered no call, from its ledger."""
    times = [start, end]
    try:
        with open(ledger) as f:
            times += [json.loads(line)["at"] for line in f if line.strip()]
    except OSError:
        pass
    times = sorted(t for t in times if start <= t <= end)
    return max(b - a for a, b in zip(times, times[1:]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--kubectl", default="kubectl")
    parser.add_argument("--meter", required=True, help="the agentbudget-meter binary")
    parser.add_argument("--authority-url", required=True)
    parser.add_argument("--authority-ca", required=True)
    parser.add_argument("--state", required=True, help="where runs keep their files")
    parser.add_argument("--minutes", type=float, default=3)
    parser.add_argument("--grace", type=float, default=60,
                        help="seconds after the last start for runs to finish")
    parser.add_argument("--scene-timeout", type=float, default=90,
                        help="seconds each scene may take to show after the one before")
    parser.add_argument("--admission-timeout", type=float, default=30,
                        help="seconds without any admission before the queue counts as absent")
    parser.add_argument("--plan", default=os.path.join(HERE, "scenario", "fleet.json"))
    args = parser.parse_args()
    with open(args.plan) as f:
        plan = json.load(f)
    fleet = Fleet(args)
    signal.signal(signal.SIGTERM, lambda *_: fleet.stop.set())
    try:
        return fleet.run_all(plan)
    except KeyboardInterrupt:
        fleet.stop.set()
        return 130


if __name__ == "__main__":
    sys.exit(main())
