"""The governed cluster the adversarial suite attacks, and the clients its attempts use.

`GovernedCluster.start()` starts a local control plane of its own (e2e/cluster/up.sh), this
build's operator and webhook as local processes serving TLS (as scripts/demo runs them),
then installs the CRDs, the webhook configurations of deploy/webhook/webhooks-local.yaml,
the chart's agentbudget-spend-viewer role and the objects of fixtures.yaml, and waits until
the webhook governs both team namespaces. `stop()` stops the processes it started and the
cluster.

Clients: `kubectl(...)` as the admin or, with `as_user`, as an impersonated user (the
user's own RBAC applies; the API server adds the group system:authenticated);
`authority(...)` for the budget authority (HTTPS, a bearer token); `ops(...)` for the
operator's ops port (/metrics, /v1/focus). Every wait polls with a deadline.
"""
import base64
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.parse

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.dirname(os.path.abspath(__file__))
INSTALL_NAMESPACE = "agentbudget-system"
# Locally the operator and kube-controller-manager (so every built-in controller) run as
# the admin identity of e2e/cluster/up.sh.
ADMIN = "agentbudget-admin"
# The identity the suite's CI system uses: the webhook's trusted creator.
CI_USER = "ci-bot"
METER = "agentbudget-meter"


class Outcome:
    """What a command did: its exit code and output."""

    def __init__(self, code, stdout, stderr):
        self.code, self.stdout, self.stderr = code, stdout, stderr

    @property
    def ok(self):
        return self.code == 0

    def json(self):
        return json.loads(self.stdout)

    def __str__(self):
        return "exit %d: %s%s" % (self.code, self.stdout[-2000:], self.stderr[-2000:])


