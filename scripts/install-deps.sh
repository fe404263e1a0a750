#!/usr/bin/env bash
# Installs the Debian 12 packages Tandem needs to build, test and benchmark.
# Idempotent: apt-get skips what is already installed; the package index is only
# refreshed when a package is missing.
#
#   scripts/install-deps.sh [build|test]     (default: test, which includes build)
set -euo pipefail
what=${1:-test}

build_pkgs=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libssl-dev libsqlite3-dev libc-ares-dev libjemalloc-dev
  nlohmann-json3-dev libspdlog-dev libfmt-dev libtomlplusplus-dev libcli11-dev
)
test_pkgs=(
  libgtest-dev libgmock-dev clang clang-format libclang-rt-14-dev
  sip-tester kamailio kamailio-websocket-modules iproute2 util-linux procps openssl python3
  chromium fonts-dejavu-core dnsmasq-base
)

# The web phone is built with npm (JsSIP, esbuild); the browser tests need it too.
web_pkgs=(nodejs npm)

pkgs=("${build_pkgs[@]}")
[ "$what" = test ] && pkgs+=("${test_pkgs[@]}")
# A machine may bring its own Node.js and npm (not from Debian packages): use them.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  pkgs+=("${web_pkgs[@]}")
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
