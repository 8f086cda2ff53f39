#!/usr/bin/env bash
# A clean Debian bookworm root filesystem (debootstrap minbase: no Python, no systemd as PID 1), cached as a
# tarball outside the repository, unpacked fresh for each test so nothing one test installs leaks into the next.
#
#   bash packaging/test/rootfs.sh DIR       unpack a fresh copy into DIR (building the cached tarball first)
#   bash packaging/test/rootfs.sh --cache   only make sure the cached tarball exists, print its path
#
# Needs root and debootstrap (apt install debootstrap). Cache: $EDGE_ASR_ROOTFS_CACHE or /var/cache/edge-asr-ci.
set -euo pipefail

SUITE=${EDGE_ASR_ROOTFS_SUITE:-bookworm}
ARCH=${EDGE_ASR_ROOTFS_ARCH:-$(dpkg --print-architecture)}
MIRROR=${EDGE_ASR_DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=${EDGE_ASR_ROOTFS_CACHE:-/var/cache/edge-asr-ci}
TARBALL="$CACHE/rootfs-$SUITE-$ARCH-minbase.tar"

[ "$(id -u)" = 0 ] || { echo "rootfs.sh: needs root (debootstrap, chroot)" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "rootfs.sh: needs debootstrap: apt install debootstrap" >&2; exit 2; }

build_tarball() {
  mkdir -p "$CACHE"
  local work
  work=$(mktemp -d "$CACHE/.rootfs-XXXXXX")
  trap 'rm -rf "$work"' RETURN
  local started=$SECONDS
  echo "== rootfs: debootstrap --variant=minbase $SUITE $ARCH (cached in $TARBALL afterwards)" >&2
  debootstrap --variant=minbase --arch "$ARCH" "$SUITE" "$work/root" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
    tail -20 "$work/debootstrap.log" >&2; exit 1; }
  # Security updates too, as a real bookworm system has them.
  echo "deb http://deb.debian.org/debian-security $SUITE-security main" >>"$work/root/etc/apt/sources.list"
  rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*
  tar -C "$work/root" -cf "$work/rootfs.tar" .
  mv "$work/rootfs.tar" "$TARBALL"
  echo "== rootfs: built in $((SECONDS - started)) s: $(du -h "$TARBALL" | cut -f1)" >&2
}

[ -f "$TARBALL" ] || build_tarball
if [ "${1:-}" = "--cache" ]; then
  echo "$TARBALL"
  exit 0
fi
DIR=${1:?usage: rootfs.sh DIR | --cache}
mkdir -p "$DIR"
tar -C "$DIR" -xf "$TARBALL"
cp /etc/resolv.conf "$DIR/etc/resolv.conf"
echo "$DIR"