def eventually(check, what, timeout=60, interval=0.25):
    """Polls `check` until it returns something truthy, and returns it; fails naming
    `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("%s did not happen within %d s" % (what, timeout))
        time.sleep(interval)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(argv, stdin=None, timeout=120):
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout)
    return Outcome(done.returncode, done.stdout, done.stderr)


class GovernedCluster:
    def __init__(self, operator_bin, webhook_bin, name="security"):
        self.operator_bin, self.webhook_bin, self.name = operator_bin, webhook_bin, name
        root = os.environ.get("AGENTBUDGET_STATE") or os.path.join(
            os.environ.get("TMPDIR", "/tmp"), "agentbudget")
        self.state = os.path.join(root, "security", name)
        self.processes = {}
        self.tools = self.kubeconfig = None

    # ----- lifecycle -----------------------------------------------------------------

    def start(self):
        os.makedirs(os.path.join(self.state, "logs"), exist_ok=True)
        os.makedirs(os.path.join(self.state, "pki"), exist_ok=True)
        tools = run([os.path.join(ROOT, "e2e", "cluster", "build-tools.sh")], timeout=3600)
        if not tools.ok:
            raise RuntimeError("build-tools.sh failed: %s" % tools)
        self.tools = tools.stdout.strip().splitlines()[-1]
        up = run([os.path.join(ROOT, "e2e", "cluster", "up.sh"), self.name, "--replace"],
                 timeout=600)
        if not up.ok:
            raise RuntimeError("up.sh failed: %s" % up)
        self.kubeconfig = up.stdout.strip().splitlines()[-1].split("=", 1)[1]
        self._issue_certificates()
        self._install_crds()
        self._start_operator()
        self._start_webhook()
        self._install_objects()

    def stop(self):
        for name, process in self.processes.items():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.processes.clear()
        run([os.path.join(ROOT, "e2e", "cluster", "down.sh"), self.name])

    def log(self, name):
        try:
            with open(os.path.join(self.state, "logs", name + ".log")) as f:
                return f.read()[-6000:]
        except OSError:
            return ""

    def _issue_certificates(self):
        """One CA; one serving certificate for 127.0.0.1 (webhook and authority)."""
        pki = os.path.join(self.state, "pki")
        self.ca_file = os.path.join(pki, "ca.crt")
        self.cert_file = os.path.join(pki, "tls.crt")
        self.key_file = os.path.join(pki, "tls.key")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        steps = [
            ["openssl", "req", "-x509"] + ec + ["-days", "2", "-subj",
                                              "/CN=agentbudget security CA",
                                              "-keyout", os.path.join(pki, "ca.key"),
                                              "-out", self.ca_file],
            ["openssl", "req"] + ec + ["-subj", "/CN=agentbudget", "-keyout", self.key_file,
                                      "-out", os.path.join(pki, "tls.csr")],
        ]
        for step in steps:
            done = run(step)
            if not done.ok:
                raise RuntimeError("openssl failed: %s" % done)
        extensions = os.path.join(pki, "tls.ext")
        with open(extensions, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
        done = run(["openssl", "x509", "-req", "-in", os.path.join(pki, "tls.csr"), "-CA",
                    self.ca_file, "-CAkey", os.path.join(pki, "ca.key"), "-CAcreateserial",
                    "-days", "2", "-extfile", extensions, "-out", self.cert_file])
        if not done.ok:
            raise RuntimeError("openssl failed: %s" % done)
        self.tls = ssl.create_default_context(cafile=self.ca_file)

    def _spawn(self, name, argv):
        log = open(os.path.join(self.state, "logs", name + ".log"), "w")
        self.processes[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL,
                                                start_new_session=True)
        log.close()

    def _await_ready(self, name, url, context=None):
        def ready():
            if self.processes[name].poll() is not None:
                raise RuntimeError("%s exited at start:\n%s" % (name, self.log(name)))
            try:
                return self._request("GET", url, context=context)[0] == 200
            except OSError:
                return False
        eventually(ready, "%s becoming ready" % name, timeout=120)

    def _start_operator(self):
        authority_port, ops_port = free_port(), free_port()
        self.authority_url = "https://127.0.0.1:%d" % authority_port
        self.ops_url = "http://127.0.0.1:%d" % ops_port
        self._spawn("operator", [
            self.operator_bin, "--kubeconfig=" + self.kubeconfig,
            "--namespace=" + INSTALL_NAMESPACE, "--listen=127.0.0.1:%d" % authority_port,
            "--tls-cert=" + self.cert_file, "--tls-key=" + self.key_file,
            "--ops-listen=127.0.0.1:%d" % ops_port, "--status-ms=500",
            "--group-commit-ms=50"])
        self._await_ready("operator", self.ops_url + "/readyz")

    def _start_webhook(self):
        port = free_port()
        self.webhook_url = "https://127.0.0.1:%d" % port
        self._spawn("webhook", [
            self.webhook_bin, "--listen-address=127.0.0.1", "--port=%d" % port,
            "--tls-cert-file=" + self.cert_file, "--tls-key-file=" + self.key_file,
            "--kubeconfig=" + self.kubeconfig, "--authority-url=" + self.authority_url,
            "--meter-image=ghcr.io/agentbudget/meter:0.1.0", "--authority-ca-file=" + self.ca_file,
            "--operator-users=" + ADMIN, "--job-controller-users=" + ADMIN,
            "--trusted-creators=" + CI_USER])
        self._await_ready("webhook", self.webhook_url + "/readyz", self.tls)

    def webhook_configurations(self):
        """deploy/webhook/webhooks-local.yaml pointed at this suite's webhook."""
        with open(os.path.join(ROOT, "deploy", "webhook", "webhooks-local.yaml")) as f:
            text = f.read()
        with open(self.ca_file, "rb") as f:
            bundle = base64.b64encode(f.read()).decode()
        for placeholder, value in (("@MUTATE_URL@", self.webhook_url + "/mutate"),
                                   ("@VALIDATE_URL@", self.webhook_url + "/validate"),
                                   ("@CA_BUNDLE@", bundle),
                                   ("@INSTALL_NAMESPACE@", INSTALL_NAMESPACE)):
            text = text.replace(placeholder, value)
        return text

    def _install_steps(self, steps):
        for what, args, stdin in steps:
            done = self.kubectl(*args, stdin=stdin)
            if not done.ok:
                raise RuntimeError("cannot install %s: %s" % (what, done))

    def _install_crds(self):
        """What the operator needs to start: the CRDs and its namespace."""
        self._install_steps([
            ("the CRDs", ["apply", "-f", os.path.join(ROOT, "crds")], None),
            ("the CRDs established", ["wait", "--for=condition=Established",
                                      "crd/agentbudgets.agentbudget.io",
                                      "crd/agentworkloads.agentbudget.io", "--timeout=60s"], None),
            ("the install namespace", ["create", "namespace", INSTALL_NAMESPACE], None)])

    def _install_objects(self):
        self._install_steps([
            ("the webhook configurations", ["apply", "-f", "-"], self.webhook_configurations()),
            ("the spend-viewer role", ["apply", "-f", "-"], self._chart_template(
                "templates/rbac-spend-viewer.yaml"))])
        # The validating webhook refuses AgentWorkloads until its caches have synced.
        eventually(lambda: self.kubectl("apply", "-f", os.path.join(HERE, "fixtures.yaml")).ok,
                   "applying fixtures.yaml", timeout=60)
        for ns in ("team-a", "team-b"):
            eventually(lambda: self._governs(ns), "the webhook governing " + ns)
        eventually(lambda: self.may("system:serviceaccount:team-b:reporter", "get", "spend",
                                    "team-b", group="agentbudget.io"),
                   "agentbudget-spend-viewer aggregated into view")

    def _chart_template(self, template):
        done = run([os.path.join(self.tools, "helm"), "template", "agentbudget",
                    os.path.join(ROOT, "charts", "agentbudget"), "--namespace",
                    INSTALL_NAMESPACE, "--show-only", template])
        if not done.ok:
            raise RuntimeError("helm template failed: %s" % done)
        return done.stdout

    def _governs(self, ns):
        probe = {"apiVersion": "v1", "kind": "Pod",
                 "metadata": {"name": "probe", "namespace": ns,
                              "labels": {"app": "coding-agent"}},
                 "spec": {"containers": [{"name": "agent", "image": "agent:1"}]}}
        done = self.kubectl("create", "--dry-run=server", "-o", "json", "-f", "-",
                            stdin=json.dumps(probe))
        return done.ok and any(c["name"] == METER
                               for c in done.json()["spec"].get("initContainers", []))

    # ----- Kubernetes ----------------------------------------------------------------

    def kubectl(self, *args, as_user=None, stdin=None):
        argv = [os.path.join(self.tools, "kubectl"), "--kubeconfig", self.kubeconfig]
        if as_user:
            argv.append("--as=" + as_user)
        return run(argv + list(args), stdin=stdin)

    def create(self, obj, as_user=None):
        """Creates `obj` (a dict); the Outcome, whose json() is the stored object."""
        return self.kubectl("create", "-o", "json", "-f", "-", as_user=as_user,
                            stdin=json.dumps(obj))

    def get(self, kind, name, ns=None):
        """The object as the API server has it now, or None when it does not exist."""
        args = ["get", kind, name, "-o", "json"] + (["-n", ns] if ns else [])
        done = self.kubectl(*args)
        if not done.ok:
            if "NotFound" in done.stderr:
                return None
            raise AssertionError("kubectl get %s %s: %s" % (kind, name, done))
        return done.json()

    def items(self, kind, ns, selector=None):
        args = ["get", kind, "-n", ns, "-o", "json"] + (["-l", selector] if selector else [])
        done = self.kubectl(*args)
        if not done.ok:
            raise AssertionError("kubectl get %s: %s" % (kind, done))
        return done.json()["items"]

    def may(self, user, verb, resource, ns, group=""):
        """A SubjectAccessReview: whether `user` may `verb` `resource` in `ns`."""
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                  "spec": {"user": user, "groups": ["system:authenticated"],
                           "resourceAttributes": {"group": group, "resource": resource,
                                                  "verb": verb, "namespace": ns}}}
        done = self.create(review)
        return done.ok and done.json()["status"].get("allowed", False)

    def token(self, ns, service_account, pod=None, audience="agentbudget", as_user=None):
        """A token from the TokenRequest API, bound to `pod` (a stored object) when given.
        The Outcome; its stdout is the token."""
        args = ["create", "token", service_account, "-n", ns, "--duration=1h"]
        if audience:
            args.append("--audience=" + audience)
        if pod:
            args += ["--bound-object-kind=Pod", "--bound-object-name=" + pod["metadata"]["name"],
                     "--bound-object-uid=" + pod["metadata"]["uid"]]
        return self.kubectl(*args, as_user=as_user)

    # ----- HTTP ----------------------------------------------------------------------

    def _request(self, method, url, token=None, body=None, context=None):
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme == "https":
            connection = http.client.HTTPSConnection(parsed.hostname, parsed.port, timeout=30,
                                                     context=context or self.tls)
        else:
            connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            path = parsed.path + ("?" + parsed.query if parsed.query else "")
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            return response.status, response.read().decode()
        finally:
            connection.close()

    def authority(self, method, path, token, body=None):
        """A call to the budget authority: (status, body parsed as JSON, or {})."""
        status, text = self._request(method, self.authority_url + path, token, body)
        try:
            return status, json.loads(text) if text else {}
        except ValueError:
            return status, {"text": text}

    def ops(self, path, token=None):
        """A GET on the operator's ops port: (status, body text)."""
        return self._request("GET", self.ops_url + path, token)
