#!/usr/bin/env bash
# netscope demo from a fresh clone, in one command:  sudo ./demo.sh
# Installs what is missing (Debian/Ubuntu packages, npm dependencies), builds, then runs `netscope demo`:
# a small Kubernetes-like lab with traffic and the dashboard on its bridge. Quitting (q) removes the lab.
# Extra arguments go to `netscope demo` (e.g. ./demo.sh --keep, ./demo.sh --no-ui --duration 10).
set -euo pipefail
cd "$(dirname "$0")"

say() { printf 'demo.sh: %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
  say "the lab creates network namespaces, veths, a bridge and iptables rules: run as root (sudo ./demo.sh)"
  exit 1
fi

# System packages: libpcap (capture), a toolchain for the libpcap binding, iproute2/iptables/ping (the lab),
# util-linux (setpriv: traffic dies with the demo), kmod (modprobe br_netfilter).
need=()
for p in libpcap-dev build-essential python3 iproute2 iptables iputils-ping util-linux kmod; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    say "missing packages (${need[*]}) and no apt-get: install them with your package manager"
    exit 1
  fi
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  say "netscope needs Node.js 20 or newer (found: $(node -v 2>/dev/null || echo none)); install it from https://nodejs.org or your distribution"
  exit 1
fi

# npm dependencies: when missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi

# Build: when never built or a source is newer than the build.
if [ ! -f dist/cli/main.js ] || [ -n "$(find src examples -newer dist/cli/main.js -print -quit)" ]; then
  say "building (npm run build)"
  if ! npm run build >/dev/null 2>&1; then
    # tsc still emits on type errors; only a missing build is fatal.
    [ -f dist/cli/main.js ] || { say "build failed: run \"npm run build\" to see why"; exit 1; }
    say "the build reported type errors (see \"npm run build\"); starting anyway"
  fi
fi

exec node bin/netscope demo "$@"
