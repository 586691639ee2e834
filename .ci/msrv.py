#!/usr/bin/env python3
"""Checks symbl-auth's `rust-version` against its locked dependency tree.

For each feature set a user can build (all features, the default ones, none), reads
`cargo metadata --locked` and walks the resolved graph from symbl-auth along normal and build
dependencies (what a user compiles), on every target platform; and once more with symbl-auth's
dev-dependencies, for what the quickstart and the tests compile. Fails,
naming them, if any package declares a `rust-version` above symbl-auth's, or if the claim is
below what Cargo itself needs of the manifest and build script. A package that declares none is
listed, not judged.

The other half of the check is clippy's `incompatible_msrv` lint, which reads the same
`rust-version` and refuses std APIs stabilised after it in the crate's own code (.ci/run runs
clippy on every target). Neither can prove that an older compiler accepts the crate: this
machine has one toolchain, and language features (syntax) are not linted.

Usage: python3 .ci/msrv.py   (from anywhere in the repository)
"""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FEATURE_SETS = [
    # (name, cargo flags, whether symbl-auth's own dev-dependencies count)
    ("all features", ["--all-features"], False),
    ("default features", [], False),
    ("no default features", ["--no-default-features"], False),
    # What the quickstart and the tests build (the README says which rustc they need).
    ("tests and examples (all features, dev-dependencies too)", ["--all-features"], True),
]
# What the manifest and build script themselves need of Cargo and rustc: `cargo::` build
# script instructions (1.77), `cargo::rustc-check-cfg` and `[lints.rust] unexpected_cfgs`
# check-cfg (1.80).
MANIFEST_NEEDS = ("1.80", "cargo::rustc-check-cfg in build.rs, check-cfg in [lints]")


def version(text):
    """'1.88' or '1.88.0' as a comparable tuple."""
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def metadata(flags):
    command = ["cargo", "metadata", "--format-version", "1", "--locked"] + flags
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"msrv: `{' '.join(command)}` failed:\n{done.stderr}")
    return json.loads(done.stdout)


def compiled(meta, with_dev):
    """The packages compiled when symbl-auth is built: normal and build edges from the root
    (and the root's dev edges too with `with_dev`)."""
    nodes = {node["id"]: node for node in meta["resolve"]["nodes"]}
    root = meta["resolve"]["root"]
    seen, stack = set(), [root]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        for dep in nodes[current]["deps"]:
            kinds = {kind["kind"] for kind in dep["dep_kinds"]}
            if kinds & {None, "build"} or (with_dev and current == root):
                stack.append(dep["pkg"])
    seen.discard(root)
    return seen


def main():
    meta = metadata([])
    packages = {package["id"]: package for package in meta["packages"]}
    me = packages[meta["resolve"]["root"]]
    if not me.get("rust_version"):
        sys.exit("msrv: Cargo.toml has no rust-version")
    claim = version(me["rust_version"])
    print(f"symbl-auth claims rust-version {me['rust_version']}")

    failures = []
    if version(MANIFEST_NEEDS[0]) > claim:
        failures.append(f"the manifest and build script need {MANIFEST_NEEDS[0]} ({MANIFEST_NEEDS[1]})")
    for name, flags, with_dev in FEATURE_SETS:
        meta = metadata(flags)
        packages = {package["id"]: package for package in meta["packages"]}
        tree = [packages[id] for id in compiled(meta, with_dev)]
        declared = [p for p in tree if p.get("rust_version")]
        undeclared = sorted(f"{p['name']} {p['version']}" for p in tree if not p.get("rust_version"))
        above = sorted(
            (p for p in declared if version(p["rust_version"]) > claim),
            key=lambda p: (version(p["rust_version"]), p["name"]),
        )
        highest = max(declared, key=lambda p: version(p["rust_version"]), default=None)
        print(
            f"  {name}: {len(tree)} packages, {len(declared)} declare a rust-version, "
            f"the highest {highest['rust_version']} ({highest['name']} {highest['version']})"
            if highest
            else f"  {name}: {len(tree)} packages, none declares a rust-version"
        )
        if undeclared:
            print(f"    without a rust-version (not judged): {', '.join(undeclared)}")
        for p in above:
            failures.append(
                f"{name}: {p['name']} {p['version']} needs rust {p['rust_version']}, "
                f"above the claimed {me['rust_version']}"
            )
    if failures:
        print("msrv: FAILED", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        sys.exit(1)
    print(f"msrv: every locked dependency fits rust-version {me['rust_version']}")


if __name__ == "__main__":
    main()
