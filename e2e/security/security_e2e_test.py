#!/usr/bin/env python3
"""The adversarial suite: a tenant tries to walk around agentbudget's governance.

Against a cluster of its own with this build's operator and webhook (governed_cluster.py),
the tenant is user `mallory`, impersonated, with the `edit` role in its namespace team-b
only, in no admin group. Each test method is one attempt, named for what it tries, and
asserts the outcome from the API server's state afterwards (or the authority's answers):
refused, naming its rule as `(rule <id>)`, or neutralised (the pod still metered and held,
the label rewritten). docs/threat-model.md lists the same attempts with the mechanism that
stops each.

Usage: security_e2e_test.py OPERATOR WEBHOOK
"""
import concurrent.futures
import contextlib
import csv
import io
import json
import os
import re
import sys
import unittest
import uuid
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from governed_cluster import CI_USER, METER, ROOT, GovernedCluster, eventually  # noqa: E402

TENANT = "mallory"
APPROVER = "alice"
NS = "team-b"          # the tenant's namespace
VICTIM_NS = "team-a"   # another team's
GATE = "agentbudget.io/admission"
L = "agentbudget.io/"
AGENT_IMAGE = "ghcr.io/acme/coding-agent:1.4"
CLUSTER = None


def pod_manifest(name, labels=None, annotations=None, ns=NS, **spec):
    """A governed agent pod (the `agents` workload selects app=coding-agent)."""
    body = {"serviceAccountName": "agent", "restartPolicy": "Never",
            "containers": [{"name": "agent", "image": AGENT_IMAGE}]}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns,
                         "labels": dict({"app": "coding-agent"}, **(labels or {})),
                         "annotations": annotations or {}},
            "spec": body}


def job_manifest(name, labels=None, template_labels=None, annotations=None, ns=NS,
                 suspend=None):
    """A governed agent Job; its pods stay Running under kwok."""
    labels = dict({"app": "coding-agent"}, **(labels or {}))
    spec = {"backoffLimit": 0, "template": {
        "metadata": {"labels": dict(labels, **(template_labels or {})),
                     "annotations": {"pod-complete.stage.kwok.x-k8s.io/delay": "3600s"}},
        "spec": {"serviceAccountName": "agent", "restartPolicy": "Never",
                 "containers": [{"name": "agent", "image": AGENT_IMAGE}]}}}
    if suspend is not None:
        spec["suspend"] = suspend
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": ns, "labels": labels,
                         "annotations": annotations or {}},
            "spec": spec}


def queue_state(obj):
    raw = (obj["metadata"].get("annotations") or {}).get(L + "queue", "")
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return {"state": raw}


def labels_of(obj):
    return obj["metadata"].get("labels") or {}


def annotations_of(obj):
    return obj["metadata"].get("annotations") or {}


def meter_of(pod):
    return next((c for c in pod["spec"].get("initContainers", []) if c["name"] == METER), None)


def rate_card_ids():
    with open(os.path.join(ROOT, "meter", "rates", "default-rates.yaml")) as f:
        return set(re.findall(r"^\s*- id: (\S+)\s*$", f.read(), re.MULTILINE))


def reservation(model="claude-sonnet-4-5", cost="0.05", **extra):
    body = {"idempotencyKey": uuid.uuid4().hex, "provider": "anthropic", "model": model,
            "estimate": {"cost": cost, "tokens": 1000}}
    body.update(extra)
    return body


def commitment(model="claude-sonnet-4-5", cost="0.25"):
    return {"idempotencyKey": uuid.uuid4().hex, "model": model,
            "usage": {"input": 1000, "cacheRead": 0, "cacheWrite5m": 0, "cacheWrite1h": 0,
                      "output": 200, "reasoning": 0},
            "cost": cost, "estimated": False}


class Run:
    """A governed bare pod, the token bound to it (audience agentbudget) and its run id."""

    def __init__(self, pod, token):
        self.pod, self.token = pod, token
        self.id = labels_of(pod).get(L + "run", "")

    def balance(self):
        status, body = CLUSTER.authority("GET", "/v1/runs/" + self.id, self.token)
        if status != 200:
            raise AssertionError("cannot read run %s: %d %s" % (self.id, status, body))
        return body

    def reserve(self, **fields):
        return CLUSTER.authority("POST", "/v1/reservations", self.token, reservation(**fields))

    def spend(self, cost):
        """A reservation committed at `cost`; fails the caller when refused."""
        status, reserved = self.reserve()
        if status != 200 or reserved.get("decision") == "deny":
            raise AssertionError("reservation refused: %d %s" % (status, reserved))
        status, committed = CLUSTER.authority(
            "POST", "/v1/reservations/%s/commit" % reserved["id"], self.token,
            commitment(cost=cost))
        if status != 200:
            raise AssertionError("commit refused: %d %s" % (status, committed))


