#!/usr/bin/env bash
# Installs the conformance tests' OAuth2 server (Authlib + Flask, pinned in requirements.txt)
# into a venv under the cargo target directory, and prints the venv's python on its last line.
# Idempotent and quick when the venv already holds these exact pins. Run by the tests
# themselves (tests/oauth2_server/mod.rs), by the example, and up front by .ci/run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${CARGO_TARGET_DIR:-$repo/target}/test-python"
python="$venv/bin/python"
requirements="$here/requirements.txt"

installed() { [ -x "$python" ] && cmp -s "$requirements" "$venv/installed-requirements.txt"; }

if ! installed; then
  mkdir -p "$(dirname "$venv")"
  # Test binaries may run this at the same time: one installs, the others wait for it.
  exec 9>"$venv.lock"
  if command -v flock >/dev/null; then flock 9; fi
  if ! installed; then
    if ! command -v python3 >/dev/null; then
      echo "error: python3 not found. The OAuth2 conformance tests run Authlib's server:" \
        "install Python 3.9 or newer with venv and pip (Debian: apt-get install python3 python3-venv)" >&2
      exit 1
    fi
    rm -rf "$venv"
    if ! python3 -m venv "$venv" >&2; then
      echo "error: 'python3 -m venv' failed: install the venv module" \
        "(Debian: apt-get install python3-venv)" >&2
      exit 1
    fi
    if ! "$python" -m pip install --disable-pip-version-check --quiet -r "$requirements" >&2; then
      echo "error: pip could not install $requirements from PyPI into $venv" >&2
      exit 1
    fi
    cp "$requirements" "$venv/installed-requirements.txt"
  fi
fi
echo "$python"
