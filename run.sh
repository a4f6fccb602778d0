#!/usr/bin/env bash
# NetSentinel set-up and entry point.
#
#   ./run.sh start [ARGS...]   install what is missing, then `deno task start`
#   ./run.sh test  [ARGS...]   install what is missing (test tools too), then `deno task test`
#   ./run.sh setup [start|test] only install
#   ./run.sh <task> [ARGS...]  any other deno task (bench, compile, fmt, lint, check)
#
# Deno is pinned here and only here. It comes from npm into ./.tools (no
# global changes); Debian packages come from apt when running as root.
# A second run finds everything in place and starts at once.
set -euo pipefail

DENO_VERSION="2.9.6"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TOOLS="$HERE/.tools"

# Debian packages: what the appliance needs, and what the tests drive.
START_PKGS=(libpcap0.8 nftables iproute2)
TEST_PKGS=(libpcap0.8 nftables iproute2 redis-server tcpdump iputils-ping nmap hping3 hydra
  iodine chromium openssh-server openssh-client dnsmasq-base dnsutils
  netcat-openbsd curl python3-sklearn procps systemd jq fonts-noto-color-emoji openssl
  ethtool net-tools traceroute tshark python3 python3-aiosmtpd dsniff
  isc-dhcp-client udhcpc avahi-daemon avahi-utils chrony samba-common-bin
  tinyproxy)

say() { printf 'run.sh: %s\n' "$*" >&2; }

install_deno() {
  local bin="$TOOLS/bin/deno"
  if [[ -x "$bin" ]] && "$bin" --version 2>/dev/null | grep -q "^deno $DENO_VERSION "; then
    return
  fi
  command -v npm >/dev/null || { say "npm is required to install Deno (apt install npm)"; exit 1; }
  say "installing Deno $DENO_VERSION from npm into .tools"
  mkdir -p "$TOOLS/bin"
  npm install --prefix "$TOOLS" --no-save --no-audit --no-fund --loglevel=error \
    "deno@$DENO_VERSION" >&2
  # Use the native executable directly, not the Node wrapper (one process less per call).
  local native=""
  for c in "$TOOLS"/node_modules/@deno/linux-*/deno "$TOOLS/node_modules/deno/deno"; do
    if [[ -f "$c" ]] && "$c" --version >/dev/null 2>&1; then native="$c"; break; fi
  done
  if [[ -z "$native" ]]; then
    # Older npm runs the package's postinstall, which places the binary itself.
    native="$TOOLS/node_modules/.bin/deno"
  fi
  ln -sf "$native" "$bin"
  "$bin" --version | head -n1 >&2
}

missing_pkgs() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || printf '%s\n' "$p"
  done
}

install_pkgs() {
  command -v dpkg-query >/dev/null || { say "not a Debian system: install ${*} by hand"; return; }
  local missing
  mapfile -t missing < <(missing_pkgs "$@")
  [[ ${#missing[@]} -eq 0 ]] && return
  local sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo"; else
      say "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
      [[ "${CI:-}" == "true" ]] && exit 1
      return
    fi
  fi
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >&2 || say "apt-get update failed; trying the install anyway"
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# Everything a start takes from the npm registry, fetched now: the modules of
# main.ts into Deno's cache and the dashboard bundle (whose esbuild is an npm
# package for this machine's architecture), so that a box set up online
# starts later without the registry. Quick when all is in place.
prepare_offline() {
  (cd "$HERE" && "$TOOLS/bin/deno" install --quiet --entrypoint main.ts >&2) ||
    { say "cannot fetch the modules of main.ts (is the npm registry reachable?)"; exit 1; }
  (cd "$HERE" && "$TOOLS/bin/deno" task --quiet bundle >&2) ||
    { say "cannot build the dashboard bundle"; exit 1; }
}

setup() {
  install_deno
  case "$1" in
    test) install_pkgs "${TEST_PKGS[@]}" ;;
    *) install_pkgs "${START_PKGS[@]}" ;;
  esac
  prepare_offline
}

cmd="${1:-start}"
shift || true
case "$cmd" in
  setup) setup "${1:-test}"; exit 0 ;;
  test) setup test ;;
  start) setup start ;;
  *) install_deno ;;
esac
export PATH="$TOOLS/bin:$PATH"
cd "$HERE"
exec deno task "$cmd" "$@"
