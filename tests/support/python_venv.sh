#!/usr/bin/env bash
# Usage: python_venv.sh NAME REQUIREMENTS WHO
# Installs REQUIREMENTS (pinned) into a venv NAME under the cargo target directory, and prints
# the venv's python on its last line; WHO (what needs it) starts the error messages. Idempotent
# and quick when the venv already holds these exact pins, and safe to run from several test
# binaries at once. Used by tests/oauth2_server/setup.sh and tests/redis_server/setup.sh.
set -euo pipefail
name=$1 requirements=$2 who=$3
repo="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${CARGO_TARGET_DIR:-$repo/target}/$name"
python="$venv/bin/python"

installed() { [ -x "$python" ] && cmp -s "$requirements" "$venv/installed-requirements.txt"; }

if ! installed; then
  mkdir -p "$(dirname "$venv")"
  # Test binaries may run this at the same time: one installs, the others wait for it.
  exec 9>"$venv.lock"
  if command -v flock >/dev/null; then flock 9; fi
  if ! installed; then
    echo "installing $requirements into $venv" >&2
    if ! command -v python3 >/dev/null; then
      echo "error: python3 not found. $who: install Python 3.9 or newer with venv and pip" \
        "(Debian: apt-get install python3 python3-venv)" >&2
      exit 1
    fi
    rm -rf "$venv"
    if ! python3 -m venv "$venv" >&2; then
      echo "error: 'python3 -m venv' failed. $who: install the venv module" \
        "(Debian: apt-get install python3-venv)" >&2
      exit 1
    fi
    if ! "$python" -m pip install --disable-pip-version-check --quiet -r "$requirements" >&2; then
      echo "error: pip could not install $requirements from PyPI into $venv. $who." >&2
      exit 1
    fi
    cp "$requirements" "$venv/installed-requirements.txt"
  fi
fi
echo "$python"
