#!/usr/bin/env bash
# The arm64 check: NetSentinel on a full arm64 Debian machine booted under
# qemu-system-aarch64 (software emulation), installed by the README's own
# start command inside it, with live capture through libpcap and blocking
# through nftables — the two parts qemu's user-mode emulation cannot run.
#
#   tests/arm64/vm_check.sh            (or: deno task arm64-check)
#
# Needs root (debootstrap, binfmt_misc) and Debian's qemu-system-arm,
# debootstrap, qemu-user-static and e2fsprogs (installed when missing). The
# machine's base (a debootstrapped bookworm arm64 root with Node and npm, as
# a fresh box has them, plus the kernel and the check's own tools: nmap,
# curl, iproute2) is cached in $ARM64_CACHE (default
# /var/cache/netsentinel-arm64); each run copies the checkout's tracked
# files into a fresh disk image made from it and boots it with
# tests/arm64/guest_check.sh as init. The guest's console goes to
# $ARM64_CACHE/console.log; the run passes when the guest prints
# "ARM64-CHECK PASS". Exit code 0 on pass, 1 on fail.
#
# Traffic: the guest reaches the npm and Debian registries through qemu's
# user-mode network (NAT through this host); the scan runs between a
# namespace inside the guest and the guest itself, never anywhere else.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${ARM64_CACHE:-/var/cache/netsentinel-arm64}"
MIRROR="${ARM64_MIRROR:-http://deb.debian.org/debian}"
TIMEOUT_MIN="${ARM64_TIMEOUT_MIN:-90}"
BASE_PKGS="linux-image-arm64,initramfs-tools,kmod,iproute2,nmap,curl,ca-certificates,procps"
# Node and npm, as a fresh box has them: apt inside the new root (debootstrap's
# own resolver leaves npm's dependency tree unconfigured).
NODE_PKGS="nodejs npm"

say() { printf 'arm64-check: %s\n' "$*" >&2; }
[[ $(id -u) -eq 0 ]] || { say "needs root (debootstrap, binfmt_misc, disk image)"; exit 1; }

need=()
for p in qemu-system-arm debootstrap qemu-user-static binfmt-support e2fsprogs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [[ ${#need[@]} -gt 0 ]]; then
  say "installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
# debootstrap's second stage runs arm64 programs through binfmt_misc.
if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true

mkdir -p "$CACHE"
start=$(date +%s)
if [[ ! -f "$CACHE/base.tar" ]]; then
  say "building the arm64 base (debootstrap bookworm; once, then cached)"
  rm -rf "$CACHE/base"
  debootstrap --arch=arm64 --variant=minbase --include="$BASE_PKGS" \
    bookworm "$CACHE/base" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
    { say "debootstrap failed: see $CACHE/debootstrap.log"; exit 1; }
  cp /etc/resolv.conf "$CACHE/base/etc/resolv.conf"
  mount --bind /proc "$CACHE/base/proc"
  mount --bind /dev "$CACHE/base/dev"
  arc=0
  chroot "$CACHE/base" /usr/bin/env DEBIAN_FRONTEND=noninteractive sh -c \
    "apt-get update -qq && apt-get install -y -qq --no-install-recommends $NODE_PKGS" \
    >>"$CACHE/debootstrap.log" 2>&1 || arc=$?
  umount "$CACHE/base/proc" "$CACHE/base/dev"
  [[ $arc -eq 0 ]] || { say "apt-get install $NODE_PKGS failed: see $CACHE/debootstrap.log"; exit 1; }
  cp "$(ls "$CACHE"/base/boot/vmlinuz-* | tail -n1)" "$CACHE/vmlinuz"
  cp "$(ls "$CACHE"/base/boot/initrd.img-* | tail -n1)" "$CACHE/initrd.img"
  rm -f "$CACHE"/base/var/cache/apt/archives/*.deb
  tar -C "$CACHE/base" -cf "$CACHE/base.tar.tmp" . && mv "$CACHE/base.tar.tmp" "$CACHE/base.tar"
  rm -rf "$CACHE/base"
fi
say "base ready ($(( $(date +%s) - start )) s)"

# A fresh disk: the cached base, the checkout's tracked files, the guest script.
work="$CACHE/run"
rm -rf "$work"
mkdir -p "$work/root"
tar -C "$work/root" -xf "$CACHE/base.tar"
mkdir -p "$work/root/root/netsentinel"
git -C "$ROOT" ls-files -z | tar -C "$ROOT" --null -T - -cf - |
  tar -C "$work/root/root/netsentinel" -xf -
install -m 0755 "$HERE/guest_check.sh" "$work/root/guest_check.sh"
# The guest trusts what this host trusts: where the way out inspects TLS with
# a CA of its own, the registries' certificates are signed by it.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  mkdir -p "$work/root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$work/root/usr/local/share/ca-certificates/"
fi
rm -f "$CACHE/disk.img"
mkfs.ext4 -q -F -L nsroot -d "$work/root" "$CACHE/disk.img" 8G
rm -rf "$work"
say "disk ready ($(( $(date +%s) - start )) s); booting (console: $CACHE/console.log)"

cpus=$(nproc)
[[ $cpus -gt 4 ]] && cpus=4
# The emulated CPU is a Cortex-A72, the Raspberry Pi 4's core (ARMv8.0-A), not
# qemu's "max": under "max" (SVE2, pointer authentication, BTI and every other
# extension qemu 7.2's TCG implements, none of which a Pi has) Debian's Node 18
# died in JIT-compiled code during `npm install deno` (SIGILL "undefined
# instruction" or SIGSEGV, after 16-21 s) in 3 of 6 tries measured on
# 2026-12-07 and in 5 checks in a row (the fifth in all 3 attempts of
# guest_check.sh's retry), and never with its JIT off (--jitless, 6 of 6) nor
# as a Cortex-A72 (6 of 6 tries, 4 of 4 checks). $ARM64_CPU overrides it.
CPU="${ARM64_CPU:-cortex-a72}"
set +e
timeout "$(( TIMEOUT_MIN * 60 ))" qemu-system-aarch64 \
  -machine virt -cpu "$CPU" -smp "$cpus" -m 4096 \
  -kernel "$CACHE/vmlinuz" -initrd "$CACHE/initrd.img" \
  -append "root=LABEL=nsroot rw console=ttyAMA0 init=/guest_check.sh panic=-1 quiet" \
  -drive "file=$CACHE/disk.img,if=virtio,format=raw" \
  -netdev user,id=net0 -device virtio-net-pci,netdev=net0 \
  -rtc base=utc -no-reboot -nographic -serial "file:$CACHE/console.log" -monitor none \
  >/dev/null 2>&1
qrc=$?
set -e
took=$(( $(date +%s) - start ))
# The guest's report: the lines it marked.
grep -a '^ARM64-CHECK' "$CACHE/console.log" | tr -d '\r' >&2 || true
if grep -aq '^ARM64-CHECK PASS' "$CACHE/console.log"; then
  say "passed in ${took} s"
  exit 0
fi
[[ $qrc -eq 124 ]] && say "timed out after ${TIMEOUT_MIN} min"
say "failed after ${took} s: see $CACHE/console.log"
exit 1