class TenantAttempts(unittest.TestCase):
    """Every attempt runs as `mallory` unless it says otherwise."""

    victim = None    # team-a's run, with committed spend and an open reservation
    own = None       # the tenant's run, with committed spend

    @classmethod
    def setUpClass(cls):
        cls.victim = cls.make_run(VICTIM_NS, "victim-run", as_user=None, cost="0.25")
        status, reserved = cls.victim.reserve()
        if status != 200:
            raise AssertionError("cannot reserve for the victim: %d %s" % (status, reserved))
        cls.victim_reservation = reserved["id"]
        cls.own = cls.make_run(NS, "mallory-run", as_user=TENANT, cost="0.10")

    @classmethod
    def make_run(cls, ns, name, as_user, cost):
        created = CLUSTER.create(pod_manifest(name, ns=ns), as_user=as_user)
        if not created.ok:
            raise AssertionError("cannot create %s/%s: %s" % (ns, name, created))
        pod = created.json()
        token = CLUSTER.token(ns, "agent", pod, as_user=as_user)
        if not token.ok:
            raise AssertionError("cannot get a token for %s/%s: %s" % (ns, name, token))
        run = Run(pod, token.stdout.strip())
        run.spend(cost)
        return run

    # ----- helpers ---------------------------------------------------------------------

    def create(self, obj, as_user=TENANT):
        return CLUSTER.create(obj, as_user=as_user)

    def created(self, obj, as_user=TENANT):
        """Creates `obj` and returns it as stored; fails when refused."""
        outcome = self.create(obj, as_user)
        self.assertTrue(outcome.ok, "refused: %s" % outcome)
        return outcome.json()

    def assert_refused(self, outcome, rule, kind, name, ns=NS):
        """Refused naming `rule`, and nothing of that name exists."""
        self.assertFalse(outcome.ok, "%s %s was admitted" % (kind, name))
        self.assertIn("(rule %s)" % rule, outcome.stderr)
        self.assertIsNone(CLUSTER.get(kind, name, ns), "%s %s exists" % (kind, name))

    def assert_update_refused(self, outcome, rule):
        self.assertFalse(outcome.ok, "the update was admitted")
        self.assertIn("(rule %s)" % rule, outcome.stderr)

    def assert_metered_and_held(self, pod):
        """The pod carries the webhook's meter and the admission gate."""
        meter = meter_of(pod)
        self.assertIsNotNone(meter, "pod %s has no meter" % pod["metadata"]["name"])
        self.assertEqual(meter.get("restartPolicy"), "Always")
        self.assertIn(L + "injected", annotations_of(pod))
        gates = [g["name"] for g in pod["spec"].get("schedulingGates", [])]
        self.assertIn(GATE, gates, "pod %s is not held" % pod["metadata"]["name"])

    def held_pod(self, name):
        """A fresh governed bare pod of the tenant, as stored (metered and held)."""
        pod = self.created(pod_manifest(name))
        self.assert_metered_and_held(pod)
        return pod

    def held_job(self, name):
        job = self.created(job_manifest(name))
        self.assertTrue(job["spec"].get("suspend"), "job %s is not held" % name)
        return job

    def patch(self, kind, name, patch, patch_type="merge", as_user=TENANT, ns=NS):
        return CLUSTER.kubectl("patch", kind, name, "-n", ns, "--type=" + patch_type, "-p",
                               json.dumps(patch), as_user=as_user)

    def add_ephemeral_container(self, pod, container):
        """PUT on the pod's ephemeralcontainers subresource, as kubectl debug does."""
        current = CLUSTER.get("pod", pod["metadata"]["name"], NS)
        current["spec"].setdefault("ephemeralContainers", []).append(container)
        return CLUSTER.kubectl(
            "replace", "--raw",
            "/api/v1/namespaces/%s/pods/%s/ephemeralcontainers" % (NS, pod["metadata"]["name"]),
            "-f", "-", as_user=TENANT, stdin=json.dumps(current))

    @contextlib.contextmanager
    def mutating_webhook_outage(self):
        """The mutating webhook configuration removed (its failurePolicy is Ignore, so an
        outage looks like this), and restored afterwards."""
        deleted = CLUSTER.kubectl("delete", "mutatingwebhookconfiguration", "agentbudget")
        self.assertTrue(deleted.ok, str(deleted))
        try:
            eventually(lambda: not CLUSTER._governs(NS), "the mutating webhook going away")
            yield
        finally:
            restored = CLUSTER.kubectl("apply", "-f", "-",
                                       stdin=CLUSTER.webhook_configurations())
            self.assertTrue(restored.ok, str(restored))
            eventually(lambda: CLUSTER._governs(NS), "the mutating webhook coming back")

    # ----- injection cannot be declined by the object (CREATE) --------------------------

    def test_pod_claiming_injection_with_its_own_meter_container_is_refused(self):
        # The original bypass: "already injected", a do-nothing meter, labels of its choice.
        pod = pod_manifest(
            "fake-injected", labels={L + "user": "alice", L + "run": "r-1", L + "team": NS,
                                     L + "workload": "agents"},
            annotations={L + "injected": json.dumps({"version": 1, "kind": "Pod",
                                                     "workload": "agents", "meter": "x"})},
            initContainers=[{"name": METER, "image": "busybox", "restartPolicy": "Always",
                             "command": ["sleep", "infinity"]}])
        self.assert_refused(self.create(pod), "reserved-name", "pod", "fake-injected")

    def test_pod_with_a_reserved_volume_name_is_refused(self):
        pod = pod_manifest("reserved-volume", volumes=[{"name": "agentbudget-spool",
                                                        "emptyDir": {}}])
        self.assert_refused(self.create(pod), "reserved-name", "pod", "reserved-volume")

    def forged_label(self, key, forged, name):
        """Creates a pod forging `key`; returns the stored value, asserting it is held."""
        pod = self.created(pod_manifest(name, labels={L + key: forged}))
        self.assert_metered_and_held(pod)
        return labels_of(pod).get(L + key)

    def test_forged_team_label_is_rewritten_from_the_namespace(self):
        self.assertEqual(self.forged_label("team", VICTIM_NS, "forge-team"), NS)

    def test_forged_user_label_is_rewritten_to_the_creator(self):
        self.assertEqual(self.forged_label("user", "alice", "forge-user"), TENANT)

    def test_forged_run_label_is_rewritten(self):
        stored = self.forged_label("run", self.victim.id, "forge-run")
        self.assertTrue(stored)
        self.assertNotEqual(stored, self.victim.id)

    def test_forged_parent_run_label_is_dropped(self):
        # Neither a pod of that run nor a trusted creator: not a subagent of it.
        self.assertNotEqual(self.forged_label("parent-run", self.victim.id, "forge-parent"),
                            self.victim.id)

    def test_forged_workload_label_is_rewritten_to_the_governing_workload(self):
        # `vip` exists but does not select the pod (tier=vip): `agents` governs it.
        self.assertEqual(self.forged_label("workload", "vip", "forge-workload"), "agents")

    def test_forged_class_label_is_rewritten_from_the_workload(self):
        self.assertEqual(self.forged_label("class", "Assistive", "forge-class"),
                         "AutonomousBounded")

    def test_forged_priority_label_is_rewritten_from_the_workload(self):
        self.assertEqual(self.forged_label("priority", "ReleaseBlocking", "forge-priority"),
                         "Deferrable")

    def test_forged_workflow_label_is_rewritten_from_the_workload(self):
        self.assertEqual(self.forged_label("workflow", "release", "forge-workflow"),
                         "nightly-fix")

    def test_forged_labels_in_a_job_template_are_rewritten(self):
        forged = {L + "user": "alice", L + "team": VICTIM_NS, L + "priority": "ReleaseBlocking",
                  L + "run": self.victim.id}
        job = self.created(job_manifest("forge-job", labels=forged, template_labels=forged))
        self.assertTrue(job["spec"].get("suspend"))
        for labels in (labels_of(job), job["spec"]["template"]["metadata"]["labels"]):
            self.assertEqual(labels.get(L + "user"), TENANT)
            self.assertEqual(labels.get(L + "team"), NS)
            self.assertEqual(labels.get(L + "priority"), "Deferrable")
            self.assertNotEqual(labels.get(L + "run"), self.victim.id)

    def test_job_created_unsuspended_with_a_forged_admitted_state_is_held(self):
        job = self.created(job_manifest(
            "forge-admitted", suspend=False,
            annotations={L + "queue": json.dumps({"state": "Admitted"})}))
        self.assertTrue(job["spec"].get("suspend"))
        self.assertNotEqual(queue_state(job).get("state"), "Admitted")
        # The queue has seen it and holds it: its run awaits approval.
        held = eventually(lambda: (lambda j: j if queue_state(j).get("reason") ==
                                   "AwaitingApproval" else None)(
                              CLUSTER.get("job", "forge-admitted", NS)),
                          "the queue holding the Job for approval")
        self.assertTrue(held["spec"].get("suspend"))

    def test_forged_approval_at_create_is_stripped(self):
        job = self.created(job_manifest("forge-approval", annotations={
            L + "approved-by": APPROVER, L + "approved-at": "2026-01-01T00:00:00Z"}))
        self.assertNotIn(L + "approved-by", annotations_of(job))
        self.assertNotIn(L + "approved-at", annotations_of(job))
        self.assertTrue(job["spec"].get("suspend"))

    def test_pod_with_a_node_name_skipping_the_gate_is_refused(self):
        # Binding itself to a node would skip the scheduler and so the admission gate.
        outcome = self.create(pod_manifest("node-name", nodeName="kwok-node-0"))
        self.assertFalse(outcome.ok, "a governed pod bound itself to a node")
        self.assertIsNone(CLUSTER.get("pod", "node-name", NS))

    def test_trusted_ci_identity_may_name_the_engineer(self):
        # The other way round: the CI system's identity is trusted to name the engineer.
        pod = self.created(pod_manifest("ci-named", labels={L + "user": "alice"}),
                           as_user=CI_USER)
        self.assert_metered_and_held(pod)
        self.assertEqual(labels_of(pod).get(L + "user"), "alice")

    # ----- UPDATE is governed ------------------------------------------------------------

    def test_unsuspending_a_held_job_is_refused(self):
        self.held_job("unsuspend")
        outcome = self.patch("job", "unsuspend", {"spec": {"suspend": False}})
        self.assert_update_refused(outcome, "held-job")
        self.assertTrue(CLUSTER.get("job", "unsuspend", NS)["spec"]["suspend"])

    def test_removing_the_admission_scheduling_gate_is_refused(self):
        self.held_pod("ungate")
        outcome = self.patch("pod", "ungate", [{"op": "remove", "path": "/spec/schedulingGates"}],
                             patch_type="json")
        self.assert_update_refused(outcome, "admission-gate")
        self.assert_metered_and_held(CLUSTER.get("pod", "ungate", NS))

    def test_changing_a_system_label_on_update_is_refused(self):
        self.held_pod("relabel-user")
        outcome = CLUSTER.kubectl("label", "pod", "relabel-user", "-n", NS, "--overwrite",
                                  L + "user=alice", as_user=TENANT)
        self.assert_update_refused(outcome, "system-metadata")
        self.assertEqual(labels_of(CLUSTER.get("pod", "relabel-user", NS))[L + "user"], TENANT)

    def test_removing_a_system_label_on_update_is_refused(self):
        self.held_job("unlabel")
        outcome = CLUSTER.kubectl("label", "job", "unlabel", "-n", NS, L + "workflow-",
                                  as_user=TENANT)
        self.assert_update_refused(outcome, "system-metadata")
        self.assertEqual(labels_of(CLUSTER.get("job", "unlabel", NS)).get(L + "workflow"),
                         "nightly-fix")

    def test_writing_the_queue_state_on_update_is_refused(self):
        self.held_job("forge-queue")
        outcome = CLUSTER.kubectl("annotate", "job", "forge-queue", "-n", NS, "--overwrite",
                                  L + 'queue={"state":"Admitted"}', as_user=TENANT)
        self.assert_update_refused(outcome, "system-metadata")
        self.assertNotEqual(queue_state(CLUSTER.get("job", "forge-queue", NS)).get("state"),
                            "Admitted")

    def test_changing_the_meter_image_on_update_is_refused(self):
        pod = self.held_pod("meter-image")
        index = pod["spec"]["initContainers"].index(meter_of(pod))
        outcome = self.patch("pod", "meter-image", [
            {"op": "replace", "path": "/spec/initContainers/%d/image" % index,
             "value": "busybox"}], patch_type="json")
        self.assert_update_refused(outcome, "meter-immutable")
        self.assertEqual(meter_of(CLUSTER.get("pod", "meter-image", NS))["image"],
                         meter_of(pod)["image"])

    def test_removing_the_meter_container_on_update_is_refused(self):
        pod = self.held_pod("meter-removal")
        index = pod["spec"]["initContainers"].index(meter_of(pod))
        outcome = self.patch("pod", "meter-removal", [
            {"op": "remove", "path": "/spec/initContainers/%d" % index}], patch_type="json")
        self.assertFalse(outcome.ok, "the meter was removed")
        self.assertIsNotNone(meter_of(CLUSTER.get("pod", "meter-removal", NS)))

    def test_ephemeral_container_targeting_the_meter_is_refused(self):
        pod = self.held_pod("debug-meter")
        outcome = self.add_ephemeral_container(pod, {
            "name": "peek", "image": "busybox", "targetContainerName": METER})
        self.assert_update_refused(outcome, "ephemeral-container")
        self.assertFalse(CLUSTER.get("pod", "debug-meter", NS)["spec"].get("ephemeralContainers"))

    def test_ephemeral_container_mounting_the_token_volume_is_refused(self):
        pod = self.held_pod("debug-token")
        outcome = self.add_ephemeral_container(pod, {
            "name": "peek", "image": "busybox",
            "volumeMounts": [{"name": "agentbudget-token", "mountPath": "/t"}]})
        self.assert_update_refused(outcome, "ephemeral-container")
        self.assertFalse(CLUSTER.get("pod", "debug-token", NS)["spec"].get("ephemeralContainers"))

    # ----- approval by approvers only ----------------------------------------------------

    def test_self_approval_by_a_non_approver_is_refused(self):
        self.held_job("self-approve")
        outcome = CLUSTER.kubectl("annotate", "job", "self-approve", "-n", NS,
                                  L + "approved-by=yes", as_user=TENANT)
        self.assert_update_refused(outcome, "approvers")
        job = CLUSTER.get("job", "self-approve", NS)
        self.assertNotIn(L + "approved-by", annotations_of(job))
        self.assertTrue(job["spec"]["suspend"])

    def test_approval_by_a_listed_approver_is_recorded_and_admits_the_run(self):
        self.held_job("approved")
        outcome = CLUSTER.kubectl("annotate", "job", "approved", "-n", NS,
                                  L + "approved-by=yes", as_user=APPROVER)
        self.assertTrue(outcome.ok, str(outcome))
        job = CLUSTER.get("job", "approved", NS)
        # Who and when, as the webhook saw the request, not as the annotation said.
        self.assertEqual(annotations_of(job).get(L + "approved-by"), APPROVER)
        approved_at = annotations_of(job).get(L + "approved-at", "")
        self.assertRegex(approved_at, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        datetime.strptime(approved_at, "%Y-%m-%dT%H:%M:%SZ")
        eventually(lambda: not CLUSTER.get("job", "approved", NS)["spec"].get("suspend"),
                   "the queue admitting the approved run")
        events = eventually(lambda: [e for e in CLUSTER.items("events", NS)
                                     if e.get("reason") == "Approved"
                                     and e["involvedObject"]["name"] == "approved"],
                            "an Approved Event")
        self.assertIn(APPROVER, events[0]["message"])

    # ----- true attribution ---------------------------------------------------------------

    def test_bare_pod_with_a_forged_job_owner_reference_is_refused(self):
        job = self.held_job("owner")
        pod = pod_manifest("claims-job")
        pod["metadata"]["ownerReferences"] = [{
            "apiVersion": "batch/v1", "kind": "Job", "name": "owner",
            "uid": job["metadata"]["uid"], "controller": True}]
        self.assert_refused(self.create(pod), "job-owner", "pod", "claims-job")

    # ----- key custody ------------------------------------------------------------------

    def custody_attempt(self, name, rule, **spec):
        self.assert_refused(self.create(pod_manifest(name, **spec)), rule, "pod", name)

    def test_agent_container_mounting_the_token_volume_is_refused(self):
        self.custody_attempt("mount-token", "credentials-volume", containers=[{
            "name": "agent", "image": AGENT_IMAGE,
            "volumeMounts": [{"name": "agentbudget-token", "mountPath": "/t"}]}])

    def test_agent_container_mounting_the_credentials_volume_is_refused(self):
        self.custody_attempt("mount-credentials", "credentials-volume", containers=[{
            "name": "agent", "image": AGENT_IMAGE,
            "volumeMounts": [{"name": "agentbudget-credentials", "mountPath": "/k"}]}])

    def test_provider_key_secret_as_a_volume_is_refused(self):
        self.custody_attempt(
            "secret-volume", "credentials-secret",
            volumes=[{"name": "keys", "secret": {"secretName": "provider-keys"}}],
            containers=[{"name": "agent", "image": AGENT_IMAGE,
                         "volumeMounts": [{"name": "keys", "mountPath": "/k"}]}])

    def test_provider_key_secret_in_env_is_refused(self):
        self.custody_attempt("secret-env", "credentials-secret", containers=[{
            "name": "agent", "image": AGENT_IMAGE,
            "env": [{"name": "KEY", "valueFrom": {"secretKeyRef": {
                "name": "provider-keys", "key": "anthropic-api-key"}}}]}])

    def test_provider_key_secret_in_env_from_is_refused(self):
        self.custody_attempt("secret-envfrom", "credentials-secret", containers=[{
            "name": "agent", "image": AGENT_IMAGE,
            "envFrom": [{"secretRef": {"name": "provider-keys"}}]}])

    def test_share_process_namespace_is_refused(self):
        self.custody_attempt("share-pid", "share-process-namespace", shareProcessNamespace=True)

    def test_host_network_is_refused(self):
        self.custody_attempt("host-network", "host-network", hostNetwork=True)

    def test_host_pid_is_refused(self):
        self.custody_attempt("host-pid", "host-pid", hostPID=True)

    def test_privileged_container_is_refused(self):
        self.custody_attempt("privileged", "privileged", containers=[{
            "name": "agent", "image": AGENT_IMAGE, "securityContext": {"privileged": True}}])

    # ----- work created through controllers ----------------------------------------------

    def controller_pod(self, selector):
        pods = eventually(lambda: CLUSTER.items("pods", NS, selector),
                          "a pod matching %s" % selector)
        return pods[0]

    def template(self, via):
        return {"metadata": {"labels": {"app": "coding-agent", "via": via,
                                        L + "user": "alice"}},
                "spec": {"serviceAccountName": "agent",
                         "containers": [{"name": "agent", "image": AGENT_IMAGE}]}}

    def test_pods_of_a_deployment_are_metered_and_held(self):
        self.created({"apiVersion": "apps/v1", "kind": "Deployment",
                      "metadata": {"name": "via-deployment", "namespace": NS},
                      "spec": {"replicas": 1,
                               "selector": {"matchLabels": {"via": "deployment"}},
                               "template": self.template("deployment")}})
        pod = self.controller_pod("via=deployment")
        self.assert_metered_and_held(pod)
        self.assertNotEqual(labels_of(pod).get(L + "user"), "alice")

    def test_pods_of_a_replicaset_are_metered_and_held(self):
        self.created({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                      "metadata": {"name": "via-replicaset", "namespace": NS},
                      "spec": {"replicas": 1,
                               "selector": {"matchLabels": {"via": "replicaset"}},
                               "template": self.template("replicaset")}})
        pod = self.controller_pod("via=replicaset")
        self.assert_metered_and_held(pod)
        self.assertNotEqual(labels_of(pod).get(L + "user"), "alice")

    def test_jobs_of_a_cronjob_are_held_and_attributed_to_the_controller(self):
        template = self.template("cronjob")
        template["spec"]["restartPolicy"] = "Never"
        self.created({"apiVersion": "batch/v1", "kind": "CronJob",
                      "metadata": {"name": "via-cronjob", "namespace": NS},
                      "spec": {"schedule": "* * * * *", "concurrencyPolicy": "Forbid",
                               "jobTemplate": {
                                   "metadata": {"labels": template["metadata"]["labels"]},
                                   "spec": {"template": template}}}})
        try:
            jobs = eventually(lambda: CLUSTER.items("jobs", NS, "via=cronjob"),
                              "the CronJob's first Job", timeout=100)
        finally:
            CLUSTER.kubectl("delete", "cronjob", "via-cronjob", "-n", NS)
        job = jobs[0]
        self.assertTrue(job["spec"].get("suspend"), "the CronJob's Job runs unheld")
        self.assertIn(L + "injected", annotations_of(job))
        self.assertTrue(queue_state(job), "no queue state")
        self.assertNotEqual(labels_of(job).get(L + "user"), "alice")

    # ----- a mutating-webhook outage ------------------------------------------------------

    def test_forged_meter_pod_during_a_mutating_webhook_outage_is_refused(self):
        with self.mutating_webhook_outage():
            pod = pod_manifest(
                "outage-forged", labels={L + "run": "r-1", L + "team": NS,
                                         L + "workload": "agents", L + "user": "alice"},
                annotations={L + "injected": "{}"},
                initContainers=[{"name": METER, "image": "busybox",
                                 "restartPolicy": "Always"}])
            outcome = self.create(pod)
        self.assertFalse(outcome.ok, "a forged meter was admitted")
        self.assertRegex(outcome.stderr, r"\(rule [a-z-]+\)")
        self.assertIsNone(CLUSTER.get("pod", "outage-forged", NS))

    def test_plain_pod_during_a_mutating_webhook_outage_is_refused(self):
        with self.mutating_webhook_outage():
            outcome = self.create(pod_manifest("outage-plain"))
        self.assert_refused(outcome, "meter-missing", "pod", "outage-plain")

    # ----- the queue's backstop ---------------------------------------------------------

    def test_running_job_relabelled_into_a_workload_is_resuspended(self):
        job = job_manifest("relabel-job", labels={"app": "ungoverned"})
        self.created(job)
        eventually(lambda: CLUSTER.items("pods", NS, "job-name=relabel-job"),
                   "the ungoverned Job's pod")
        outcome = CLUSTER.kubectl("label", "job", "relabel-job", "-n", NS, "--overwrite",
                                  "app=coding-agent", as_user=TENANT)
        if not outcome.ok:  # refused: the Job never became governed work
            self.assertRegex(outcome.stderr, r"\(rule [a-z-]+\)")
            return
        eventually(lambda: CLUSTER.get("job", "relabel-job", NS)["spec"].get("suspend"),
                   "the queue re-suspending the Job")
        # Held from then on like any governed run (here: for approval), and said so.
        eventually(lambda: [e for e in CLUSTER.items("events", NS)
                            if e.get("reason") == "NotAdmitted"
                            and e["involvedObject"]["name"] == "relabel-job"],
                   "a NotAdmitted Event on the Job")
        self.assertNotEqual(queue_state(CLUSTER.get("job", "relabel-job", NS)).get("state"),
                            "Admitted")

    def test_running_pod_relabelled_into_a_workload_is_reported_unmetered(self):
        self.created(pod_manifest("relabel-pod", labels={"app": "ungoverned"}))
        outcome = CLUSTER.kubectl("label", "pod", "relabel-pod", "-n", NS, "--overwrite",
                                  "app=coding-agent", as_user=TENANT)
        if not outcome.ok:
            self.assertRegex(outcome.stderr, r"\(rule [a-z-]+\)")
            return
        eventually(lambda: [e for e in CLUSTER.items("events", NS)
                            if e.get("reason") == "Unmetered"
                            and e["involvedObject"]["name"] == "relabel-pod"],
                   "an Unmetered Event on the pod")
        workload = eventually(
            lambda: (lambda w: w if any(c["type"] == "Unmetered" and c["status"] == "True"
                                        for c in (w.get("status") or {}).get("conditions", []))
                     else None)(CLUSTER.get("agentworkload", "agents", NS)),
            "the workload's Unmetered condition")
        self.assertTrue(workload)

    # ----- what a tenant may not write at all (RBAC) -------------------------------------

    def test_tenant_cannot_edit_its_agentworkload(self):
        outcome = self.patch("agentworkload", "agents",
                             {"spec": {"approval": {"required": False}}})
        self.assertFalse(outcome.ok)
        self.assertIn("Forbidden", outcome.stderr)
        workload = CLUSTER.get("agentworkload", "agents", NS)
        self.assertTrue(workload["spec"]["approval"]["required"])

    def test_tenant_cannot_relabel_its_namespace(self):
        for label in ("agentbudget.io/inject=disabled", "agentbudget.io/team=" + VICTIM_NS):
            outcome = CLUSTER.kubectl("label", "namespace", NS, "--overwrite", label,
                                      as_user=TENANT)
            self.assertFalse(outcome.ok, label)
            self.assertIn("Forbidden", outcome.stderr)
        labels = labels_of(CLUSTER.get("namespace", NS))
        self.assertEqual(labels.get("agentbudget.io/inject"), "enabled")
        self.assertEqual(labels.get("agentbudget.io/team"), NS)

    # ----- the budget authority ---------------------------------------------------------

    def test_token_for_another_teams_pod_is_refused_by_the_api_server(self):
        outcome = CLUSTER.token(VICTIM_NS, "agent", self.victim.pod, as_user=TENANT)
        self.assertFalse(outcome.ok, "the tenant got a token for another team's pod")
        self.assertIn("forbidden", outcome.stderr.lower())

    def test_own_token_cannot_read_another_run(self):
        status, body = CLUSTER.authority("GET", "/v1/runs/" + self.victim.id, self.own.token)
        self.assertEqual(status, 403, body)

    def test_own_token_cannot_commit_another_runs_reservation(self):
        before = self.victim.balance()
        status, body = CLUSTER.authority(
            "POST", "/v1/reservations/%s/commit" % self.victim_reservation, self.own.token,
            commitment(cost="5"))
        self.assertEqual(status, 403, body)
        self.assertEqual(self.victim.balance()["spent"], before["spent"])

    def test_reservation_naming_another_run_is_charged_to_the_tokens_own_run(self):
        victim_before, own_before = self.victim.balance(), self.own.balance()
        status, body = self.own.reserve(run=self.victim.id, cost="3")
        victim_after, own_after = self.victim.balance(), self.own.balance()
        self.assertEqual(victim_after["reserved"], victim_before["reserved"])
        self.assertEqual(victim_after["spent"], victim_before["spent"])
        if status == 200:
            self.assertNotEqual(own_after["reserved"], own_before["reserved"], body)

    def test_pods_own_api_token_is_refused_by_the_authority(self):
        # What an agent container finds mounted: a token bound to its pod for the API
        # server's audience, not the authority's.
        token = CLUSTER.token(NS, "agent", self.own.pod, audience=None, as_user=TENANT)
        self.assertTrue(token.ok, str(token))
        status, body = CLUSTER.authority("POST", "/v1/reservations", token.stdout.strip(),
                                         reservation())
        self.assertEqual(status, 401, body)

    def test_token_bound_to_no_pod_is_refused_by_the_authority(self):
        token = CLUSTER.token(NS, "agent", None, as_user=TENANT)
        self.assertTrue(token.ok, str(token))
        status, body = CLUSTER.authority("POST", "/v1/reservations", token.stdout.strip(),
                                         reservation())
        self.assertEqual(status, 401, body)

    # ----- spend exports -----------------------------------------------------------------

    def test_focus_export_without_a_token_is_refused(self):
        status, body = CLUSTER.ops("/v1/focus")
        self.assertEqual(status, 401, body[:500])
        self.assertNotIn(VICTIM_NS, body)

    def test_focus_export_as_another_tenant_shows_none_of_team_a(self):
        # team-b's own reporting identity (view in team-b), its token minted by the tenant.
        token = CLUSTER.token(NS, "reporter", None, audience=None, as_user=TENANT)
        self.assertTrue(token.ok, str(token))
        status, body = CLUSTER.ops("/v1/focus", token.stdout.strip())
        self.assertEqual(status, 200, body[:500])
        rows = list(csv.DictReader(io.StringIO(body)))
        namespaces = {row["SubAccountId"] for row in rows}
        self.assertEqual(namespaces, {NS}, "rows of other namespaces: %s" % namespaces)
        self.assertNotIn(self.victim.id, body)

    def test_showback_as_another_tenant_shows_none_of_team_a(self):
        # The same reporting identity reads the showback report on the authority's port.
        token = CLUSTER.token(NS, "reporter", None, audience=None, as_user=TENANT)
        self.assertTrue(token.ok, str(token))
        status, report = CLUSTER.authority("GET", "/v1/showback?format=json",
                                           token.stdout.strip())
        self.assertEqual(status, 200, report)
        self.assertEqual(report["budgets"], [], "budgets span namespaces: not a tenant's")
        self.assertIsNone(report["degradedShare"])
        self.assertGreater(float(report["total"]), 0, "its own namespace's spend shows")
        workloads = {w["workload"] for w in report["workloads"]}
        self.assertTrue(all(w.startswith(NS + "/") for w in workloads), workloads)
        self.assertNotIn(VICTIM_NS, json.dumps(report))
        self.assertNotIn(self.victim.id, json.dumps(report))

    def test_model_name_flood_stays_within_the_rate_card_in_metrics(self):
        def flood(i):
            self.own.reserve(model="flood-%d-%s" % (i, uuid.uuid4().hex), cost="0.000001")
            CLUSTER.authority("POST", "/v1/reservations/flood-%d/commit" % i, self.own.token,
                              commitment(model="flood-c-%d-%s" % (i, uuid.uuid4().hex),
                                         cost="0.000001"))
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(flood, range(150)))
        allowed = rate_card_ids() | {"other"}

        def models():
            status, text = CLUSTER.ops("/metrics")
            self.assertEqual(status, 200)
            found = set(re.findall(r'model="([^"]*)"', text))
            return found if "other" in found else None
        found = eventually(models, "the flood counted as model other")
        self.assertEqual(found - allowed, set())


class ThreatModelTest(unittest.TestCase):
    def test_threat_model_lists_exactly_these_attempts(self):
        with open(os.path.join(ROOT, "docs", "threat-model.md")) as f:
            text = f.read()
        section = text.split("## The adversarial attempts", 1)[1].split("\n## ", 1)[0]
        listed = re.findall(r"^\| \d+ \| `(test_\w+)` \|", section, re.MULTILINE)
        methods = unittest.TestLoader().getTestCaseNames(TenantAttempts)
        self.assertEqual(len(listed), len(set(listed)), "an attempt is listed twice")
        self.assertEqual(set(listed), set(methods))
        self.assertGreaterEqual(len(methods), 25)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: security_e2e_test.py OPERATOR WEBHOOK")
    global CLUSTER
    CLUSTER = GovernedCluster(sys.argv[1], sys.argv[2])
    ok = False
    try:
        CLUSTER.start()
        program = unittest.main(argv=[sys.argv[0], "-v"], exit=False)
        ok = program.result.wasSuccessful()
    finally:
        if not ok:
            for name in ("operator", "webhook"):
                print("----- %s log (last lines)\n%s" % (name, CLUSTER.log(name)))
        CLUSTER.stop()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
