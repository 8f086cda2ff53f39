#!/usr/bin/env bash
# The .deb packages in a clean Debian bookworm root filesystem (debootstrap; no systemd as PID 1):
# `apt install ./edge-asr_*.deb` resolves its dependencies from Debian, the unit passes `systemd-analyze verify`,
# the daemon runs as the service would (its user, its environment, its ExecStart) and transcribes an upload, the
# GUI package's app runs with nothing but its own dependencies, then remove and purge leave nothing behind.
#
#   bash packaging/test/test_deb.sh [DIST]      after `bash packaging/build.sh deb`; needs root, debootstrap, curl
#   EDGE_ASR_DEB_ARCH=arm64 bash packaging/test/test_deb.sh     the arm64 packages (packaging/arm64.sh), in an arm64
#                                                rootfs under qemu-user emulation (tests/arm64/rootfs.sh registers it)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
DIST=$(cd "${1:-dist}" && pwd)
HOST_ARCH=$(dpkg --print-architecture)
ARCH=${EDGE_ASR_DEB_ARCH:-$HOST_ARCH}
# s the daemon may take to be ready: emulated (another architecture under qemu-user) it runs 20-50x slower.
READY_TIMEOUT=90
[ "$ARCH" = "$HOST_ARCH" ] || READY_TIMEOUT=900
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)
DEB=$DIST/edge-asr_${VERSION}_${ARCH}.deb
GUI_DEB=$DIST/edge-asr-gui_${VERSION}_${ARCH}.deb
EXPECTED="and so my fellow americans ask not what your country can do for you ask what you can do for your country"
CACHE=${EDGE_ASR_ROOTFS_CACHE:-/var/cache/edge-asr-ci}
HOST_PY=${HOST_PYTHON:-python3}
for f in "$DEB" "$GUI_DEB"; do [ -f "$f" ] || { echo "test_deb: $f is missing: bash packaging/build.sh deb" >&2; exit 2; }; done

