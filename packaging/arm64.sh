#!/usr/bin/env bash
# The arm64 (aarch64) bundles and .deb packages, built inside a Debian bookworm arm64 chroot under qemu-user
# emulation (PyInstaller builds only for the platform it runs on). Slow: see the README for the measured time.
#
#   bash packaging/arm64.sh            dist/arm64/edge-asr, dist/arm64/edge-asr-gui, dist/edge-asr_<v>_arm64.deb,
#                                      dist/edge-asr-gui_<v>_arm64.deb
#
# The chroot is a private copy of the cached arm64 rootfs ($EDGE_ASR_ARM64_ROOTFS, default
# /var/cache/edge-asr-ci/arm64-rootfs, made by tests/arm64/rootfs.sh; else debootstrap'd here with
# packaging/test/rootfs.sh), so nothing is installed into the shared cache. Needs root, qemu-user-static and
# binfmt_misc with qemu-aarch64 registered (tests/arm64/rootfs.sh does that).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SHARED_ROOTFS=${EDGE_ASR_ARM64_ROOTFS:-/var/cache/edge-asr-ci/arm64-rootfs}
R=$ROOT/build/arm64-root
log() { echo "== arm64: $*" >&2; }
[ "$(id -u)" = 0 ] || { echo "arm64.sh: needs root (chroot)" >&2; exit 2; }

started=$SECONDS
if [ ! -x "$R/usr/bin/python3" ]; then
  if [ ! -e "$SHARED_ROOTFS/.edge-asr-rootfs-ready" ] && [ -f tests/arm64/rootfs.sh ]; then
    bash tests/arm64/rootfs.sh >/dev/null
  fi
  rm -rf "$R" && mkdir -p "$R"
  if [ -e "$SHARED_ROOTFS/.edge-asr-rootfs-ready" ]; then
    log "copying $SHARED_ROOTFS (without its /opt) to $R"
    tar -C "$SHARED_ROOTFS" --exclude=./opt/* --exclude=./proc/* --exclude=./dev/* -cf - . | tar -C "$R" -xf -
  else
    EDGE_ASR_ROOTFS_ARCH=arm64 bash packaging/test/rootfs.sh "$R" >/dev/null
  fi
  cp /etc/resolv.conf "$R/etc/resolv.conf"
  cp /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/ca-certificates.crt" 2>/dev/null || true
fi
cleanup() { for m in src dev proc; do mountpoint -q "$R/$m" && umount -l "$R/$m"; done; }
trap cleanup EXIT
mount -t proc proc "$R/proc"
mount --bind /dev "$R/dev"
# The source as committed, not the working tree's build/ and dist/.
rm -rf "$R/src" && mkdir -p "$R/src"
git ls-files -z | tar --null -T - -cf - | tar -C "$R/src" -xf -
log "apt: the build's Debian packages inside the chroot"
for attempt in 1 2 3; do
  chroot "$R" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends python3 python3-venv libpython3.11 binutils gcc libc6-dev dpkg-dev ca-certificates' \
    >/dev/null && break
  sleep $((attempt * 10))
done
t=$SECONDS
log "building the bundles and packages under emulation (PYTHON=/usr/bin/python3)"
# The venv and the model cache live outside /src, so a rebuild of a new commit reuses them.
chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 PYTHON=/usr/bin/python3 \
  EDGE_ASR_BUILD_VENV=/root/build-venv EDGE_ASR_BUILD_CACHE=/root/model-cache PIP_DISABLE_PIP_VERSION_CHECK=1 \
  bash -c 'cd /src && bash packaging/build.sh deb' 2>&1 | tee "$ROOT/build/arm64.log"
mkdir -p dist/arm64
rm -rf dist/arm64/edge-asr dist/arm64/edge-asr-gui
cp -a "$R/src/dist/edge-asr" "$R/src/dist/edge-asr-gui" dist/arm64/
cp "$R/src/dist/"*_arm64.deb dist/
echo "arm64: bundles and packages in $((SECONDS - started)) s (build under emulation $((SECONDS - t)) s):"
du -sm dist/arm64/edge-asr dist/arm64/edge-asr-gui dist/*_arm64.deb | awk '{ printf "  %5d MiB  %s\n", $1, $2 }'
