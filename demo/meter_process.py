"""One agent run's meter as a local process, configured as the webhook injected it.

In a cluster the meter is the pod's native sidecar; in the demo the pods are faked by kwok,
so the meter runs on this machine with the pod's own meter arguments and environment
(`$(VAR)` expanded as the kubelet does), and local stand-ins for what the pod provides: a
loopback port of its own, the file of a token bound to the pod, the spool directory.
"""
import atexit
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request


# Meters started and not stopped yet: a run cut off when the demo ends (a subagent's thread
# still calling when the process exits) must not leave its meter running on the machine.
_running = set()


@atexit.register
def _stop_left_meters():
    for proc in list(_running):
        proc.send_signal(signal.SIGTERM)
    for proc in list(_running):
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Meter:
    """The run's meter as a local process, configured exactly as the webhook injected it."""

    def __init__(self, binary, pod, token_file, ca_file, authority_url, workdir):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.records = os.path.join(workdir, "records-%d.jsonl" % self.port)
        self.offset = 0      # bytes of the records file already returned by new_records
        spool = os.path.join(workdir, "spool")
        os.makedirs(spool, exist_ok=True)
        meter = next(c for c in pod["spec"].get("initContainers", [])
                     if c["name"] == "agentbudget-meter")
        env = {}
        for var in meter.get("env", []):
            if "value" in var:
                env[var["name"]] = var["value"]
            elif var.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name":
                env[var["name"]] = pod["metadata"]["name"]
            elif var.get("valueFrom", {}).get("fieldRef"):
                env[var["name"]] = pod["metadata"]["namespace"]
        args = []
        for arg in meter.get("args", []):
            for name, value in env.items():
                arg = arg.replace("$(%s)" % name, value)
            args.append(arg)
        # Every pod has its own network namespace; here all meters share one, so each gets
        # free ports for what the pod spec binds.
        if any(arg.startswith("--health-listen=") for arg in args):
            args = [arg for arg in args if not arg.startswith("--health-listen=")]
            args.append("--health-listen=127.0.0.1:%d" % free_port())
        # Local stand-ins for what the pod would provide: its own loopback port, the
        # projected token's file, the spool volume; and the authority this demo runs.
        args += ["--listen=127.0.0.1:%d" % self.port, "--authority-token-file=" + token_file,
                 "--authority-url=" + authority_url, "--authority-ca-file=" + ca_file,
                 "--spool-dir=" + spool, "--records-file=" + self.records]
        self.log = open(os.path.join(workdir, "meter.log"), "a")
        self.proc = subprocess.Popen([binary] + args, stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        _running.add(self.proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the meter exited at start; see " + self.log.name)
            try:
                self.run_totals()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the meter did not start; see " + self.log.name)

    def run_totals(self):
        with urllib.request.urlopen(self.url + "/v1/run", timeout=5) as response:
            return json.load(response)

    def new_records(self):
        """The call records the meter wrote since the last call of this method."""
        try:
            with open(self.records, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        complete = data[:data.rfind(b"\n") + 1]
        self.offset += len(complete)
        return [json.loads(line) for line in complete.splitlines() if line.strip()]

    def recorded(self):
        """How many calls the meter has recorded so far."""
        try:
            with open(self.records, "rb") as f:
                return f.read().count(b"\n")
        except FileNotFoundError:
            return 0

    def drain_and_stop(self, calls, timeout=30):
        """Waits until the meter has recorded `calls` answered calls and the authority has
        acknowledged every commit, then stops it. (A stream's last bytes reach the agent
        before the meter records the call, so the count comes first.)"""
        totals = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                totals = self.run_totals()
                if self.recorded() >= calls and totals.get("pendingCommits", 0) == 0:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        _running.discard(self.proc)
        self.log.close()
        return totals