started=$SECONDS
WORK=$(mktemp -d /tmp/edge-asr-deb.XXXXXX)
R=$WORK/root
DAEMON_PID=
cleanup() {
  [ -n "$DAEMON_PID" ] && kill -9 "$DAEMON_PID" 2>/dev/null || true
  for m in var/cache/apt/archives dev proc; do mountpoint -q "$R/$m" 2>/dev/null && umount -l "$R/$m"; done
  rm -rf "$WORK"
}
trap cleanup EXIT
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
norm() { tr '[:upper:]' '[:lower:]' | tr -c 'a-z0-9\n' ' ' | tr -s ' \n' ' ' | sed 's/^ //; s/ $//'; }
inroot() { chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
apt_in() {
  for attempt in 1 2 3; do
    inroot env DEBIAN_FRONTEND=noninteractive apt-get "$@" >>"$WORK/apt.log" 2>&1 && return 0
    sleep $((attempt * 10))
  done
  tail -20 "$WORK/apt.log"; return 1
}
# Every file of the system, for the before/after comparison (apt's and dpkg's own bookkeeping aside).
snapshot() {
  (cd "$R" && find . -xdev \( -path ./proc -o -path ./dev -o -path ./tmp -o -path ./var/cache/apt \
    -o -path ./var/lib/apt -o -path ./var/lib/dpkg -o -path ./var/log -o -path ./var/cache/debconf \
    -o -path ./var/cache/ldconfig -o -path ./run \) -prune -o -print | sort)
}

if [ "$ARCH" != "$HOST_ARCH" ] && [ "$ARCH" = arm64 ] && [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  echo "test_deb: arm64 needs qemu-aarch64 in binfmt_misc: run tests/arm64/rootfs.sh once" >&2; exit 2
fi
EDGE_ASR_ROOTFS_ARCH=$ARCH bash packaging/test/rootfs.sh "$R" >/dev/null
mount -t proc proc "$R/proc"
mount --bind /dev "$R/dev"
mkdir -p "$CACHE/apt-archives/partial" "$R/var/cache/apt/archives"
mount --bind "$CACHE/apt-archives" "$R/var/cache/apt/archives"
mkdir -p "$R/tmp/debs" "$R/clips"
cp "$DEB" "$GUI_DEB" "$R/tmp/debs/"
JFK=$ROOT/../shared/speech/en-dev/jfk.flac
[ -f "$JFK" ] || JFK=$ROOT/edge_asr/data/jfk.flac
cp "$JFK" "$R/clips/jfk.flac"
echo "== deb: $(basename "$DEB") and $(basename "$GUI_DEB") in a clean bookworm $ARCH rootfs ($R)"
apt_in update -qq
# systemd-analyze is the verifier, not a dependency: install it first, so that what remains after the purge is
# compared with a system that already had it.
apt_in install -y -qq --no-install-recommends systemd
before=$(snapshot)

t=$SECONDS
check "apt install ./$(basename "$DEB") (dependencies from Debian)" \
  apt_in install -y -qq --no-install-recommends "/tmp/debs/$(basename "$DEB")"
echo "     installed in $((SECONDS - t)) s"
check "edge-asr is on PATH and runs" inroot sh -c 'edge-asr --version | grep -q "edge-asr '"$VERSION"'"'
check "system user edge-asr, in group audio" inroot sh -c 'id -nG edge-asr | grep -qw audio && getent passwd edge-asr | grep -q ":/var/lib/edge-asr:"'
check "/etc/edge-asr/config.toml is a conffile" inroot sh -c "dpkg-query -W -f='\${Conffiles}' edge-asr | grep -q /etc/edge-asr/config.toml"
check "the installed config passes 'edge-asr config check'" inroot edge-asr config check --config /etc/edge-asr/config.toml
UNIT=/lib/systemd/system/edge-asr.service
verify=$(inroot systemd-analyze verify "$UNIT" 2>&1) && vrc=0 || vrc=$?
check "systemd-analyze verify $UNIT${verify:+ ($verify)}" test "$vrc" = 0 -a -z "$(grep edge-asr <<<"$verify")"
exec_start=$(sed -n 's/^ExecStart=//p' "$R$UNIT")
check "the unit starts the installed program ($exec_start)" inroot test -x "${exec_start%% *}"

# The daemon as systemd would start it: the unit's user, groups, environment, directories and ExecStart.
env_args=()
while read -r line; do
  for kv in $line; do env_args+=("$kv"); done
done < <(sed -n 's/^Environment=//p' "$R$UNIT")
inroot sh -c 'install -d -o edge-asr -g edge-asr -m 0750 /var/lib/edge-asr /var/cache/edge-asr'
PORT=$("$HOST_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# shellcheck disable=SC2086  # ExecStart is split into words, as systemd does
chroot --userspec=edge-asr:edge-asr --groups=audio "$R" env -i PATH=/usr/bin:/bin "${env_args[@]}" \
  STATE_DIRECTORY=/var/lib/edge-asr CACHE_DIRECTORY=/var/cache/edge-asr CONFIGURATION_DIRECTORY=/etc/edge-asr \
  EDGE_ASR_SERVER_PORT="$PORT" $exec_start >"$WORK/daemon.log" 2>&1 &
DAEMON_PID=$!
t=$SECONDS
ready=
until [ $((SECONDS - t)) -gt "$READY_TIMEOUT" ]; do
  ready=$(curl -s "http://127.0.0.1:$PORT/readyz" || true)
  "$HOST_PY" -c 'import json, sys; sys.exit(json.loads(sys.argv[1])["status"] != "ready")' "$ready" 2>/dev/null && break
  kill -0 "$DAEMON_PID" 2>/dev/null || break
  sleep 0.5
done
echo "     /readyz after $((SECONDS - t)) s: $ready"
reply=$(curl -s -F file=@"$JFK" "http://127.0.0.1:$PORT/v1/audio/transcriptions" || true)
got=$("$HOST_PY" -c 'import json, sys; print(json.loads(sys.argv[1])["text"])' "$reply" 2>/dev/null | norm || true)
check "the service's daemon transcribes an upload ('$got')" test "$got" = "$EXPECTED"
kill -TERM "$DAEMON_PID" 2>/dev/null || true
rc=0; wait "$DAEMON_PID" || rc=$?
DAEMON_PID=
check "SIGTERM: exit 0 (got $rc)" test "$rc" = 0
check "no traceback in the daemon's log" test "$(grep -c Traceback "$WORK/daemon.log")" = 0
check "the journal went to the state directory" test -d "$R/var/lib/edge-asr/journal"

# --- the desktop package: its Depends must be all the app needs ------------------------------------------------
check "apt install ./$(basename "$GUI_DEB")" \
  apt_in install -y -qq --no-install-recommends "/tmp/debs/$(basename "$GUI_DEB")"
check "menu entry runs edge-asr-gui" grep -q '^Exec=edge-asr-gui$' "$R/usr/share/applications/edge-asr.desktop"
check "icon installed" test -s "$R/usr/share/icons/hicolor/scalable/apps/edge-asr.svg"
inroot sh -c 'QT_QPA_PLATFORM=offscreen edge-asr-gui --screenshot /tmp/deb-shot.png --size 800x500' \
  >"$WORK/gui.log" 2>&1 && grc=0 || grc=$?
check "edge-asr-gui --screenshot from the package (rc $grc)" test "$grc" = 0 -a -s "$R/tmp/deb-shot.png"

# --- remove, then purge ------------------------------------------------------------------------------------------
check "apt remove" apt_in remove -y -qq edge-asr-gui edge-asr
check "remove: the programs are gone" test ! -e "$R/opt/edge-asr" -a ! -e "$R/usr/bin/edge-asr" -a ! -e "$R/opt/edge-asr-gui"
check "remove: the conffile stays" test -f "$R/etc/edge-asr/config.toml"
check "remove: edge-asr-gui, which has no conffiles, is gone entirely" \
  inroot sh -c '! dpkg -l edge-asr-gui 2>/dev/null | grep -q "^[a-z][a-z] "'
check "apt purge" apt_in purge -y -qq edge-asr
check "purge: dpkg knows nothing of edge-asr" inroot sh -c '! dpkg -l "edge-asr*" 2>/dev/null | grep -q "^[a-z][a-z] "'
apt_in autoremove --purge -y -qq
after=$(snapshot)
# The system user stays on purge, as Debian does: its lines in the account files differ. Root's own caches from
# running the programs as root here (fontconfig's, onnxruntime's ~/.cache/Microsoft) are not the package's.
left=$(diff <(echo "$before") <(echo "$after") | grep '^[<>]' \
  | grep -v -E '^> \./etc/(passwd|group|shadow|gshadow|subuid|subgid)-?$' \
  | grep -v -E '^> \./(root/\.cache|var/cache/fontconfig)(/|$)' \
  | grep -v -x '< ./opt' || true)  # debootstrap's empty /opt, owned by no package: dpkg removes it with ours
check "purge: nothing else is left (${left:-clean})" test -z "$left"
echo "== deb: $fails failed; $((SECONDS - started)) s"
[ "$fails" = 0 ]
