#!/bin/bash
# Runs as init (PID 1) inside the arm64 machine of tests/arm64/vm_check.sh:
# sets the machine up, installs NetSentinel with the README's start command,
# then checks doctor, live capture, a scan's alert, the nftables block and
# a clean stop. Marks its findings with "ARM64-CHECK" lines on the console,
# "ARM64-CHECK PASS" last when everything held; powers off either way.
set -uo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
export NO_COLOR=1 LANG=C.UTF-8

mark() { echo "ARM64-CHECK $*"; }
finish() {
  sync
  echo o >/proc/sysrq-trigger
  sleep 60
}
fail() {
  mark "FAIL: $*"
  finish
}

mnt() { mountpoint -q "$3" || mount -t "$1" "$2" "$3"; }
mnt proc proc /proc
mnt sysfs sys /sys
mnt devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mnt devpts devpts /dev/pts
mnt tmpfs tmpfs /run
mnt tmpfs tmpfs /tmp
mnt tmpfs tmpfs /dev/shm
echo 1 >/proc/sys/kernel/sysrq
hostname arm64-check
t0=$(date +%s)
elapsed() { echo "$(($(date +%s) - t0)) s"; }

# qemu's user-mode network: 10.0.2.15/24, gateway 10.0.2.2, DNS 10.0.2.3.
modprobe -q virtio_net 2>/dev/null || true
ip link set lo up
IF=""
for i in $(seq 1 50); do
  IF=$(ip -o link show | awk -F': ' '$2 != "lo" {print $2; exit}' | cut -d@ -f1)
  [[ -n "$IF" ]] && break
  sleep 0.2
done
[[ -n "$IF" ]] || fail "no network interface"
ip link set "$IF" up
ip addr add 10.0.2.15/24 dev "$IF"
ip route add default via 10.0.2.2
echo "nameserver 10.0.2.3" >/etc/resolv.conf
modprobe -q nf_tables 2>/dev/null || true
modprobe -q veth 2>/dev/null || true

# Certificates the host added (vm_check.sh copies them) join the trust store.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  update-ca-certificates >/dev/null 2>&1 || true
  export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
  export SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
fi

mark "uname -m: $(uname -m)"
mark "cpu: $(grep -m1 '^Features' /proc/cpuinfo | tr -s ' \t' ' ')"
mark "node $(node --version), npm $(npm --version)"

cd /root/netsentinel || fail "no checkout"
# The README's start command does the set-up; `setup start` is its first half.
# A set-up whose process the kernel killed by a signal (exit status over 128:
# Node crashing under qemu's software emulation, see vm_check.sh) is run
# again, at most 3 times in all, each crash reported here; any other failure
# fails at once. run.sh picks up where it stopped (what is in place stays).
attempt=1
while :; do
  ./run.sh setup start >/tmp/setup.log 2>&1
  src=$?
  [[ $src -eq 0 ]] && break
  tail -n 30 /tmp/setup.log
  # A crashed process's last words from the kernel (which signal, who).
  dmesg | grep -aiE 'unhandled|segfault|undefined instruction|killed process' | tail -n 5 |
    sed 's/^/  kernel: /'
  if [[ $src -gt 128 && $attempt -lt 3 ]]; then
    mark "set-up attempt $attempt killed by signal $((src - 128)) ($(elapsed)): running ./run.sh setup start again"
    attempt=$((attempt + 1))
    continue
  fi
  fail "./run.sh setup start failed (exit $src, attempt $attempt)"
done
mark "set up by ./run.sh in $(elapsed)"
DENO=/root/netsentinel/.tools/bin/deno
mark "deno: $($DENO --version | head -n1)"
mark "deno target: $($DENO eval --quiet 'console.log(Deno.build.target)')"

DATA=/var/lib/netsentinel
mkdir -p "$DATA"
$DENO run -A main.ts doctor --data "$DATA" >/tmp/doctor.log 2>&1
drc=$?
sed 's/^/  doctor: /' /tmp/doctor.log
[[ $drc -eq 0 ]] || fail "doctor exited $drc"
mark "doctor: all checks ok ($(elapsed))"

