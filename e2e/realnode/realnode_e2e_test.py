#!/usr/bin/env python3
"""The chart installed for real: images built from deploy/docker, pods on a real node.

On a cluster of its own (e2e/cluster/up.sh with no fake Nodes) plus the machine's real node
(e2e/cluster/node-up.sh), the suite builds the images (images.sh), loads them into the
node, and `helm install`s charts/agentbudget. Then, as a tenant would (user `dev`,
impersonated, with the `edit` role in namespace team-rn only), it runs governed Jobs whose
agent container is real Claude Code (`claude -p`) and real Codex (`codex exec`) with the
base URLs the webhook injected and no key of their own, and checks the spend the authority
recorded against the stub provider's own ledger, to the token and the micro-dollar.

The stub provider (e2e/meter/stub_provider.py) runs on the host; pods reach it as Service
stub-provider, whose EndpointSlice points at a forward on the node's bridge address.

Needs root and cgroups (node-up.sh names what is missing); one real node per machine, so
ctest runs this suite alone (RESOURCE_LOCK real-node).

Usage: realnode_e2e_test.py
"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
CLUSTER_SCRIPTS = os.path.join(ROOT, "e2e", "cluster")
sys.path.insert(0, os.path.join(ROOT, "e2e", "meter"))
sys.path.insert(0, os.path.join(ROOT, "e2e", "security"))
from governed_cluster import eventually  # noqa: E402
from meter_e2e_test import (ANTHROPIC_USAGE, GPT54, HAIKU, RESPONSES_USAGE,  # noqa: E402
                            micro_cost)

CLUSTER = "realnode"
RELEASE_NS = "agentbudget-system"
NS = "team-rn"
TENANT = "dev"
NODE_IP = "10.88.0.1"
# From e2e/cluster/node/lib.sh: containerd's socket, the FORWARD guard's chain.
CONTAINERD_SOCK = "/run/agentbudget-node/containerd.sock"
GUARD_CHAIN = "AGENTBUDGET-NODE-FORWARD"
IMAGE_REGISTRY = "docker.io/agentbudget"  # the chart's image.registry
REAL_KEY = "sk-real-provider-key"
# What each model the agents use costs per call: the stub's fixed usage at the shipped rates.
CALL_COST = {"claude-haiku-4-5": micro_cost(ANTHROPIC_USAGE, HAIKU),
             "gpt-5.4": micro_cost(RESPONSES_USAGE, GPT54)}
# perRun.maxRequests of workload `capped`.
CEILING = 2
ENV = {}


def run(argv, stdin=None, timeout=300, check=True, env=None):
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})))
    if check and done.returncode != 0:
        raise AssertionError("%s failed (exit %d):\n%s%s" % (
            " ".join(argv[:3]), done.returncode, done.stdout[-3000:], done.stderr[-3000:]))
    return done


def kubectl(*args, as_user=None, stdin=None, check=True, timeout=120):
    argv = [os.path.join(ENV["bin"], "kubectl"), "--kubeconfig", ENV["kubeconfig"]]
    if as_user:
        argv.append("--as=" + as_user)
    return run(argv + list(args), stdin=stdin, check=check, timeout=timeout)


def get(*args, as_user=None):
    return json.loads(kubectl("get", "-o", "json", *args, as_user=as_user).stdout)


def to_micros(amount):
    whole, _, frac = str(amount).partition(".")
    return int(whole) * 1_000_000 + int((frac + "000000")[:6])


def spent(budget="real-node-all"):
    """What the authority recorded, in micro-dollars: the spend of `budget` (by default the
    one that matches everything)."""
    status = get("agentbudget", budget).get("status") or {}
    return to_micros(status["spent"]) if "spent" in status else None


def amount(micros):
    """Micro-dollars as the decimal amount an AgentBudget's limit takes."""
    return "%d.%06d" % divmod(micros, 1_000_000)


def pressure_budget(limit):
    """The budget of workflow real-node-pressure (workloads `nightly` and `spender`), with
    Queue pressure from half its limit."""
    return json.dumps({
        "apiVersion": "agentbudget.io/v1alpha1", "kind": "AgentBudget",
        "metadata": {"name": "rn-pressure"},
        "spec": {"selector": {"matchLabels": {"workflow": "real-node-pressure"}},
                 "period": "Month", "limit": {"amount": limit},
                 "pressure": {"degradeAt": 50, "queueAt": 50}}})


