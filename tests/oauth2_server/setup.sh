#!/usr/bin/env bash
# Installs the conformance tests' OAuth2 server (Authlib + Flask, pinned in requirements.txt)
# into a venv under the cargo target directory, and prints the venv's python on its last line.
# Idempotent and quick when the venv already holds these exact pins. Run by the tests
# themselves (tests/oauth2_server/mod.rs), by the example, and up front by .ci/run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec bash "$here/../support/python_venv.sh" test-python "$here/requirements.txt" \
  "The OAuth2 conformance tests run Authlib's server"
