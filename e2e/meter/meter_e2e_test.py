#!/usr/bin/env python3
"""End-to-end tests of agentbudget-meter with real clients against a stub provider.

Drives Claude Code (claude -p), Codex CLI (codex exec) and the official Python SDKs
(anthropic, openai) through the meter to e2e/meter/stub_provider.py, and checks that what
the meter metered equals the stub's usage exactly, that denials stop each client with the
meter's message (one attempt, no retries), and that a degraded call reaches the stub with
the fallback model (using a scripted budget authority speaking docs/authority-protocol.md).

Usage: meter_e2e_test.py PATH/TO/agentbudget-meter
The clients come from e2e/meter/setup-clients.sh.
"""
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
METER = None
CLIENTS = os.environ.get("AGENTBUDGET_METER_CLIENTS",
                         os.path.expanduser("~/.cache/agentbudget/meter-clients"))
NODE_BIN = os.path.join(CLIENTS, "node", "node_modules", ".bin")
VENV_PY = os.path.join(CLIENTS, "venv", "bin", "python")
REAL_KEY = "sk-real-provider-key"

# Prices (USD per million tokens) of the shipped rate card, and the stub's fixed usage.
# cost in micro-dollars = sum(tokens × price), rounded up.
HAIKU = {"input": 1, "cacheRead": 0.10, "cacheWrite5m": 1.25, "output": 5}
GPT5 = {"input": 1.25, "cacheRead": 0.125, "output": 10}
GPT54 = {"input": 2.50, "cacheRead": 0.25, "output": 15}
ANTHROPIC_USAGE = {"input": 11, "cacheRead": 100, "cacheWrite5m": 20, "cacheWrite1h": 0,
                   "output": 7, "reasoning": 0}
CHAT_USAGE = {"input": 40, "cacheRead": 10, "cacheWrite5m": 0, "cacheWrite1h": 0,
              "output": 9, "reasoning": 2}
RESPONSES_USAGE = {"input": 40, "cacheRead": 20, "cacheWrite5m": 0, "cacheWrite1h": 0,
                   "output": 12, "reasoning": 3}


def micro_cost(usage, prices):
    # Integer arithmetic: prices × 1e6 as integers.
    total = sum(usage[k] * round(prices.get(k, 0) * 1_000_000) for k in usage if k != "reasoning")
    micros = -(-total // 1_000_000)
    return micros


def decimal(micros):
    whole, frac = divmod(micros, 1_000_000)
    text = "%d.%06d" % (whole, frac)
    return text.rstrip("0").rstrip(".")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def http_ok(url):
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


class Stub:
    def __init__(self, workdir):
        self.record = os.path.join(workdir, "stub.jsonl")
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "stub_provider.py"),
                                      self.record], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        self.port = int(line.strip().split("=")[1])
        self.url = "http://127.0.0.1:%d" % self.port

    def calls(self):
        return read_lines(self.record)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Meter:
    def __init__(self, workdir, stub, name, *flags, env=None, key_files=True):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.records = os.path.join(workdir, name + "-records.jsonl")
        keys = []
        if key_files:
            key = os.path.join(workdir, "anthropic.key")
            with open(key, "w") as f:
                f.write(REAL_KEY + "\n")
            okey = os.path.join(workdir, "openai.key")
            with open(okey, "w") as f:
                f.write(REAL_KEY + "\n")
            keys = ["--anthropic-key-file", key, "--openai-key-file", okey]
        self.log = open(os.path.join(workdir, name + ".log"), "w")
        self.proc = subprocess.Popen(
            [METER, "--listen", "127.0.0.1:%d" % self.port, "--anthropic-upstream", stub.url,
             "--openai-upstream", stub.url] + keys +
            ["--records-file", self.records,
             "--spool-dir", os.path.join(workdir, name + "-spool"), "--run", name] + list(flags),
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        wait_until(lambda: http_ok(self.url + "/healthz"), what="meter start")

    def records_list(self):
        return read_lines(self.records)

    def metric(self, name, **labels):
        with urllib.request.urlopen(self.url + "/metrics", timeout=5) as r:
            text = r.read().decode()
        total = 0.0
        for line in text.splitlines():
            if not line.startswith(name + "{"):
                continue
            if all('%s="%s"' % (k, v) in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)
        self.log.close()


class AuthorityPki:
    """A CA and a serving certificate for 127.0.0.1 it signed, made with the openssl CLI."""

    def __init__(self, workdir):
        d = os.path.join(workdir, "authority-pki")
        os.makedirs(d, exist_ok=True)
        self.ca = os.path.join(d, "ca.crt")
        self.cert = os.path.join(d, "tls.crt")
        self.key = os.path.join(d, "tls.key")

        def openssl(*args):
            subprocess.run(["openssl"] + list(args), check=True, capture_output=True)

        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-days", "1", "-subj", "/CN=meter e2e authority CA",
                "-keyout", os.path.join(d, "ca.key"), "-out", self.ca)
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-subj", "/CN=authority", "-keyout", self.key, "-out", os.path.join(d, "tls.csr"))
        ext = os.path.join(d, "ext.cnf")
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        openssl("x509", "-req", "-in", os.path.join(d, "tls.csr"), "-CA", self.ca,
                "-CAkey", os.path.join(d, "ca.key"), "-CAcreateserial", "-days", "1",
                "-extfile", ext, "-out", self.cert)

    def ca_pem(self):
        with open(self.ca) as f:
            return f.read()


