#!/usr/bin/env bash
# Builds Tandem (release preset) and runs it on its embedded defaults: SIP on
# UDP and TCP port 5060, HTTP on 8080, data in ./var (SQLite). Extra arguments go to
# `tandem serve`, e.g.:   scripts/run.sh --domain example.com --log-level debug
# Idempotent: installs missing Debian packages (as root), rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
scripts/build-webphone.sh
cmake --preset release >/dev/null
cmake --build --preset release --target tandem
exec build/release/src/app/tandem serve "$@"
