#!/usr/bin/env bash
# Debian packages from the bundles, with dpkg-deb (no debhelper): `bash packaging/build.sh deb` runs this.
#
#   dist/edge-asr_<version>_<arch>.deb      the CLI + daemon bundle in /opt/edge-asr, /usr/bin/edge-asr, the
#                                           systemd unit, /etc/edge-asr/config.toml (a conffile), the system
#                                           user edge-asr in group audio
#   dist/edge-asr-gui_<version>_<arch>.deb  the desktop app's bundle in /opt/edge-asr-gui, /usr/bin/edge-asr-gui,
#                                           its menu entry and icon
#
# The bundles are built first (packaging/build.sh bundle) when dist/ has none for this architecture, or when a
# source file is newer than them.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
ARCH=$(dpkg --print-architecture)
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)
MAINTAINER=${EDGE_ASR_MAINTAINER:-"edge-asr developers <edge-asr@localhost>"}
WORK=$ROOT/build/deb
# zstd -6 packs the daemon's package in seconds (88 MB); xz -6 makes it 73 MB in minutes of CPU. zstd needs
# dpkg >= 1.21.18 (Debian 12, Ubuntu 21.10), which the bundles' glibc 2.36 implies anyway.
read -r DEB_COMPRESSOR DEB_LEVEL <<<"${EDGE_ASR_DEB_COMPRESS:-zstd 6}"

log() { echo "== $*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }'; }

for tool in dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "build-deb.sh: needs $tool (apt install dpkg-dev)" >&2; exit 2; }
done
t0=$(now)
machine() { readelf -h "$1" 2>/dev/null | sed -n 's/^ *Machine: *//p'; }
case $ARCH in amd64) WANT_MACHINE="X86-64" ;; arm64) WANT_MACHINE="AArch64" ;; *) WANT_MACHINE=$ARCH ;; esac
# Source files a bundle is made from; a bundle older than any of them is rebuilt.
stale() {
  [ -n "$(find edge_asr models packaging/pyinstaller pyproject.toml -type f -not -path '*/__pycache__/*' \
    -newer "$1" -print -quit)" ]
}
if [ ! -x dist/edge-asr/edge-asr ] || [ ! -x dist/edge-asr-gui/edge-asr-gui ] \
   || ! machine dist/edge-asr/edge-asr | grep -q "$WANT_MACHINE" \
   || stale dist/edge-asr/edge-asr || stale dist/edge-asr-gui/edge-asr-gui; then
  log "no up-to-date bundles for $ARCH in dist/: building them"
  bash packaging/build.sh bundle
fi
t_bundle=$(elapsed "$t0")

# The system libraries the bundles leave to the system (packaging/pyinstaller/common.py says why).
DEPENDS_BASE="libc6 (>= 2.36), libstdc++6, libgcc-s1, libasound2, libportaudio2"
DEPENDS_CLI="$DEPENDS_BASE, adduser, procps"  # procps: the unit's ExecReload=/bin/kill
# libsm6, libice6: Qt's xcb platform plugin links them, and PyInstaller leaves them to the system.
DEPENDS_GUI="$DEPENDS_BASE, libgl1, libegl1, libxcb1, libdrm2, libwayland-client0, libwayland-cursor0, libsm6, libice6, fonts-dejavu-core | fonts-liberation2"

control() {  # name depends description-line description-body installed-dir
  local kib
  kib=$(du -sk "$5" | cut -f1)
  cat <<EOF
Package: $1
Version: $VERSION
Architecture: $ARCH
Maintainer: $MAINTAINER
Installed-Size: $kib
Depends: $2
Section: sound
Priority: optional
Homepage: https://github.com/edge-asr/edge-asr
Description: $3
$4
EOF
}

md5sums() { (cd "$1" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | sort | xargs -d '\n' md5sum) \
  >"$1/DEBIAN/md5sums"; }

pack() {  # dir -> dist/<name>_<version>_<arch>.deb
  local dir=$1 name=$2 t
  t=$(now)
  md5sums "$dir"
  dpkg-deb --root-owner-group -Z"$DEB_COMPRESSOR" -z"$DEB_LEVEL" --build "$dir" "dist/${name}_${VERSION}_${ARCH}.deb" \
    >/dev/null
  echo "  dist/${name}_${VERSION}_${ARCH}.deb: $(du -m "dist/${name}_${VERSION}_${ARCH}.deb" | cut -f1) MiB" \
       "($(du -sm "$dir" | cut -f1) MiB installed), packed in $(elapsed "$t") s"
}

