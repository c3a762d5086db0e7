#!/usr/bin/env python3
"""Fails when docs/*.md or README.md name a build folder that scripts/build does not make.

scripts/build builds each flavour of its `case "$flavour"` into build/<flavour>, so the only
build folders a command in the docs may use are those. The flavours and the folder are read
from scripts/build itself, so this test follows the script when a flavour is added or
renamed. Prints file:line for every stale folder.

    build_folders_test.py [SOURCE_DIR]    (default: the repository holding this file)
"""
import re
import sys
from pathlib import Path

# A path token starts the line or follows a space, quote, backtick, bracket or `=`; an
# optional `./` prefix is part of it. Tokens inside other paths (e2e/cluster/build-tools.sh,
# scripts/build) and options (--build-arg) do not start there.
TOKEN = re.compile(r"(?:(?<=^)|(?<=[\s`'\"(\[=]))(?:\./)?(build(?:-[\w-]+)?)(?:/([\w.-]+))?")
# Options and commands whose argument is a build folder, even a bare one.
FOLDER_ARGUMENT = re.compile(r"(?:-B|--build|--test-dir|-C|cd)\s+$")


def read_flavours(script: Path) -> tuple[str, set[str]]:
    """Returns the folder scripts/build builds into and its flavours; exits if unreadable."""
    text = script.read_text()
    case = re.search(r'case "\$flavour" in\n(.*?)\nesac', text, re.S)
    folder = re.search(r'dir="\$root/([\w.-]+)/\$flavour"', text)
    if not case or not folder:
        sys.exit(f"{script}: cannot find its `case \"$flavour\"` or `dir=\"$root/.../$flavour\"`;"
                 " update tests/docs/build_folders_test.py to the script's new shape")
    flavours = set()
    for pattern in re.findall(r"^\s*([^\s#()][^\s()]*)\)", case.group(1), re.M):
        flavours.update(p for p in pattern.split("|") if re.fullmatch(r"[a-z][\w-]*", p))
    if not flavours:
        sys.exit(f"{script}: no flavours found in its case statement")
    return folder.group(1), flavours


def stale_folders(line: str, root: str, flavours: set[str]) -> list[str]:
    """The build folders named in `line` that are not `root/<flavour>`."""
    stale = []
    for match in TOKEN.finditer(line):
        name, sub = match.group(1), match.group(2)
        after = line[match.end():match.end() + 1]
        as_argument = bool(FOLDER_ARGUMENT.search(line[:match.start()]))
        quoted = line[match.start() - 1:match.start()] == "`" and after == "`"
        if name == root:
            if sub is not None and sub not in flavours:
                stale.append(f"{name}/{sub}")
            elif sub is None and after != "." and (as_argument or quoted):
                stale.append(name)
        elif after != "." and (sub is not None or as_argument or quoted):
            stale.append(name)
    return stale


def self_test(root: str, flavours: set[str]) -> None:
    """The detector must keep telling stale folders from real ones and from other words."""
    good = [f"    {root}/{flavour}/bench/x" for flavour in sorted(flavours)] + [
        "scripts/build release meter_bench", "`e2e/cluster/build-tools.sh`",
        "docker build -f Dockerfile --build-arg COMPONENT=webhook .", "the build stamps it",
        f"ctest --test-dir {root}/sanitize -L unit", "deploy/docker/build.sh registry 0.1.0"]
    bad = ["cmake -S . -B build-kube -G Ninja", "build-release/bench/meter/meter_bench",
           "./build-operator/tests/core/core_test", f"ctest --test-dir {root} -L unit",
           f"{root}/bench/webhook/webhook_bench", "the `build-fuzz` folder"]
    for line in good:
        assert not stale_folders(line, root, flavours), f"self-test: flagged {line!r}"
    for line in bad:
        assert stale_folders(line, root, flavours), f"self-test: missed {line!r}"


def main() -> int:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2]
    root, flavours = read_flavours(source / "scripts" / "build")
    self_test(root, flavours)
    docs = sorted((source / "docs").glob("*.md")) + [source / "README.md"]
    failures = 0
    for doc in docs:
        for number, line in enumerate(doc.read_text().splitlines(), start=1):
            for folder in stale_folders(line, root, flavours):
                failures += 1
                print(f"{doc.relative_to(source)}:{number}: build folder '{folder}' is not made by "
                      f"scripts/build (it makes {', '.join(f'{root}/{f}' for f in sorted(flavours))};"
                      f" build with `scripts/build <flavour> <target>`)")
    if failures:
        print(f"build_folders_test: {failures} stale build folder(s)", file=sys.stderr)
        return 1
    print(f"build_folders_test: {len(docs)} files name only {', '.join(sorted(flavours))} folders")
    return 0


if __name__ == "__main__":
    sys.exit(main())