def stub_calls():
    with open(ENV["stub_record"]) as f:
        return [json.loads(line) for line in f if line.strip()]


def billed(calls):
    """The stub's own ledger: calls that return usage, and what they cost."""
    usage_calls = [c for c in calls if c["path"].split("?")[0] in ("/v1/messages", "/v1/responses")]
    for call in usage_calls:
        if call["model"] not in CALL_COST:
            raise AssertionError("a call for a model without a known price: %s" % call)
    return usage_calls, sum(CALL_COST[c["model"]] for c in usage_calls)


def fixtures():
    stub = ENV["stub_port"]
    return """
apiVersion: v1
kind: Namespace
metadata:
  name: %(ns)s
  labels: {agentbudget.io/inject: enabled, agentbudget.io/team: team-rn}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: dev-edit, namespace: %(ns)s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: %(tenant)s}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: agent, namespace: %(ns)s}
---
apiVersion: v1
kind: Secret
metadata: {name: provider-keys, namespace: %(ns)s}
stringData: {anthropic-api-key: %(key)s, openai-api-key: %(key)s}
---
apiVersion: v1
kind: Service
metadata: {name: stub-provider, namespace: %(ns)s}
spec:
  ports: [{name: http, port: 80, targetPort: %(stub)d}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: stub-provider
  namespace: %(ns)s
  labels: {kubernetes.io/service-name: stub-provider}
addressType: IPv4
endpoints: [{addresses: ["%(ip)s"], conditions: {ready: true}}]
ports: [{name: http, port: %(stub)d, protocol: TCP}]
%(workloads)s---
apiVersion: agentbudget.io/v1alpha1
kind: AgentBudget
metadata: {name: real-node-all}
spec:
  period: Month
  limit: {amount: "1000"}
""" % {"ns": NS, "tenant": TENANT, "key": REAL_KEY, "stub": stub, "ip": NODE_IP,
       "workloads": "".join([
           workload("agents", "coding-agent", "Standard", "real-node"),
           workload("capped", "capped-agent", "Standard", "real-node-capped",
                    "maxRequests: %d" % CEILING),
           workload("nightly", "nightly-agent", "Deferrable", "real-node-pressure"),
           workload("spender", "spender-agent", "Standard", "real-node-pressure")])}


def workload(name, app, priority, workflow, ceiling=None):
    """An AgentWorkload of the tenant's namespace whose meters call the stub provider."""
    return """---
apiVersion: agentbudget.io/v1alpha1
kind: AgentWorkload
metadata: {name: %(name)s, namespace: %(ns)s}
spec:
  selector:
    matchLabels: {app: %(app)s}
  class: AutonomousBounded
  priority: %(priority)s
  attribution: {workflow: %(workflow)s, repo: acme/real-node, environment: ci}
  perRun: {maxRuntime: 1h%(ceiling)s}
  meter:
    upstreams:
      anthropic: http://stub-provider.%(ns)s.svc.cluster.local
      openai: http://stub-provider.%(ns)s.svc.cluster.local
    credentialsSecretRef: {name: provider-keys}
""" % {"name": name, "ns": NS, "app": app, "priority": priority, "workflow": workflow,
       "ceiling": ", " + ceiling if ceiling else ""}


def agent_job(name, script, image=None, app="coding-agent"):
    """A governed Job as the tenant writes it: an agent container with no key and no URL."""
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": NS, "labels": {"app": app}},
        "spec": {"backoffLimit": 0, "template": {
            "metadata": {"labels": {"app": app}},
            "spec": {"serviceAccountName": "agent", "restartPolicy": "Never",
                     "containers": [{
                         "name": "agent", "image": image or ENV["agent_image"],
                         "imagePullPolicy": "IfNotPresent",
                         "command": ["bash", "-c", script],
                         "env": [{"name": "DISABLE_AUTOUPDATER", "value": "1"},
                                 {"name": "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
                                  "value": "1"}]}]}}}}