# --- edge-asr: CLI + daemon + service ---------------------------------------------------------------------------
D=$WORK/edge-asr
rm -rf "$D" && mkdir -p "$D/DEBIAN" "$D/opt" "$D/usr/bin" "$D/etc/edge-asr" "$D/lib/systemd/system" \
  "$D/usr/share/doc/edge-asr"
cp -a dist/edge-asr "$D/opt/edge-asr"
ln -s /opt/edge-asr/edge-asr "$D/usr/bin/edge-asr"
cp edge_asr/data/config.example.toml "$D/etc/edge-asr/config.toml"
"${PYTHON:-python3}" packaging/deb/unit.py packaging/systemd/edge-asr.service >"$D/lib/systemd/system/edge-asr.service"
cp packaging/deb/README.Debian "$D/usr/share/doc/edge-asr/README.Debian"
echo "/etc/edge-asr/config.toml" >"$D/DEBIAN/conffiles"
install -m 0755 packaging/deb/edge-asr.postinst "$D/DEBIAN/postinst"
install -m 0755 packaging/deb/edge-asr.prerm "$D/DEBIAN/prerm"
install -m 0755 packaging/deb/edge-asr.postrm "$D/DEBIAN/postrm"
control edge-asr "$DEPENDS_CLI" "on-device speech-to-text: CLI and headless daemon (INT8 Whisper)" \
" edge-asr transcribes speech on the device with an INT8-quantized Whisper tiny.en on
 ONNX Runtime; nothing leaves the machine. This package has the command line
 (edge-asr transcribe, listen, models) and the daemon: an OpenAI-compatible
 HTTP API on 127.0.0.1:8765, live transcription of the microphone, a journal
 and Prometheus metrics, as the systemd service edge-asr (not enabled until
 you run: systemctl enable --now edge-asr)." "$D" >"$D/DEBIAN/control"

# --- edge-asr-gui: the desktop app -------------------------------------------------------------------------------
G=$WORK/edge-asr-gui
rm -rf "$G" && mkdir -p "$G/DEBIAN" "$G/opt" "$G/usr/bin" "$G/usr/share/applications" \
  "$G/usr/share/icons/hicolor/scalable/apps" "$G/usr/share/doc/edge-asr-gui"
cp -a dist/edge-asr-gui "$G/opt/edge-asr-gui"
ln -s /opt/edge-asr-gui/edge-asr-gui "$G/usr/bin/edge-asr-gui"
sed -e 's/^Exec=edge-asr gui$/Exec=edge-asr-gui/' -e 's/^TryExec=edge-asr$/TryExec=edge-asr-gui/' \
  assets/edge-asr.desktop >"$G/usr/share/applications/edge-asr.desktop"
grep -q '^Exec=edge-asr-gui$' "$G/usr/share/applications/edge-asr.desktop" \
  || { echo "build-deb.sh: assets/edge-asr.desktop changed its Exec line; update the sed above" >&2; exit 1; }
cp assets/edge-asr.svg "$G/usr/share/icons/hicolor/scalable/apps/edge-asr.svg"
cp packaging/deb/README.Debian "$G/usr/share/doc/edge-asr-gui/README.Debian"
control edge-asr-gui "$DEPENDS_GUI" "on-device speech-to-text: desktop app (INT8 Whisper)" \
" The edge-asr desktop app: press Record and watch your words appear, or drop
 audio files on the window; export txt, srt, vtt or json. Transcription runs
 on the device with an INT8-quantized Whisper tiny.en; nothing leaves the
 machine." "$G" >"$G/DEBIAN/control"

mkdir -p dist
log "dpkg-deb: packing ($DEB_COMPRESSOR -$DEB_LEVEL; EDGE_ASR_DEB_COMPRESS='xz 6' for smaller, slower)"
echo
echo "packages (version $VERSION, $ARCH; bundles $t_bundle s):"
pack "$D" edge-asr
pack "$G" edge-asr-gui
echo "  total $(elapsed "$t0") s; install: apt install ./dist/edge-asr_${VERSION}_${ARCH}.deb"
