#!/usr/bin/env python3
"""The real-node suite on a host that cannot run it fails at once naming what is missing.

Without root, the suite (realnode_e2e_test.py) fails before building or starting anything
with `this host cannot run the real-node suite` and the lines of node-up.sh --check and
images.sh --check that name root; without cgroups, node-up.sh --check names them. Run as
root, this test takes root away with setpriv (uid and gid 65534, no capabilities) and hides
the cgroups behind an empty tmpfs in a mount namespace of its own (unshare, which needs
root); as any other user it checks the suite as that user. A node that cannot start names
the blocker found in its logs and the setting that fixes it (e2e/cluster/node/blockers.sh,
which node-up.sh runs on the node's logs when it fails).

Usage: preflight_test.py
"""
import os
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_UP = os.path.join(HERE, "..", "cluster", "node-up.sh")
SUITE = os.path.join(HERE, "realnode_e2e_test.py")
BLOCKERS = os.path.join(HERE, "..", "cluster", "node", "blockers.sh")
# What the kubelet logs for every sandbox on a host without CAP_SYS_RESOURCE when containerd
# lets runc lower oom_score_adj (docs/real-node.md).
RUNC_OOM_SCORE_ADJ = (
    'E1204 10:01:02.123456 4242 log.go:32] "RunPodSandbox from runtime service failed" '
    'err="rpc error: code = Unknown desc = failed to create containerd task: failed to create '
    'shim task: OCI runtime create failed: runc create failed: unable to start container '
    'process: can\'t get final child\'s PID from pipe: EOF: unknown"')
# The system interpreter: an unprivileged uid may not read root's own Python installs.
PYTHON = "/usr/bin/python3"
UNPRIVILEGED = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                "--inh-caps=-all"] if os.geteuid() == 0 else []


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd="/")


class PreflightTest(unittest.TestCase):
    def test_without_root_the_suite_fails_naming_root_and_starts_nothing(self):
        done = run(UNPRIVILEGED + [PYTHON, SUITE])
        self.assertNotEqual(done.returncode, 0, done.stderr)
        self.assertIn("this host cannot run the real-node suite", done.stderr)
        self.assertIn("node-up.sh: cannot start a real node; missing:\n"
                      "  - root (the kubelet, containerd and the bridge need uid 0)", done.stderr)
        self.assertIn("images.sh: cannot build the images; missing:\n"
                      "  - root (the Docker engine and debootstrap need uid 0)", done.stderr)
        self.assertNotIn("skipped", done.stderr)
        self.assertRegex(done.stderr, r"Ran 0 tests.*\s+FAILED \(errors=1\)")

    def test_without_cgroups_node_up_names_them(self):
        self.assertEqual(os.geteuid(), 0, "hiding the cgroups (unshare, mount) needs root")
        done = run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                    'mount -t tmpfs none /sys/fs/cgroup && exec "$0" --check', NODE_UP])
        self.assertEqual(done.returncode, 1, done.stderr)
        self.assertIn("  - cgroups (neither a v1 memory hierarchy nor cgroup v2 under "
                      "/sys/fs/cgroup)", done.stderr)

    def test_a_node_that_cannot_start_names_the_blocker_and_the_setting_that_fixes_it(self):
        with tempfile.TemporaryDirectory() as tmp:
            kubelet, containerd = os.path.join(tmp, "kubelet.log"), os.path.join(tmp, "c.log")
            with open(kubelet, "w") as f:
                f.write("I1204 10:01:01 4242 kubelet.go:2400] starting\n%s\n" % RUNC_OOM_SCORE_ADJ)
            with open(containerd, "w") as f:
                f.write("level=info msg=\"containerd successfully booted\"\n")
            done = run([BLOCKERS, containerd, kubelet])
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assertEqual(done.stdout,
                             RUNC_OOM_SCORE_ADJ + "\nfix: containerd CRI restrict_oom_score_adj "
                             "= true and kubelet oomScoreAdj: 0 (runc may not lower "
                             "oom_score_adj without CAP_SYS_RESOURCE)\n")
            # Logs with no known blocker: nothing is named.
            done = run([BLOCKERS, containerd])
            self.assertEqual((done.returncode, done.stdout), (1, ""))


if __name__ == "__main__":
    unittest.main(verbosity=2)
