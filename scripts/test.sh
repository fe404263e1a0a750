#!/usr/bin/env bash
# Builds Tandem and runs every test: unit tests (GoogleTest) and the
# integration tests against the real binary with sipp, in the debug preset
# (AddressSanitizer + UndefinedBehaviorSanitizer), the browser tests (Chromium
# with the web phone, JsSIP and SIP.js), plus each libFuzzer target
# for a bounded time. Integration tests put themselves in a loopback-only
# network namespace (needs root). Ends with ctest's summary.
# Idempotent: installs missing Debian packages (as root), rebuilds what changed.
#
#   scripts/test.sh            everything
#   scripts/test.sh -L unit    only tests with a ctest label (unit, integration, browser, fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test
# The web phone and the browser tests' npm packages (each only when stale).
scripts/build-webphone.sh
if [ ! -f tests/browser/node_modules/.package-lock.json ] ||
   [ tests/browser/package-lock.json -nt tests/browser/node_modules/.package-lock.json ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi

jobs=$(nproc)
# Fuzz targets: clang with libFuzzer; only the parser libraries are built.
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target fuzz_sip_message fuzz_sip_uri fuzz_stream_framer fuzz_jwt fuzz_jsonrpc \
  fuzz_dns_answer fuzz_digest_credentials -j "$jobs"

# The binary the README's run command builds (release, jemalloc): the sanitizer
# build cannot link jemalloc, so this one gets a call of its own
# (integration.release_call). TANDEM_ALLOCATOR=jemalloc makes a missing
# jemalloc a configure error instead of a quiet fall-back to malloc.
cmake --preset release -DTANDEM_ALLOCATOR=jemalloc >/dev/null
cmake --build --preset release --target tandem -j "$jobs"

cmake --preset debug -DTANDEM_FUZZ_BUILD_DIR="$PWD/build/fuzz" \
  -DTANDEM_RELEASE_BINARY="$PWD/build/release/src/app/tandem" >/dev/null
cmake --build --preset debug -j "$jobs"
exec ctest --preset debug -j "$jobs" "$@"
