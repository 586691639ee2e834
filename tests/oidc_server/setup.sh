#!/usr/bin/env bash
# Installs the conformance tests' OAuth2 server (oidc-provider, pinned in package-lock.json)
# into the cargo target directory, and prints that directory on its last line. Idempotent and
# quick when it already holds this exact lock file. Run by the tests themselves
# (tests/oidc_server/mod.rs) and up front by .ci/run.
#
# oidc-provider 8.8.1: the last 8.x, supported on the machine's Node 20 (9.x asks for Node 22
# and warns "Unsupported runtime" on 20); it has every feature the tests use (client
# credentials, private_key_jwt, client_secret_jwt, DPoP with nonces, introspection, discovery).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dir="${CARGO_TARGET_DIR:-$repo/target}/test-node"

installed() { [ -d "$dir/node_modules/oidc-provider" ] && cmp -s "$here/package-lock.json" "$dir/installed-lock.json"; }

if ! installed; then
  mkdir -p "$dir"
  # Test binaries may run this at the same time: one installs, the others wait for it.
  exec 9>"$dir.lock"
  if command -v flock >/dev/null; then flock 9; fi
  if ! installed; then
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
      echo "error: node and npm not found. The OAuth2 conformance tests run oidc-provider:" \
        "install Node.js 20 or newer with npm (Debian: apt-get install nodejs npm)" >&2
      exit 1
    fi
    major="$(node -p 'process.versions.node.split(".")[0]')"
    if [ "$major" -lt 18 ]; then
      echo "error: Node.js $(node --version) is too old for oidc-provider 8: install 18 or newer" >&2
      exit 1
    fi
    rm -rf "$dir/node_modules"
    cp "$here/package.json" "$here/package-lock.json" "$here/server.mjs" "$dir/"
    if ! (cd "$dir" && npm ci --no-audit --no-fund --silent >&2); then
      echo "error: npm could not install oidc-provider (tests/oidc_server/package-lock.json) into $dir" >&2
      exit 1
    fi
    cp "$here/package-lock.json" "$dir/installed-lock.json"
  fi
fi
# The server itself may change without the lock: always the current one.
cp "$here/server.mjs" "$dir/server.mjs"
echo "$dir"