CLAUDE = 'exec claude -p "say hi" --model claude-haiku-4-5'
# An agent that waits, and ends at once when its pod is deleted (as PID 1, a bare sleep
# would ignore SIGTERM and hold the pod for its whole grace period).
SLEEPER = "trap 'exit 0' TERM; sleep 600 & wait"
# Claude Code once the authority is out of reach (connections to its Service refused), then
# the agent stays a while: its meter must hold the commits and send them when it is back.
SPOOLED = r'''authority=/dev/tcp/agentbudget-operator.agentbudget-system.svc.cluster.local/8443
until ! timeout 2 bash -c "exec 3<>$authority" 2>/dev/null; do sleep 0.2; done
claude -p "say hi" --model claude-haiku-4-5; status=$?
echo "agent done: $status"
trap 'exit $status' TERM; sleep 40 & wait; exit $status'''
# Claude Code once the authority is out of reach, then the agent exits at once: its meter,
# stopped by the kubelet, holds the commits. First the agent checks that the meter answers
# (it must: the agent starts only once the meter's startup probe passed).
AGENT_THEN_EXIT = r'''meter=${ANTHROPIC_BASE_URL#http://}; meter=${meter%%/*}
if timeout 2 bash -c "exec 3<>/dev/tcp/${meter%:*}/${meter##*:}"; then
  echo "meter answering at agent start"
else
  echo "meter not answering at agent start"; exit 1
fi
authority=/dev/tcp/agentbudget-operator.agentbudget-system.svc.cluster.local/8443
until ! timeout 2 bash -c "exec 3<>$authority" 2>/dev/null; do sleep 0.2; done
exec claude -p "say hi" --model claude-haiku-4-5'''
# Codex takes its provider from config.toml: the injected OPENAI_BASE_URL, the injected
# (placeholder) OPENAI_API_KEY.
CODEX = r'''mkdir -p "$HOME/.codex" && cat > "$HOME/.codex/config.toml" <<EOF
model = "gpt-5.4"
model_provider = "meter"
[model_providers.meter]
name = "agentbudget meter"
base_url = "$OPENAI_BASE_URL"
wire_api = "responses"
env_key = "OPENAI_API_KEY"
supports_websockets = false
EOF
exec codex exec --skip-git-repo-check "say hi"'''


def setUpModule():
    preflight()  # before anything is started: nothing to tear down when it fails
    try:
        set_up()
    except BaseException:
        # unittest skips tearDownModule when this fails; the node and the stub must go.
        tearDownModule()
        raise


def preflight():
    """Fails naming everything this host lacks (root, cgroups, the Debian tools) before
    anything is built or started; the suite never skips."""
    checks = [run([script, "--check"], check=False)
              for script in (os.path.join(CLUSTER_SCRIPTS, "node-up.sh"),
                             os.path.join(HERE, "images.sh"))]
    if any(c.returncode != 0 for c in checks):
        raise AssertionError("this host cannot run the real-node suite:\n" +
                             "".join(c.stderr for c in checks))


def set_up():
    ENV["bin"] = run([os.path.join(CLUSTER_SCRIPTS, "build-tools.sh")],
                     timeout=3600).stdout.strip().splitlines()[-1]
    started = time.monotonic()
    archives = run([os.path.join(HERE, "images.sh")], timeout=3600).stdout.split()
    print("realnode: images built in %.0f s" % (time.monotonic() - started), file=sys.stderr)
    up = run([os.path.join(CLUSTER_SCRIPTS, "up.sh"), CLUSTER, "--replace"],
             env={"AGENTBUDGET_NODES": "0"})
    ENV["kubeconfig"] = up.stdout.strip().splitlines()[-1].split("=", 1)[1]
    ENV["state"] = os.path.dirname(ENV["kubeconfig"])
    run([os.path.join(CLUSTER_SCRIPTS, "node-up.sh"), CLUSTER])
    run([os.path.join(CLUSTER_SCRIPTS, "node-load.sh")] + archives, timeout=900)
    ENV["agent_image"] = "agentbudget-e2e/agent:" + chart_version()
    start_stub()
    install_chart()
    kubectl("apply", "-f", "-", stdin=fixtures())


def tearDownModule():
    for name in ("forward", "stub"):
        process = ENV.get(name)
        if process and process.poll() is None:
            process.terminate()
            process.wait(timeout=10)
    logs = os.path.join(tempfile.gettempdir(), "agentbudget-realnode-logs")
    subprocess.run([os.path.join(CLUSTER_SCRIPTS, "node-down.sh"), "--keep-logs", logs])
    subprocess.run([os.path.join(CLUSTER_SCRIPTS, "down.sh"), CLUSTER])


def chart_version():
    with open(os.path.join(ROOT, "charts", "agentbudget", "Chart.yaml")) as f:
        for line in f:
            if line.startswith("appVersion:"):
                return line.split(":", 1)[1].strip().strip('"')
    raise AssertionError("Chart.yaml has no appVersion")


