#!/usr/bin/env bash
# Developer set-up on Debian/Ubuntu: installs the build tools a fresh machine may lack (cmake, g++,
# make, python3 — with apt-get, so it needs root or sudo), then `npm ci`, which builds the native
# addon and compiles the TypeScript. Users installing from npm need none of this.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v cmake >/dev/null || need+=(cmake)
command -v g++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
command -v python3 >/dev/null || need+=(python3)
[ -e /usr/bin/systemd-notify ] || need+=(systemd)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing Debian packages: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
npm ci --no-audit --no-fund
