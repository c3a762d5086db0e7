#!/usr/bin/env python3
"""Checks metric names against the code that exports them.

Every metric the components register (a "agentbudget_..." string literal in their sources,
with the operator's per-unit budget gauges expanded; names the sources create as PostgreSQL
tables are not metrics) must be documented in docs/metrics.md,
and every metric name that docs/metrics.md, the chart's templates or its Grafana dashboard
mention must exist (histogram series may add _bucket, _sum or _count). Exits 1 with the
differences.

    e2e/chart/check-metric-names.py
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
COMPONENTS = ["common", "core", "kube", "meter", "webhook", "operator"]
NAME = re.compile(r"(?<![A-Za-z0-9_])agentbudget_[a-z0-9_]+")
TABLE = re.compile(r"CREATE TABLE (?:IF NOT EXISTS )?(agentbudget_[a-z0-9_]+)")


def sources():
    for component in COMPONENTS:
        for path in sorted((ROOT / component).rglob("*")):
            if path.suffix in (".cc", ".h"):
                yield path, path.read_text()


def exported():
    names = set()
    tables = {table for _, text in sources() for table in TABLE.findall(text)}
    for path, text in sources():
        for literal in re.findall(r'"(agentbudget_[a-z0-9_]+)"', text):
            if literal in tables:
                continue
            if not literal.endswith("_"):
                names.add(literal)
                continue
            # A family built from parts: "<prefix>" + name + "_" + unit, with the names
            # from gauge("name", ...) and the units from Register("unit").
            parts = re.findall(r'gauge\("([a-z0-9_]+)"', text)
            units = re.findall(r'Register\("([a-z0-9_]+)"\)', text)
            if not parts or not units:
                sys.exit(f"check-metric-names: cannot expand {literal}* in {path}")
            names.update(f"{literal}{part}_{unit}" for part in parts for unit in units)
    return names


def mentioned(paths):
    found = {}
    for path in paths:
        for name in NAME.findall(path.read_text()):
            found.setdefault(name, path.relative_to(ROOT))
    return found


def main():
    code = exported()
    doc = ROOT / "docs" / "metrics.md"
    chart = ROOT / "charts" / "agentbudget"
    users = [doc, chart / "files" / "dashboard.json", *sorted((chart / "templates").glob("*"))]
    used = mentioned(users)
    problems = []
    for name, where in sorted(used.items()):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in code and base not in code:
            problems.append(f"{where} mentions {name}, which no component exports")
    documented = mentioned([doc])
    for name in sorted(code - set(documented)):
        problems.append(f"docs/metrics.md does not document {name}")
    for problem in problems:
        print("check-metric-names: " + problem, file=sys.stderr)
    print(f"check-metric-names: {len(code)} exported, {len(used)} mentioned, "
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
