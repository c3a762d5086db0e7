#!/usr/bin/env python3
"""The real-node suite on a host that cannot run it fails at once naming what is missing.

Without root, the suite (realnode_e2e_test.py) fails before building or starting anything
with `this host cannot run the real-node suite` and the lines of node-up.sh --check and
images.sh --check that name root; without cgroups, node-up.sh --check names them. Run as
root, this test takes root away with setpriv (uid and gid 65534, no capabilities) and hides
the cgroups behind an empty tmpfs in a mount namespace of its own (unshare, which needs
root); as any other user it checks the suite as that user.

Usage: preflight_test.py
"""
import os
import subprocess
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_UP = os.path.join(HERE, "..", "cluster", "node-up.sh")
SUITE = os.path.join(HERE, "realnode_e2e_test.py")
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
