#!/usr/bin/env bash
# A Debian bookworm arm64 root file system that runs under qemu-user emulation: built once with debootstrap,
# reused afterwards. Prints its path on stdout when it is ready.
#
#   tests/arm64/rootfs.sh [DIR]     DIR default: $EDGE_ASR_ARM64_ROOTFS or /var/cache/edge-asr-ci/arm64-rootfs
#
# Needs root. Installs debootstrap and qemu-user-static with apt when missing, mounts binfmt_misc by hand (this
# container does not) and registers qemu-aarch64 with the F flag, so the interpreter works inside the chroot
# without being copied into it. Anything else that wants an arm64 Debian (an arm64 .deb build) can call this.
set -euo pipefail

ROOTFS=${1:-${EDGE_ASR_ARM64_ROOTFS:-/var/cache/edge-asr-ci/arm64-rootfs}}
SUITE=bookworm
MIRROR=${EDGE_ASR_DEBIAN_MIRROR:-http://deb.debian.org/debian}
STAMP="$ROOTFS/.edge-asr-rootfs-ready"
PACKAGES=python3,python3-venv,python3-pip,ca-certificates,libportaudio2,libgomp1,procps,curl
QEMU=/usr/bin/qemu-aarch64-static
BINFMT=/proc/sys/fs/binfmt_misc
APT_TRIES=30 # apt/dpkg may be locked for a while by other jobs on the machine
APT_WAIT=10  # s between tries

log() { echo "== arm64 rootfs: $*" >&2; }

apt_install() {
  local i
  for ((i = 1; i <= APT_TRIES; i++)); do
    if apt-get update -qq >/dev/null 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1; then
      return 0
    fi
    log "apt busy or failing (try $i/$APT_TRIES); retrying in ${APT_WAIT}s"
    sleep "$APT_WAIT"
  done
  log "could not install $*"
  return 1
}

[ "$(id -u)" = 0 ] || { log "needs root"; exit 1; }
command -v debootstrap >/dev/null || apt_install debootstrap
[ -x "$QEMU" ] || apt_install qemu-user-static

# binfmt_misc: mounted and qemu-aarch64 registered, by hand (no systemd-binfmt here).
mountpoint -q "$BINFMT" || mount -t binfmt_misc binfmt_misc "$BINFMT"
if [ ! -e "$BINFMT/qemu-aarch64" ]; then
  magic='\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00'
  mask='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'
  echo ":qemu-aarch64:M::$magic:$mask:$QEMU:F" >"$BINFMT/register"
fi

if [ ! -e "$STAMP" ]; then
  log "building $SUITE arm64 (minbase) in $ROOTFS with debootstrap: takes 10-25 min"
  rm -rf "$ROOTFS.tmp"
  mkdir -p "$(dirname "$ROOTFS")"
  debootstrap --variant=minbase --arch=arm64 --include="$PACKAGES" "$SUITE" "$ROOTFS.tmp" "$MIRROR" >&2
  # pip inside the chroot verifies TLS against the CA bundle; the rootfs gets the host's (same Debian CA set
  # plus whatever the host trusts for its package proxy).
  cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS.tmp/etc/ssl/certs/ca-certificates.crt"
  rm -rf "$ROOTFS"
  mv "$ROOTFS.tmp" "$ROOTFS"
  date -u +%FT%TZ >"$STAMP"
fi
echo "$ROOTFS"