def start_stub():
    ENV["stub_record"] = os.path.join(ENV["state"], "stub-calls.jsonl")
    open(ENV["stub_record"], "w").close()
    stub = subprocess.Popen([sys.executable, os.path.join(ROOT, "e2e", "meter", "stub_provider.py"),
                             ENV["stub_record"]], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    ENV["stub"] = stub
    port = int(stub.stdout.readline().strip().split("=", 1)[1])
    ENV["stub_port"] = port
    # Pods reach the host only on the bridge address.
    ENV["forward"] = subprocess.Popen(
        ["socat", "TCP-LISTEN:%d,bind=%s,fork,reuseaddr" % (port, NODE_IP),
         "TCP:127.0.0.1:%d" % port], start_new_session=True)


def install_chart():
    run([os.path.join(ENV["bin"], "helm"), "--kubeconfig", ENV["kubeconfig"], "install",
         "agentbudget", os.path.join(ROOT, "charts", "agentbudget"), "--namespace", RELEASE_NS,
         "--create-namespace", "-f", os.path.join(HERE, "values-real-node.yaml")], timeout=300)
    eventually(leader, "an operator replica leading and Ready", timeout=240)
    eventually(lambda: ready_pods("webhook") == 2, "both webhook replicas Ready", timeout=240)
    eventually(ca_bundles_set, "the operator filling caBundle", timeout=120)
    # Ready pods are not yet a reachable Service (admission-ready.sh says why).
    run([os.path.join(HERE, "admission-ready.sh"), os.path.join(ENV["bin"], "kubectl"),
         ENV["kubeconfig"]])


def pods(component):
    return get("pods", "-n", RELEASE_NS, "-l", "app.kubernetes.io/component=" + component)["items"]


def is_ready(pod):
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in (pod.get("status") or {}).get("conditions", []))


def ready_pods(component):
    return sum(1 for p in pods(component) if is_ready(p))


def leader():
    lease = kubectl("get", "lease", "-n", RELEASE_NS, "agentbudget-operator", "-o", "json",
                    check=False)
    if lease.returncode != 0:
        return None
    holder = json.loads(lease.stdout)["spec"].get("holderIdentity") or ""
    ready = [p["metadata"]["name"] for p in pods("operator") if is_ready(p)]
    return holder if any(name in holder for name in ready) else None


def ca_bundles_set():
    for kind in ("mutatingwebhookconfiguration", "validatingwebhookconfiguration"):
        config = get(kind, "agentbudget")
        if not all(w["clientConfig"].get("caBundle") for w in config["webhooks"]):
            return False
    return True


def job_pod(job):
    def found():
        items = get("pods", "-n", NS, "-l", "job-name=" + job)["items"]
        return items[0] if items else None
    return eventually(found, "a pod of Job " + job, timeout=60)


def running(job):
    return any(p["status"].get("phase") == "Running"
               for p in get("pods", "-n", NS, "-l", "job-name=" + job)["items"])


def suspended(job):
    return bool(get("job", "-n", NS, job)["spec"].get("suspend"))


def finished(job):
    status = get("job", "-n", NS, job).get("status") or {}
    for condition in status.get("conditions", []):
        if condition["type"] in ("Complete", "Failed") and condition["status"] == "True":
            return condition["type"]
    return None


