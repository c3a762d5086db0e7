#!/usr/bin/env python3
"""The showback page in a real headless browser (Debian `chromium`).

Runs showback-page to write a fixed ledger's report (showback.html) and its FOCUS export
(focus.csv), loads the page from file:// in headless Chromium, reads the figures back from
the DOM the browser built (--dump-dom), and checks that they equal the FOCUS file's totals:
the total, and the spend of every team, workflow, engineer and model. Saves a screenshot
(showback.png) into the output directory for people to look at.

Usage: showback_browser_test.py SHOWBACK_PAGE_BINARY OUTDIR
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import unittest
from collections import defaultdict
from decimal import Decimal
from html.parser import HTMLParser

PAGE_BINARY = OUTDIR = None
LABEL = "agentbudget.io/"


def chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError("chromium is not installed: the showback page is checked in a real "
                         "headless browser (Debian package `chromium`; scripts/setup installs it)")


def browser(*args):
    # --no-sandbox: the test may run as root (in a container), where Chromium's sandbox
    # refuses to start.
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
               "--user-data-dir=" + os.path.join(OUTDIR, "chromium-profile"), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


class Figures(HTMLParser):
    """The figures of the page: data-figure elements and the rows of each breakdown."""

    def __init__(self):
        super().__init__()
        self.figures = {}
        self.breakdowns = defaultdict(dict)
        self.section = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "data-breakdown" in attrs:
            self.section = attrs["data-breakdown"]
        if tag == "tr" and self.section and "data-name" in attrs:
            self.breakdowns[self.section][attrs["data-name"]] = Decimal(attrs["data-usd"])
        if "data-figure" in attrs and attrs["data-figure"] not in self.figures:
            self.figures[attrs["data-figure"]] = attrs.get("data-usd", attrs.get("data-value"))

    def handle_endtag(self, tag):
        if tag == "section":
            self.section = None


def focus_totals(path):
    total = Decimal(0)
    groups = defaultdict(lambda: defaultdict(Decimal))
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            cost = Decimal(row["BilledCost"])
            total += cost
            tags = {k[len(LABEL):] if k.startswith(LABEL) else k: v
                    for k, v in json.loads(row["Tags"] or "{}").items()}
            groups["team"][tags.get("team", "-")] += cost
            groups["workflow"][tags.get("workflow", "-")] += cost
            groups["engineer"][tags.get("user", "-")] += cost
            groups["model"][row["x_Model"]] += cost
    return total, groups


class ShowbackBrowserTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(OUTDIR, exist_ok=True)
        subprocess.run([PAGE_BINARY, OUTDIR], check=True)
        cls.page = "file://" + os.path.abspath(os.path.join(OUTDIR, "showback.html"))
        dumped = browser("--dump-dom", cls.page)
        if dumped.returncode != 0:
            raise AssertionError("chromium --dump-dom failed: " + dumped.stderr[-2000:])
        cls.dom = dumped.stdout
        cls.parsed = Figures()
        cls.parsed.feed(cls.dom)
        cls.focus_total, cls.focus_groups = focus_totals(os.path.join(OUTDIR, "focus.csv"))

    def test_the_browser_built_the_page_with_its_charts(self):
        self.assertIn("<svg", self.dom)
        self.assertIn('class="spent"', self.dom)  # a budget's spend as it accrued
        self.assertIn('class="forecast"', self.dom)
        self.assertGreater(self.dom.count('data-figure="daily"'), 1)

    def test_the_total_equals_the_focus_file(self):
        self.assertGreater(self.focus_total, 0)
        self.assertEqual(Decimal(self.parsed.figures["total"]), self.focus_total)

    def test_every_breakdown_equals_the_focus_file(self):
        for group in ("team", "workflow", "engineer", "model"):
            with self.subTest(group=group):
                shown = self.parsed.breakdowns[group]
                self.assertEqual(shown, dict(self.focus_groups[group]))

    def test_the_budget_total_and_run_figures_are_on_the_page(self):
        # The org budget charges every entry: its total spent is the FOCUS total.
        self.assertEqual(Decimal(self.parsed.figures["totalSpent"]), self.focus_total)
        self.assertEqual(self.parsed.figures["degradedShare"], "15.0")  # 9 of 60 calls let through
        self.assertIn('data-figure="costPerSuccessfulRun" data-value="', self.dom)

    def test_a_screenshot_is_saved(self):
        path = os.path.join(OUTDIR, "showback.png")
        if os.path.exists(path):
            os.remove(path)
        shot = browser("--screenshot=" + path, "--window-size=1280,2600", self.page)
        self.assertEqual(shot.returncode, 0, shot.stderr[-2000:])
        with open(path, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        self.assertGreater(os.path.getsize(path), 10_000)


if __name__ == "__main__":
    PAGE_BINARY, OUTDIR = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1], verbosity=2)