class ScriptedAuthority:
    """A budget authority over TLS that answers every reservation with `decision`, and
    GET /v1/credentials with `credentials` (403 when None)."""

    def __init__(self, pki, decision, model, reason, credentials=None):
        self.requests = []
        self.authorizations = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def answer(self, status, answer):
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                outer.requests.append((self.path, None))
                outer.authorizations.append(self.headers.get("authorization"))
                if self.path == "/v1/credentials" and credentials is not None:
                    self.answer(200, credentials)
                else:
                    self.answer(403, {"error": {"code": "permission_denied",
                                                "message": "keySource Secret"}})

            def single(self, path, body):
                """The answer to one request; each of a batch is recorded as its own."""
                outer.requests.append((path, body))
                if path == "/v1/reservations":
                    return {"id": "r-1", "decision": decision, "model": model,
                            "reason": reason, "expiresAt": "2026-11-27T23:00:00Z"}
                if path.endswith("/commit"):
                    return {"id": "r-1", "committed": True, "cost": body["cost"]}
                return {"id": "r-1", "released": True, "committed": True}

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                outer.authorizations.append(self.headers.get("authorization"))
                if self.path == "/v1/batch":
                    self.answer(200, {"answers": [
                        {"status": 200, "body": self.single(r["path"], r["body"])}
                        for r in body["requests"]]})
                else:
                    self.answer(200, self.single(self.path, body))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki.cert, pki.key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = "https://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def run_python(code, meter):
    env = dict(os.environ, METER=meter.url)
    return subprocess.run([VENV_PY, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)


def run_claude(meter, workdir, model="claude-haiku-4-5"):
    home = tempfile.mkdtemp(dir=workdir)
    env = dict(os.environ, HOME=home, ANTHROPIC_BASE_URL=meter.url + "/anthropic",
               ANTHROPIC_API_KEY="sk-ant-placeholder", DISABLE_AUTOUPDATER="1",
               CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", CLAUDE_CODE_MAX_RETRIES="0")
    return subprocess.run([os.path.join(NODE_BIN, "claude"), "-p", "say hi", "--model", model],
                          env=env, capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL, cwd=home)


def run_codex(meter, workdir, model="gpt-5.4"):
    home = tempfile.mkdtemp(dir=workdir)
    with open(os.path.join(home, "config.toml"), "w") as f:
        f.write('model = "%s"\nmodel_provider = "meter"\n[model_providers.meter]\n'
                'name = "agentbudget meter"\nbase_url = "%s/openai/v1"\n'
                'wire_api = "responses"\nenv_key = "METER_PLACEHOLDER_KEY"\n'
                'supports_websockets = false\nrequest_max_retries = 4\n'
                'stream_max_retries = 4\n' % (model, meter.url))
    env = dict(os.environ, CODEX_HOME=home, METER_PLACEHOLDER_KEY="placeholder")
    return subprocess.run([os.path.join(NODE_BIN, "codex"), "exec", "--skip-git-repo-check",
                           "say hi"], env=env, capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL, cwd=home)


ANTHROPIC_CALLS = """
import anthropic, os
c = anthropic.Anthropic(base_url=os.environ["METER"] + "/anthropic", api_key="placeholder")
m = c.messages.create(model="claude-haiku-4-5", max_tokens=64,
                      messages=[{"role": "user", "content": "hi"}])
print(m.content[0].text)
with c.messages.stream(model="claude-haiku-4-5", max_tokens=64,
                       messages=[{"role": "user", "content": "hi"}]) as s:
    print("".join(s.text_stream))
print(c.messages.count_tokens(model="claude-haiku-4-5",
                              messages=[{"role": "user", "content": "hi"}]).input_tokens)
"""

OPENAI_CALLS = """
import openai, os
o = openai.OpenAI(base_url=os.environ["METER"] + "/openai/v1", api_key="placeholder")
print(o.chat.completions.create(model="gpt-5", messages=[{"role": "user", "content": "hi"}])
      .choices[0].message.content)
chunks = list(o.chat.completions.create(model="gpt-5", stream=True,
                                        messages=[{"role": "user", "content": "hi"}]))
print("usage chunks seen by client:", sum(1 for c in chunks if c.usage is not None))
print(o.responses.create(model="gpt-5.4", input="hi").output_text)
events = [e.type for e in o.responses.create(model="gpt-5.4", input="hi", stream=True)]
print(events[-1])
"""


class MeterE2ETest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        missing = [p for p in (os.path.join(NODE_BIN, "claude"), os.path.join(NODE_BIN, "codex"),
                               VENV_PY) if not os.path.exists(p)]
        if missing:
            raise AssertionError("real clients missing (%s): run e2e/meter/setup-clients.sh"
                                 % ", ".join(missing))
        cls.workdir = tempfile.mkdtemp(prefix="meter-e2e-")
        cls.stub = Stub(cls.workdir)
        cls.pki = AuthorityPki(cls.workdir)

    @classmethod
    def tearDownClass(cls):
        cls.stub.stop()

    def setUp(self):
        self.meters = []

    def tearDown(self):
        for meter in self.meters:
            meter.stop()

    def meter(self, name, *flags, env=None, key_files=True):
        meter = Meter(self.workdir, self.stub, name, *flags, env=env, key_files=key_files)
        self.meters.append(meter)
        return meter

    def authority_env(self):
        """The authority's CA as the webhook injects it: PEM text in the environment."""
        return dict(os.environ, AGENTBUDGET_AUTHORITY_CA=self.pki.ca_pem())

    def new_stub_calls(self, before):
        return self.stub.calls()[before:]

    def assert_records_match_stub(self, records, stub_calls, expected_usage_for):
        self.assertEqual(len(records), len(stub_calls))
        for record, call in zip(records, stub_calls):
            usage, prices = expected_usage_for(record["api"])
            self.assertEqual(record["usage"], usage, record)
            self.assertEqual(record["cost"], decimal(micro_cost(usage, prices)), record)
            self.assertFalse(record["estimated"], record)
            self.assertEqual(call["model"], record["model"])

    def test_python_sdks_are_metered_exactly_streaming_and_not(self):
        meter = self.meter("sdk")
        before = len(self.stub.calls())
        out = run_python(ANTHROPIC_CALLS, meter)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("Hello from the stub provider.", out.stdout)
        self.assertIn("42", out.stdout)  # count_tokens passes through
        out = run_python(OPENAI_CALLS, meter)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("usage chunks seen by client: 0", out.stdout)
        self.assertIn("response.completed", out.stdout)
        calls = [c for c in self.new_stub_calls(before) if "count_tokens" not in c["path"]]
        records = meter.records_list()
        self.assertEqual([r["stream"] for r in records], [False, True] * 3)
        table = {"anthropic.messages": (ANTHROPIC_USAGE, HAIKU),
                 "openai.chat": (CHAT_USAGE, GPT5),
                 "openai.responses": (RESPONSES_USAGE, GPT54)}
        self.assert_records_match_stub(records, calls, lambda api: table[api])
        # Forced include_usage upstream, stripped for the client that did not ask.
        self.assertEqual(calls[3]["stream_options"], {"include_usage": True})
        # Key custody: the stub saw the real key only.
        for call in calls:
            self.assertIn(REAL_KEY, (call["x-api-key"] or "") + (call["authorization"] or ""))
            self.assertNotIn("placeholder", json.dumps(call))
        total = sum(micro_cost(u, p) for u, p in [table[r["api"]] for r in records])
        with urllib.request.urlopen(meter.url + "/v1/run") as r:
            run = json.load(r)
        self.assertEqual(run["spent"], decimal(total))

    def test_claude_code_is_metered_exactly(self):
        meter = self.meter("claude")
        before = len(self.stub.calls())
        out = run_claude(meter, self.workdir)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("Hello from the stub provider.", out.stdout)
        calls = [c for c in self.new_stub_calls(before) if c["path"].startswith("/v1/messages?")]
        self.assertGreaterEqual(len(calls), 1)
        self.assertTrue(all(c["stream"] for c in calls))
        self.assertTrue(all(c["x-api-key"] == REAL_KEY for c in calls))
        self.assertTrue(all(c["anthropic-version"] == "2023-06-01" for c in calls))
        self.assert_records_match_stub(meter.records_list(), calls,
                                       lambda api: (ANTHROPIC_USAGE, HAIKU))

    def test_codex_is_metered_exactly(self):
        meter = self.meter("codex")
        before = len(self.stub.calls())
        out = run_codex(meter, self.workdir)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("Hello from the stub provider.", out.stdout)
        calls = self.new_stub_calls(before)
        self.assertGreaterEqual(len(calls), 1)
        self.assertTrue(all(c["authorization"] == "Bearer " + REAL_KEY for c in calls))
        self.assert_records_match_stub(meter.records_list(), calls,
                                       lambda api: (RESPONSES_USAGE, GPT54))

    def test_a_denial_stops_every_client_with_the_meters_message_without_retrying(self):
        meter = self.meter("deny", "--max-requests", "0")
        before = len(self.stub.calls())
        message = re.compile(r"maxRequests \(0\) reached")
        out = run_python("""
import anthropic, os, sys
c = anthropic.Anthropic(base_url=os.environ["METER"] + "/anthropic", api_key="placeholder")
try:
    c.messages.create(model="claude-haiku-4-5", max_tokens=64,
                      messages=[{"role": "user", "content": "hi"}])
except anthropic.APIStatusError as e:
    print(type(e).__name__, e.message); sys.exit(3)
""", meter)
        self.assertEqual(out.returncode, 3, out.stderr)
        self.assertRegex(out.stdout, message)
        out = run_python("""
import openai, os, sys
o = openai.OpenAI(base_url=os.environ["METER"] + "/openai/v1", api_key="placeholder")
try:
    o.responses.create(model="gpt-5.4", input="hi")
except openai.APIStatusError as e:
    print(type(e).__name__, e.message); sys.exit(3)
""", meter)
        self.assertEqual(out.returncode, 3, out.stderr)
        self.assertRegex(out.stdout, message)
        claude = run_claude(meter, self.workdir)
        self.assertNotEqual(claude.returncode, 0)
        self.assertRegex(claude.stdout + claude.stderr, message)
        codex = run_codex(meter, self.workdir)
        self.assertNotEqual(codex.returncode, 0)
        self.assertRegex(codex.stdout + codex.stderr, message)
        # Nothing reached the provider, and each client tried exactly once.
        self.assertEqual(self.new_stub_calls(before), [])
        self.assertEqual(meter.metric("agentbudget_meter_decisions_total", decision="deny"), 4)

    def test_a_degraded_call_reaches_the_provider_with_the_fallback_model(self):
        authority = ScriptedAuthority(self.pki, "degrade", "claude-haiku-4-5",
                                      "budget team-payments at 82% (degradeAt 80%)")
        try:
            meter = self.meter("degrade", "--authority-url", authority.url,
                               env=self.authority_env())
            before = len(self.stub.calls())
            out = run_python("""
import anthropic, os
c = anthropic.Anthropic(base_url=os.environ["METER"] + "/anthropic", api_key="placeholder")
print(c.messages.create(model="claude-sonnet-4-5", max_tokens=64,
                        messages=[{"role": "user", "content": "hi"}]).model)
""", meter)
            self.assertEqual(out.returncode, 0, out.stderr)
            claude = run_claude(meter, self.workdir, model="claude-sonnet-4-5")
            self.assertEqual(claude.returncode, 0, claude.stdout + claude.stderr)
            calls = self.new_stub_calls(before)
            self.assertGreaterEqual(len(calls), 2)
            self.assertTrue(all(c["model"] == "claude-haiku-4-5" for c in calls), calls)
            records = meter.records_list()
            self.assertTrue(all(r["degraded"] and r["requestedModel"] == "claude-sonnet-4-5"
                                for r in records))
            # Every call was committed to the authority, priced at the fallback's rates.
            wait_until(lambda: sum(1 for p, _ in authority.requests if p.endswith("/commit"))
                       == len(calls), what="commits")
            for path, body in authority.requests:
                if path.endswith("/commit") and body is not None:
                    self.assertEqual(body["model"], "claude-haiku-4-5")
                    self.assertEqual(body["cost"], decimal(micro_cost(ANTHROPIC_USAGE, HAIKU)))
        finally:
            authority.stop()

    def test_cut_and_failed_streams_are_still_charged_and_marked_estimated(self):
        meter = self.meter("cut")
        out = run_python("""
import anthropic, openai, os
c = anthropic.Anthropic(base_url=os.environ["METER"] + "/anthropic", api_key="placeholder",
                        max_retries=0)
for model in ("stub-error-midstream", "stub-cut"):
    try:
        with c.messages.stream(model=model, max_tokens=64,
                               messages=[{"role": "user", "content": "hi"}]) as s:
            for _ in s.text_stream:
                pass
        print(model, "completed")
    except Exception as e:
        print(model, "failed:", type(e).__name__)
o = openai.OpenAI(base_url=os.environ["METER"] + "/openai/v1", api_key="placeholder",
                  max_retries=0)
try:
    list(o.chat.completions.create(model="stub-cut", stream=True,
                                   messages=[{"role": "user", "content": "hi"}]))
    print("chat completed")
except Exception as e:
    print("chat failed:", type(e).__name__)
try:
    list(o.responses.create(model="stub-cut", stream=True, input="hi"))
    print("responses completed")
except Exception as e:
    print("responses failed:", type(e).__name__)
""", meter)
        self.assertEqual(out.returncode, 0, out.stderr)
        # A stream cut upstream reaches each SDK as a failure, never as a complete answer.
        for call in ("stub-error-midstream", "stub-cut", "chat", "responses"):
            self.assertIn(call + " failed", out.stdout)
        self.assertNotIn("completed", out.stdout)
        records = meter.records_list()
        self.assertEqual(len(records), 4, records)
        for record in records:
            self.assertTrue(record["estimated"], record)
            self.assertFalse(record["knownModel"], record)
            self.assertGreater(record["usage"]["output"], 0, record)
        # Anthropic reported its input side in message_start: that part is exact.
        for record in records[:2]:
            self.assertEqual(record["usage"]["input"], 11)
            self.assertEqual(record["usage"]["cacheRead"], 100)
        self.assertEqual(meter.metric("agentbudget_meter_estimated_usage_total"), 4)
        self.assertEqual(meter.metric("agentbudget_meter_unknown_model_requests_total"), 4)
        # The meter is still healthy.
        self.assertTrue(http_ok(meter.url + "/healthz"))

    def test_a_stream_cut_upstream_fails_claude_code_and_codex(self):
        meter = self.meter("cli-cut")
        claude = run_claude(meter, self.workdir, model="stub-cut")
        self.assertEqual(claude.returncode, 0, claude.stdout + claude.stderr)
        # Claude Code sees the stream fail and falls back to one non-streaming call (which
        # the stub answers whole). Both CLIs also notice a stream that ends without its last
        # event, so this holds whether the meter aborts the connection or ends it cleanly;
        # the SDK test above is the one that needs the abort.
        calls = [(r["stream"], r["estimated"]) for r in meter.records_list()]
        self.assertEqual(calls, [(True, True), (False, False)])
        codex = run_codex(meter, self.workdir, model="stub-cut")
        # Codex retries the stream (stream_max_retries = 4), then fails the run.
        self.assertNotEqual(codex.returncode, 0, codex.stdout + codex.stderr)
        self.assertIn("stream disconnected before completion", codex.stderr)
        streams = [r for r in meter.records_list() if r["api"] == "openai.responses"]
        self.assertEqual(len(streams), 5, streams)
        for record in streams:
            self.assertTrue(record["stream"] and record["estimated"], record)

    def test_the_meter_takes_the_webhooks_environment_and_serves_probes_apart(self):
        # The variables webhook/mutation.cc injects (docs/webhook.md), on top of the
        # harness's flags for the stub and keys; the probe port listens on every address.
        health = free_port()
        env = dict(os.environ,
                   AGENTBUDGET_NAMESPACE="team-payments", AGENTBUDGET_POD_NAME="agent-0",
                   AGENTBUDGET_WORKLOAD="refactor", AGENTBUDGET_PARENT_RUN="parent-1",
                   AGENTBUDGET_HEALTH_LISTEN="0.0.0.0:%d" % health,
                   AGENTBUDGET_FAILURE_MODE="Open", AGENTBUDGET_MAX_COST="5",
                   AGENTBUDGET_MAX_TOKENS="100000", AGENTBUDGET_MAX_REQUESTS="2",
                   AGENTBUDGET_MAX_IDENTICAL_REQUESTS="3",
                   AGENTBUDGET_MODELS_ALLOWED="claude-sonnet-4-5",
                   AGENTBUDGET_MODELS_FALLBACK="claude-haiku-4-5")
        meter = self.meter("env", env=env)
        probe = "http://127.0.0.1:%d" % health
        self.assertTrue(http_ok(probe + "/healthz"))
        self.assertTrue(http_ok(probe + "/readyz"))
        self.assertFalse(http_ok(probe + "/v1/run"))
        before = len(self.stub.calls())
        out = run_python("""
import anthropic, os
c = anthropic.Anthropic(base_url=os.environ["METER"] + "/anthropic", api_key="placeholder")
print(c.messages.create(model="claude-haiku-4-5", max_tokens=64,
                        messages=[{"role": "user", "content": "hi"}]).content[0].text)
try:
    c.messages.create(model="claude-opus-4-1", max_tokens=64,
                      messages=[{"role": "user", "content": "hi"}])
except anthropic.BadRequestError as e:
    print(e.message)
""", meter)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("Hello from the stub provider.", out.stdout)
        self.assertIn('model "claude-opus-4-1" is not allowed for this workload', out.stdout)
        self.assertEqual(len(self.new_stub_calls(before)), 1)
        with urllib.request.urlopen(meter.url + "/v1/run") as r:
            run = json.load(r)
        self.assertEqual(run["limits"], {"maxCost": "5", "maxTokens": 100000, "maxRequests": 2,
                                         "maxIdenticalRequests": 3})
        self.assertEqual(run["requests"], 1)
        with urllib.request.urlopen(probe + "/metrics") as r:
            self.assertIn("agentbudget_meter_calls_total", r.read().decode())


    def test_a_per_request_ceiling_denies_or_clamps_an_oversized_output_cap(self):
        # perRequest.maxTokens 4000: the default onExceed (Deny) refuses max_tokens 16000
        # once, naming the rule; Clamp lowers it (and gives a capless OpenAI call a cap).
        deny = self.meter("request-deny", "--request-max-tokens", "4000")
        before = len(self.stub.calls())
        out = run_python("""
import anthropic, os, sys
c = anthropic.Anthropic(base_url=os.environ["METER"] + "/anthropic", api_key="placeholder")
try:
    c.messages.create(model="claude-haiku-4-5", max_tokens=16000,
                      messages=[{"role": "user", "content": "hi"}])
except anthropic.BadRequestError as e:
    print(e.message); sys.exit(3)
""", deny)
        self.assertEqual(out.returncode, 3, out.stdout + out.stderr)
        self.assertIn("max_tokens 16000 asks for more than perRequest.maxTokens 4000 allows",
                      out.stdout)
        self.assertEqual(self.new_stub_calls(before), [])
        clamp = self.meter("request-clamp", "--request-max-tokens", "4000",
                           "--request-on-exceed", "Clamp")
        out = run_python("""
import anthropic, openai, os
c = anthropic.Anthropic(base_url=os.environ["METER"] + "/anthropic", api_key="placeholder")
print(c.messages.create(model="claude-haiku-4-5", max_tokens=16000,
                        messages=[{"role": "user", "content": "hi"}]).content[0].text)
o = openai.OpenAI(base_url=os.environ["METER"] + "/openai/v1", api_key="placeholder")
print(o.chat.completions.create(model="gpt-5", messages=[{"role": "user", "content": "hi"}])
      .choices[0].message.content)
""", clamp)
        self.assertEqual(out.returncode, 0, out.stderr)
        calls = self.new_stub_calls(before)
        self.assertEqual(len(calls), 2, calls)
        self.assertTrue(3900 < calls[0]["max_tokens"] < 4000, calls[0])
        self.assertTrue(3900 < calls[1]["max_completion_tokens"] < 4000, calls[1])

    def test_with_key_source_authority_the_keys_come_from_the_authority_over_tls(self):
        token = os.path.join(self.workdir, "pod-token")
        with open(token, "w") as f:
            f.write("bound-pod-token\n")
        authority = ScriptedAuthority(self.pki, "allow", "", "",
                                      credentials={"anthropicApiKey": REAL_KEY,
                                                   "openaiApiKey": REAL_KEY})
        try:
            env = dict(self.authority_env(), AGENTBUDGET_KEY_SOURCE="authority")
            meter = self.meter("authority-keys", "--authority-url", authority.url,
                               "--authority-token-file", token, env=env, key_files=False)
            before = len(self.stub.calls())
            out = run_python(ANTHROPIC_CALLS, meter)
            self.assertEqual(out.returncode, 0, out.stderr)
            out = run_python(OPENAI_CALLS, meter)
            self.assertEqual(out.returncode, 0, out.stderr)
            calls = self.new_stub_calls(before)
            self.assertGreaterEqual(len(calls), 7)
            for call in calls:
                self.assertIn(REAL_KEY, (call["x-api-key"] or "") + (call["authorization"] or ""))
                self.assertNotIn("placeholder", json.dumps(call))
            # Fetched once, at start, with the pod's token; never written to the meter's log.
            gets = [p for p, body in authority.requests if body is None]
            self.assertEqual(gets, ["/v1/credentials"])
            self.assertTrue(all(a == "Bearer bound-pod-token" for a in authority.authorizations))
            with open(os.path.join(self.workdir, "authority-keys.log")) as f:
                self.assertNotIn(REAL_KEY, f.read())
        finally:
            authority.stop()

    def test_a_meter_refuses_an_authority_it_does_not_trust(self):
        authority = ScriptedAuthority(self.pki, "deny", "", "never reached")
        try:
            meter = self.meter("untrusted", "--authority-url", authority.url,
                               "--failure-mode", "Closed")
            out = run_python("""
import anthropic, os, sys
c = anthropic.Anthropic(base_url=os.environ["METER"] + "/anthropic", api_key="placeholder",
                        max_retries=0)
try:
    c.messages.create(model="claude-haiku-4-5", max_tokens=64,
                      messages=[{"role": "user", "content": "hi"}])
except anthropic.APIStatusError as e:
    print(type(e).__name__, e.message); sys.exit(3)
""", meter)
            self.assertEqual(out.returncode, 3, out.stdout + out.stderr)
            self.assertEqual(authority.requests, [])
        finally:
            authority.stop()


if __name__ == "__main__":
    METER = sys.argv.pop(1)
    unittest.main(verbosity=2)