# From here on nothing leaves the machine: the registries were needed for the
# set-up only. No route out, no threat feeds to fetch, no reverse lookups.
ip route del default
echo '{ "intel": { "feeds": [] }, "rdns": { "enabled": false } }' >"$DATA/config.json"

# A namespace inside the guest is the attacker; the guest's side of the veth
# is what NetSentinel captures on.
ip netns add attacker
ip link add ns0 type veth peer name atk0
ip link set atk0 netns attacker
ip addr add 10.77.0.1/24 dev ns0
ip link set ns0 up
ip -n attacker addr add 10.77.0.66/24 dev atk0
ip -n attacker link set atk0 up
ip -n attacker link set lo up

export NETSENTINEL_PASSWORD=arm64-check-password
./run.sh start -i ns0 --data "$DATA" --listen 127.0.0.1:8080 >/tmp/run.out 2>/tmp/run.err &
pid=$!
up=""
until=$(($(date +%s) + 900))
while [[ $(date +%s) -lt $until ]]; do
  if curl -s -m 2 -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/health | grep -q 200; then
    up=1
    break
  fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 1
done
[[ -n "$up" ]] || {
  tail -n 30 /tmp/run.err
  fail "the appliance did not answer /health"
}
mark "run -i ns0: dashboard up ($(elapsed))"

ip netns exec attacker nmap -n -Pn -sS -T4 -p 1-300 10.77.0.1 >/tmp/nmap.log 2>&1 ||
  fail "nmap failed: $(tail -n 3 /tmp/nmap.log)"
mark "nmap -sS of 300 ports from the namespace done ($(elapsed))"

alert=""
until=$(($(date +%s) + 300))
while [[ $(date +%s) -lt $until ]]; do
  $DENO run -A main.ts alerts --data "$DATA" --format eve >/tmp/alerts.json 2>/tmp/alerts.err
  alert=$(grep port_scan /tmp/alerts.json | grep 10.77.0.66 | head -n1)
  [[ -n "$alert" ]] && break
  sleep 2
done
if [[ -z "$alert" ]]; then
  echo "alerts: $(cut -c1-200 /tmp/alerts.json | head -n 10) $(cat /tmp/alerts.err)"
  tail -n 20 /tmp/run.err
  fail "no port_scan alert for 10.77.0.66"
fi
mark "port_scan alert: $(echo "$alert" | cut -c1-300)"

elem=""
until=$(($(date +%s) + 120))
while [[ $(date +%s) -lt $until ]]; do
  elem=$(nft list set inet netsentinel blocked4 2>/dev/null | grep -o '10\.77\.0\.66[^,}]*' | head -n1)
  [[ -n "$elem" ]] && break
  sleep 1
done
[[ -n "$elem" ]] || fail "10.77.0.66 is not in the nftables set: $(nft list ruleset 2>&1 | head -n 20)"
mark "nft element: $elem"

curl -s -c /tmp/jar -o /dev/null -H 'Origin: http://127.0.0.1:8080' \
  --data-urlencode user=admin --data-urlencode "password=$NETSENTINEL_PASSWORD" \
  --data-urlencode next=/ http://127.0.0.1:8080/signin
metrics=$(curl -s -b /tmp/jar http://127.0.0.1:8080/metrics)
recv=$(echo "$metrics" | awk '/^netsentinel_capture_received_total/ {print $2; exit}')
drops=$(echo "$metrics" | awk '/^netsentinel_capture_drops_total/ {s += $2} END {print s + 0}')
pkts=$(echo "$metrics" | awk '/^netsentinel_packets_total/ {print $2; exit}')
mark "live capture: packets $pkts, received ${recv:-?}, drops $drops"
[[ -n "$pkts" && "$pkts" -gt 300 ]] || fail "too few live packets counted: ${pkts:-none}"
[[ "$drops" -eq 0 ]] || fail "$drops packets dropped"

kill -TERM "$pid"
wait "$pid"
rc=$?
mark "SIGTERM: exit $rc ($(elapsed))"
[[ $rc -eq 0 ]] || {
  tail -n 20 /tmp/run.err
  fail "the appliance exited $rc on SIGTERM"
}
mark "PASS"
finish