class RealNodeTest(unittest.TestCase):
    maxDiff = None

    def test_the_chart_runs_as_pods_on_the_real_node(self):
        operators, webhooks = pods("operator"), pods("webhook")
        self.assertEqual(len(operators), 2)
        self.assertEqual(len(webhooks), 2)
        for pod in operators + webhooks:
            self.assertEqual(pod["spec"]["nodeName"], "real-node")
            self.assertEqual(pod["status"]["phase"], "Running", pod["status"])
        # Leader election: exactly one operator Ready, and it holds the lease.
        self.assertEqual(ready_pods("operator"), 1)
        self.assertTrue(leader())
        pdb = get("pdb", "-n", RELEASE_NS, "agentbudget-webhook")
        self.assertEqual(pdb["status"]["currentHealthy"], 2)
        self.assertEqual(pdb["status"]["disruptionsAllowed"], 1)

    def test_the_api_server_trusts_the_webhook_through_the_operators_ca_bundle(self):
        secret = get("secret", "-n", RELEASE_NS, "agentbudget-webhook-tls")
        config = get("validatingwebhookconfiguration", "agentbudget")
        with tempfile.TemporaryDirectory() as tmp:
            bundle, cert = os.path.join(tmp, "bundle.pem"), os.path.join(tmp, "tls.crt")
            with open(bundle, "wb") as f:
                f.write(base64.b64decode(config["webhooks"][0]["clientConfig"]["caBundle"]))
            with open(cert, "wb") as f:
                f.write(base64.b64decode(secret["data"]["tls.crt"]))
            verified = run(["openssl", "verify", "-CAfile", bundle, cert], check=False)
        self.assertEqual(verified.returncode, 0, verified.stdout + verified.stderr)
        # A governed pod created by the tenant went through the webhook (Service, TLS).
        self.assertTrue(self.governed_runs()["claude"]["meter"])

    def governed_runs(self):
        """Runs the Claude Code and Codex Jobs (as the tenant, once for every test) and
        returns their pods, their agents' logs and their meters."""
        if "created" not in ENV:
            ENV["created"] = len(stub_calls())
            for name, script in (("claude", CLAUDE), ("codex", CODEX)):
                kubectl("create", "-f", "-", as_user=TENANT,
                        stdin=json.dumps(agent_job("agent-" + name, script)))
        runs = {}
        for name in ("claude", "codex"):
            job = "agent-" + name
            outcome = eventually(lambda: finished(job), "Job %s finishing" % job, timeout=300)
            pod = job_pod(job)
            logs = kubectl("logs", "-n", NS, pod["metadata"]["name"], "-c", "agent",
                           check=False).stdout
            self.assertEqual(outcome, "Complete", "%s: %s\n%s" % (job, logs, pod["status"]))
            meters = [c for c in pod["spec"].get("initContainers", [])
                      if c.get("restartPolicy") == "Always"]
            runs[name] = {"pod": pod, "logs": logs, "meter": meters[0] if meters else None}
        ENV["calls"] = stub_calls()[ENV["created"]:]
        return runs

    def assert_spend_settles_at(self, total):
        eventually(lambda: spent() == total,
                   "the authority's spend reaching the stub's ledger (%d micro-dollars)" % total,
                   timeout=120)
        # Not just reached: it stays there (nothing billed twice). The chart's operator
        # writes budget status every 5 s.
        time.sleep(6)
        self.assertEqual(spent(), total)

    def test_claude_code_and_codex_on_the_real_node_are_billed_exactly(self):
        runs = self.governed_runs()
        for name in ("claude", "codex"):
            self.assertIn("Hello from the stub provider.", runs[name]["logs"])
            agent = runs[name]["pod"]["spec"]["containers"][0]
            env = {e["name"]: e.get("value") for e in agent.get("env", [])}
            # The tenant gave no key and no URL; the webhook gave the meter's URL and a
            # placeholder, and the real key never reached the agent container.
            self.assertTrue(env["ANTHROPIC_BASE_URL"].startswith("http://127.0.0.1:"))
            self.assertTrue(env["OPENAI_BASE_URL"].startswith("http://127.0.0.1:"))
            self.assertNotIn(REAL_KEY, json.dumps(agent))
        calls, _ = billed(ENV["calls"])
        self.assertEqual({c["model"] for c in calls}, {"claude-haiku-4-5", "gpt-5.4"})
        for call in calls:
            self.assertIn(REAL_KEY, (call["x-api-key"] or "") + (call["authorization"] or ""))
        # These runs' calls and every other the provider answered since the suite began
        # (whichever tests ran first).
        _, total = billed(stub_calls())
        self.assert_spend_settles_at(total)

    def test_deleting_the_leading_operator_under_load_loses_no_spend(self):
        self.governed_runs()
        jobs = ["failover-%d" % i for i in range(3)]
        for job in jobs:
            kubectl("create", "-f", "-", as_user=TENANT, stdin=json.dumps(agent_job(job, CLAUDE)))
        holder = leader()
        self.assertTrue(holder)
        leading = [p["metadata"]["name"] for p in pods("operator") if p["metadata"]["name"] in holder]
        kubectl("delete", "pod", "-n", RELEASE_NS, leading[0], "--wait=false")
        for job in jobs:
            outcome = eventually(lambda: finished(job), "Job %s finishing" % job, timeout=300)
            self.assertEqual(outcome, "Complete", job)
        self.assertNotEqual(eventually(leader, "a new leader", timeout=120), holder)
        # Every call the provider answered since the suite began is in the authority's
        # ledger exactly once.
        _, total = billed(stub_calls())
        self.assert_spend_settles_at(total)

    def test_the_meter_spools_while_the_authority_is_unreachable_and_sends_it_after(self):
        self.governed_runs()
        _, before = billed(stub_calls())
        self.assert_spend_settles_at(before)
        first = len(stub_calls())
        kubectl("create", "-f", "-", as_user=TENANT, stdin=json.dumps(agent_job("spooled", SPOOLED)))
        self.addCleanup(kubectl, "delete", "job", "-n", NS, "spooled", "--wait=false",
                        as_user=TENANT)
        eventually(lambda: running("spooled"), "Job spooled running", timeout=120)
        reachable_again = self.authority_out_of_reach()
        eventually(lambda: "agent done: 0" in kubectl("logs", "-n", NS, "job/spooled", "-c",
                                                      "agent", check=False).stdout,
                   "Claude Code in Job spooled done", timeout=120)
        _, cost = billed(stub_calls()[first:])
        self.assertGreater(cost, 0)
        # Failure mode Open: the call went through; the authority has none of it yet.
        time.sleep(6)  # one status interval of the chart's operator
        self.assertEqual(spent(), before)
        reachable_again()
        self.assert_spend_settles_at(before + cost)

    def authority_out_of_reach(self):
        """Puts the authority out of reach of every pod: the node's FORWARD guard refuses pod
        connections to the operator's pods (its Service's endpoints). (A TCP reset sent from
        there does not reach the pod, whose connection is to the ClusterIP; the ICMP error
        does, and the connection is refused.) Returns the function that lifts it."""
        rules = [["-d", p["status"]["podIP"], "-p", "tcp", "-j", "REJECT", "--reject-with",
                  "icmp-port-unreachable"] for p in pods("operator")]
        for rule in rules:
            run(["iptables", "-I", GUARD_CHAIN, "1"] + rule)
            self.addCleanup(run, ["iptables", "-D", GUARD_CHAIN] + rule, check=False)

        def lift():
            for rule in rules:
                run(["iptables", "-D", GUARD_CHAIN] + rule)
        return lift

    def test_the_meter_outlives_the_agent_and_flushes_its_spool_while_terminating(self):
        # Claude Code calls and exits while the authority is out of reach; the kubelet then
        # stops the meter (SIGTERM to the native sidecar once the agent has ended), which
        # keeps resending its spool for --shutdown-flush-seconds. The authority comes back
        # during that time: the commits must reach it before the pod is gone.
        self.governed_runs()
        _, before = billed(stub_calls())
        self.assert_spend_settles_at(before)
        first = len(stub_calls())
        kubectl("create", "-f", "-", as_user=TENANT,
                stdin=json.dumps(agent_job("flushed", AGENT_THEN_EXIT)))
        self.addCleanup(kubectl, "delete", "job", "-n", NS, "flushed", "--wait=false",
                        as_user=TENANT)
        eventually(lambda: running("flushed"), "Job flushed running", timeout=120)
        reachable_again = self.authority_out_of_reach()
        pod = job_pod("flushed")["metadata"]["name"]

        def agent_gone_meter_stopping():
            status = get("pod", "-n", NS, pod)["status"]
            agent = status.get("containerStatuses", [{}])[0].get("state", {})
            meter = status.get("initContainerStatuses", [{}])[0].get("state", {})
            return "terminated" in agent and "running" in meter
        eventually(agent_gone_meter_stopping, "the agent of Job flushed ended, its meter still "
                   "running", timeout=120, interval=0.1)
        _, cost = billed(stub_calls()[first:])
        self.assertGreater(cost, 0)
        self.assertEqual(spent(), before)  # nothing of it reached the authority
        reachable_again()
        outcome = eventually(lambda: finished("flushed"), "Job flushed finishing", timeout=120)
        logs = kubectl("logs", "-n", NS, pod, "-c", "agent", check=False).stdout
        self.assertEqual(outcome, "Complete", logs)
        # The agent started once the meter's startup probe passed: its first connection to
        # the meter succeeded.
        self.assertIn("meter answering at agent start", logs)
        meter_logs = kubectl("logs", "-n", NS, pod, "-c", "agentbudget-meter",
                             check=False).stdout
        self.assertIn("meter stopped with its spool sent", meter_logs)
        status = get("pod", "-n", NS, pod)["status"]
        agent = status["containerStatuses"][0]["state"]["terminated"]
        meter = status["initContainerStatuses"][0]["state"]["terminated"]
        self.assertEqual(agent["exitCode"], 0, logs)
        self.assertGreaterEqual(meter["finishedAt"], agent["finishedAt"])
        self.assert_spend_settles_at(before + cost)

    def test_the_meter_is_a_native_sidecar_started_before_and_ended_after_the_agent(self):
        runs = self.governed_runs()
        for name in ("claude", "codex"):
            meter = runs[name]["meter"]
            self.assertIsNotNone(meter, "no native-sidecar meter in the %s pod" % name)
            self.assertIn("startupProbe", meter)
            status = get("pod", "-n", NS, runs[name]["pod"]["metadata"]["name"])["status"]
            meter_state = status["initContainerStatuses"][0]["state"]
            agent_state = status["containerStatuses"][0]["state"]
            agent_started = agent_state["terminated"]["startedAt"]
            agent_finished = agent_state["terminated"]["finishedAt"]
            meter_finished = meter_state["terminated"]["finishedAt"]
            meter_started = meter_state["terminated"]["startedAt"]
            self.assertLessEqual(meter_started, agent_started)
            self.assertGreaterEqual(meter_finished, agent_finished)

    def test_a_run_at_its_ceiling_gets_the_meters_denial_and_its_spend_stops(self):
        # Claude Code runs again and again in one run of workload `capped`
        # (perRun.maxRequests 2) until the meter denies a call.
        self.governed_runs()
        _, before = billed(stub_calls())
        self.assert_spend_settles_at(before)
        first = len(stub_calls())
        script = ('for i in 1 2 3 4 5 6; do claude -p "say hi" --model claude-haiku-4-5 '
                  '|| { echo "run stopped at attempt $i"; exit 0; }; done; exit 1')
        kubectl("create", "-f", "-", as_user=TENANT,
                stdin=json.dumps(agent_job("capped", script, app="capped-agent")))
        outcome = eventually(lambda: finished("capped"), "Job capped finishing", timeout=300)
        logs = kubectl("logs", "-n", NS, "job/capped", "-c", "agent", check=False).stdout
        self.assertEqual(outcome, "Complete", logs)
        self.assertRegex(logs, r"maxRequests \(%d\) reached" % CEILING)
        self.assertRegex(logs, r"run stopped at attempt \d")
        # The provider saw exactly the calls under the ceiling, and the authority billed
        # those and nothing after them.
        calls, cost = billed(stub_calls()[first:])
        self.assertEqual(len(calls), CEILING, calls)
        self.assert_spend_settles_at(before + cost)

    def test_a_deferrable_job_is_suspended_under_pressure_and_resumed_when_it_goes(self):
        kubectl("create", "-f", "-", stdin=pressure_budget("1000"))
        self.addCleanup(kubectl, "delete", "agentbudget", "rn-pressure", "--wait=false")
        kubectl("create", "-f", "-", as_user=TENANT,
                stdin=json.dumps(agent_job("nightly", SLEEPER, app="nightly-agent")))
        self.addCleanup(kubectl, "delete", "job", "-n", NS, "nightly", "--wait=false",
                        as_user=TENANT)
        eventually(lambda: running("nightly"), "the Deferrable Job nightly running", timeout=120)
        # A Standard run of the same workflow spends; then the limit is set to 1.5 times
        # that spend: two thirds used, past queueAt (50%), short of exhausted.
        first = len(stub_calls())
        kubectl("create", "-f", "-", as_user=TENANT,
                stdin=json.dumps(agent_job("spender", CLAUDE, app="spender-agent")))
        self.assertEqual(eventually(lambda: finished("spender"), "Job spender finishing",
                                    timeout=300), "Complete")
        _, cost = billed(stub_calls()[first:])
        self.assertGreater(cost, 0)
        eventually(lambda: spent("rn-pressure") == cost,
                   "budget rn-pressure recording the spender's %d micro-dollars" % cost,
                   timeout=120)
        kubectl("patch", "agentbudget", "rn-pressure", "--type=merge", "-p",
                json.dumps({"spec": {"limit": {"amount": amount(cost * 3 // 2)}}}))
        eventually(lambda: suspended("nightly") and not running("nightly"),
                   "the Deferrable Job suspended under pressure, its pod gone", timeout=120)
        queue = json.loads(get("job", "-n", NS, "nightly")["metadata"]["annotations"]
                           ["agentbudget.io/queue"])
        self.assertEqual(queue.get("reason"), "BudgetPressure", queue)
        # The pressure goes with a higher limit: the Job runs again.
        kubectl("patch", "agentbudget", "rn-pressure", "--type=merge", "-p",
                json.dumps({"spec": {"limit": {"amount": "1000"}}}))
        eventually(lambda: not suspended("nightly") and running("nightly"),
                   "the Deferrable Job resumed once the pressure went", timeout=120)

    def test_a_missing_image_fails_with_the_kubelets_event_naming_it(self):
        image = "agentbudget-e2e/not-built:0"
        kubectl("create", "-f", "-", as_user=TENANT,
                stdin=json.dumps(agent_job("missing-image", "true", image=image)))
        self.addCleanup(kubectl, "delete", "job", "-n", NS, "missing-image", "--wait=false",
                        as_user=TENANT)
        pod = job_pod("missing-image")

        def pull_failure():
            events = get("events", "-n", NS, "--field-selector",
                         "involvedObject.name=" + pod["metadata"]["name"])["items"]
            return [e["message"] for e in events if e["reason"] == "Failed"
                    and image in e["message"]]
        messages = eventually(pull_failure, "the kubelet's Failed event for " + image, timeout=60)
        self.assertRegex(messages[0], r'Failed to pull image "%s"' % image)


    def test_a_helm_upgrade_to_a_new_webhook_tag_rolls_with_no_failed_admission(self):
        # The webhook's image under a second tag in the node's containerd, and `helm
        # upgrade` to it: the Deployment rolls one replica at a time, the webhook
        # configurations are rendered again (their caBundle, which the chart leaves out,
        # must survive). Meanwhile the tenant keeps creating governed pods (server-side dry
        # run: admitted by both webhooks, stored nowhere).
        current = "%s/webhook:%s" % (IMAGE_REGISTRY, chart_version())
        tag = chart_version() + "-upgrade"
        run(["ctr", "--address", CONTAINERD_SOCK, "--namespace", "k8s.io", "images", "tag",
             "--force", current, "%s/webhook:%s" % (IMAGE_REGISTRY, tag)])
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "probe", "namespace": NS, "labels": {"app": "coding-agent"}},
               "spec": {"serviceAccountName": "agent", "restartPolicy": "Never",
                        "containers": [{"name": "agent", "image": ENV["agent_image"]}]}}
        old = {p["metadata"]["name"] for p in pods("webhook")}
        run([os.path.join(ENV["bin"], "helm"), "--kubeconfig", ENV["kubeconfig"], "upgrade",
             "agentbudget", os.path.join(ROOT, "charts", "agentbudget"), "--namespace",
             RELEASE_NS, "--reuse-values", "--set", "webhook.image.tag=" + tag], timeout=300)
        admitted, failures = 0, []
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            done = kubectl("create", "--dry-run=server", "-o", "json", "-f", "-", as_user=TENANT,
                           stdin=json.dumps(pod), check=False)
            if done.returncode != 0:
                failures.append(done.stderr)
            else:
                admitted += 1
                created = json.loads(done.stdout)
                self.assertTrue(any(c.get("restartPolicy") == "Always"
                                    for c in created["spec"].get("initContainers", [])))
            current_pods = pods("webhook")
            if (not old & {p["metadata"]["name"] for p in current_pods}
                    and len(current_pods) == 2 and all(is_ready(p) for p in current_pods)):
                break
        else:
            self.fail("the webhook rollout did not finish within 300 s")
        self.assertEqual(failures, [])
        self.assertGreater(admitted, 0)
        for p in current_pods:
            self.assertEqual(p["spec"]["containers"][0]["image"],
                             "%s/webhook:%s" % (IMAGE_REGISTRY, tag))
        self.assertTrue(ca_bundles_set())


class UninstallTest(unittest.TestCase):
    """Runs after RealNodeTest (unittest orders classes by name)."""

    def test_helm_uninstall_leaves_no_webhook_configuration_behind(self):
        run([os.path.join(ENV["bin"], "helm"), "--kubeconfig", ENV["kubeconfig"], "uninstall",
             "agentbudget", "--namespace", RELEASE_NS, "--wait", "--timeout", "120s"])
        for kind in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
            names = [c["metadata"]["name"] for c in get(kind)["items"]]
            self.assertNotIn("agentbudget", names)
        # Pod creation in a governed namespace is not blocked by a webhook that is gone.
        kubectl("run", "after-uninstall", "-n", NS, "--image=" + ENV["agent_image"],
                "--image-pull-policy=IfNotPresent", "--restart=Never", "--", "true",
                as_user=TENANT)


if __name__ == "__main__":
    unittest.main(verbosity=2)
