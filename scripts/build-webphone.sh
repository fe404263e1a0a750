#!/usr/bin/env bash
# Builds the web phone (webphone/: JsSIP bundled with esbuild) into
# webphone/dist, which `tandem serve` serves at / (and `cmake --install`
# installs to share/tandem/www). npm packages come from webphone/package-lock.json;
# `npm ci` runs only when node_modules is missing or older than the lock file.
# Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../webphone"
if ! command -v npm >/dev/null; then
  echo "build-webphone: npm is missing (scripts/install-deps.sh installs it)" >&2
  exit 1
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
node build.mjs
