"""A small Kubernetes API client for the demo's fleet simulator and report (stdlib only).

Credentials come from a kubeconfig as `kubectl config view --raw --minify -o json` prints
it: the server URL, its CA and a client certificate (the local control plane's admin
identity). `as_user` gives a client that acts as another user through impersonation (the
`Impersonate-User` header, as `kubectl --as`), e.g. the CI system's identity. Each call
opens a TLS connection of its own, so one client may be shared by threads. Errors raise
KubeError with the API server's status and message.
"""
import base64
import copy
import http.client
import json
import os
import ssl
import subprocess
import tempfile
import urllib.parse


class KubeError(Exception):
    def __init__(self, status, message):
        super().__init__("%s: %s" % (status, message))
        self.status = status
        self.message = message


def _material(entry, key, tmpdir):
    """The path of a PEM file given in a kubeconfig entry as KEY or KEY-data."""
    if entry.get(key):
        return entry[key]
    data = entry.get(key + "-data")
    if not data:
        return None
    path = os.path.join(tmpdir, key)
    with open(path, "wb") as f:
        f.write(base64.b64decode(data))
    return path


class Kube:
    def __init__(self, kubeconfig, kubectl="kubectl"):
        raw = subprocess.run([kubectl, "--kubeconfig", kubeconfig, "config", "view", "--raw",
                              "--minify", "-o", "json"], check=True, capture_output=True,
                             text=True).stdout
        config = json.loads(raw)
        cluster = config["clusters"][0]["cluster"]
        user = config["users"][0]["user"]
        self._tmp = tempfile.TemporaryDirectory(prefix="agentbudget-demo-kube-")
        url = urllib.parse.urlparse(cluster["server"])
        self.host, self.port = url.hostname, url.port or 443
        self.context = ssl.create_default_context(
            cafile=_material(cluster, "certificate-authority", self._tmp.name))
        cert = _material(user, "client-certificate", self._tmp.name)
        if cert:
            self.context.load_cert_chain(cert, _material(user, "client-key", self._tmp.name))
        self.token = user.get("token")
        self.impersonate = None

    def as_user(self, username):
        """A client for the same server that acts as USERNAME (with the groups the API
        server gives every authenticated user). The caller needs the impersonate verb."""
        other = copy.copy(self)
        other.impersonate = username
        return other

    def request(self, method, path, body=None, content_type="application/json", timeout=30):
        connection = http.client.HTTPSConnection(self.host, self.port, context=self.context,
                                                 timeout=timeout)
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        if self.impersonate:
            headers["Impersonate-User"] = self.impersonate
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            text = response.read().decode()
        finally:
            connection.close()
        if response.status >= 300:
            try:
                message = json.loads(text).get("message", text)
            except ValueError:
                message = text
            raise KubeError(response.status, message)
        return json.loads(text) if text else {}

    def get(self, path):
        return self.request("GET", path)

    def create(self, path, body):
        return self.request("POST", path, body)

    def merge_patch(self, path, body):
        return self.request("PATCH", path, body, "application/merge-patch+json")

    def try_get(self, path):
        """The object, or None when it does not exist."""
        try:
            return self.get(path)
        except KubeError as error:
            if error.status == 404:
                return None
            raise

    def pod_token(self, namespace, service_account, pod, audience, seconds=3600):
        """A projected ServiceAccount token bound to POD (as the kubelet mounts one)."""
        review = self.create(
            "/api/v1/namespaces/%s/serviceaccounts/%s/token" % (namespace, service_account),
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
             "spec": {"audiences": [audience], "expirationSeconds": seconds,
                      "boundObjectRef": {"apiVersion": "v1", "kind": "Pod",
                                         "name": pod["metadata"]["name"],
                                         "uid": pod["metadata"]["uid"]}}})
        return review["status"]["token"]
