#!/usr/bin/env python3
"""Generates docs/crd-reference.md from the CRD schemas in crds/*.yaml.

    docs/gen-crd-reference.py          # rewrite docs/crd-reference.md
    docs/gen-crd-reference.py --check  # exit 1 if it is out of date (the chart's e2e test)

Needs PyYAML (Debian: python3-yaml).
"""
import pathlib
import sys

try:
    import yaml
except ImportError:
    sys.exit("gen-crd-reference: PyYAML is missing; install python3-yaml (apt) or pyyaml (pip)")

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "docs" / "crd-reference.md"


def cell(text):
    return " ".join(str(text).split()).replace("|", "\\|")


def type_of(schema):
    kind = schema.get("type", "")
    if schema.get("x-kubernetes-int-or-string"):
        kind = "int or string"
    if kind == "array":
        kind = f"[]{type_of(schema.get('items', {})) or 'any'}"
    if kind == "object" and "additionalProperties" in schema and "properties" not in schema:
        kind = f"map[string]{type_of(schema['additionalProperties']) or 'any'}"
    return kind


def constraints(schema):
    notes = []
    if "enum" in schema:
        notes.append("one of " + ", ".join(f"`{v}`" for v in schema["enum"]))
    if "default" in schema:
        notes.append(f"default `{schema['default']}`")
    for key, label in (("minimum", "≥"), ("maximum", "≤"), ("minLength", "length ≥"),
                       ("maxLength", "length ≤"), ("minItems", "items ≥"),
                       ("maxItems", "items ≤")):
        if key in schema:
            notes.append(f"{label} {schema[key]}")
    if "pattern" in schema:
        notes.append(f"pattern `{schema['pattern']}`")
    if "format" in schema:
        notes.append(f"format {schema['format']}")
    for rule in schema.get("x-kubernetes-validations", []):
        notes.append("rule: " + rule.get("message", rule["rule"]))
    return "; ".join(notes)


def rows(schema, path, required_here, out):
    """One row per field, depth first, in schema order."""
    for name, child in schema.get("properties", {}).items():
        field = f"{path}.{name}" if path else name
        out.append((field, type_of(child), "yes" if name in required_here else "",
                    cell(child.get("description", "")), cell(constraints(child))))
        target = child.get("items", child) if child.get("type") == "array" else child
        rows(target, field + ("[]" if child.get("type") == "array" else ""),
             set(target.get("required", [])), out)


def crd_section(crd):
    spec = crd["spec"]
    names = spec["names"]
    lines = [f"## {names['kind']}", ""]
    for version in spec["versions"]:
        schema = version["schema"]["openAPIV3Schema"]
        lines += [f"`{spec['group']}/{version['name']}`, {spec['scope']}-scoped; "
                  f"plural `{names['plural']}`"
                  + (", short names " + ", ".join(f"`{n}`" for n in names.get("shortNames", []))
                     if names.get("shortNames") else "") + ".", ""]
        if schema.get("description"):
            lines += [cell(schema["description"]), ""]
        columns = version.get("additionalPrinterColumns", [])
        if columns:
            lines += ["Printer columns (`kubectl get`):", "", "| column | from | meaning |",
                      "|---|---|---|"]
            lines += [f"| {c['name']} | `{c['jsonPath']}` | {cell(c.get('description', ''))} |"
                      for c in columns]
            lines.append("")
        for part in ("spec", "status"):
            if part not in schema.get("properties", {}):
                continue
            out = []
            node = schema["properties"][part]
            rows(node, part, set(node.get("required", [])), out)
            lines += [f"### {names['kind']} {part}", "",
                      "| field | type | required | description | constraints |",
                      "|---|---|---|---|---|"]
            lines += [f"| `{f}` | {t} | {r} | {d} | {c} |" for f, t, r, d, c in out]
            lines.append("")
            for rule in node.get("x-kubernetes-validations", []):
                lines.append(f"- {part} rule: {cell(rule.get('message', rule['rule']))}")
            if node.get("x-kubernetes-validations"):
                lines.append("")
    return lines


def render():
    lines = ["# CRD reference", "",
             "Generated from `crds/*.yaml` by `docs/gen-crd-reference.py`; do not edit by hand.",
             "The schemas are the contract; [design.md](design.md#custom-resources) explains the "
             "concepts.", ""]
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if crd and crd.get("kind") == "CustomResourceDefinition":
                lines += crd_section(crd)
    return "\n".join(lines).rstrip() + "\n"


def main():
    text = render()
    if sys.argv[1:] == ["--check"]:
        if not OUTPUT.exists() or OUTPUT.read_text() != text:
            print("gen-crd-reference: docs/crd-reference.md is out of date; "
                  "run docs/gen-crd-reference.py", file=sys.stderr)
            return 1
        return 0
    if sys.argv[1:]:
        sys.exit("usage: docs/gen-crd-reference.py [--check]")
    OUTPUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
