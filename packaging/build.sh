#!/usr/bin/env bash
# Installers for edge-asr, from a clean clone with only Debian packages and PyPI reachable.
#
#   bash packaging/build.sh bundle   dist/edge-asr/edge-asr (CLI + daemon) and dist/edge-asr-gui/edge-asr-gui
#   bash packaging/build.sh deb      dist/edge-asr_<version>_<arch>.deb and dist/edge-asr-gui_<version>_<arch>.deb
#                                    (builds the bundles first when dist/ has none)
#
# Both print the sizes and times they measured. Work files go to build/, results to dist/ (both gitignored).
# Environment: PYTHON (default python3, needs a shared libpython), EDGE_ASR_BUILD_VENV (default build/venv),
# EDGE_ASR_BUILD_CACHE (where the model is built, default build/model-cache).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

PY=${PYTHON:-python3}
VENV=${EDGE_ASR_BUILD_VENV:-$ROOT/build/venv}
PYINSTALLER_REQ="pyinstaller>=6.10,<7"
APT_BUILD=(binutils gcc)    # objdump, readelf, strip (PyInstaller, stubs.py); gcc compiles the stubs
APT_DEB=(dpkg-dev fakeroot) # dpkg-deb, dpkg-architecture; files owned by root in the package
# What PySide6's Qt loads, so PyInstaller can import it while analysing the GUI and collect these libraries into the
# bundle (a desktop has them; a bare build machine or chroot does not). libgl1 and libegl1 stay with the system:
# the GUI .deb depends on them.
APT_GUI=(libglib2.0-0 libgl1 libegl1 libfontconfig1 libfreetype6 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0
  libx11-xcb1 libxcb-cursor0 libxcb-glx0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
  libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-util1 libxcb-xfixes0 libxcb-xkb1)

log() { echo "== $*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }'; }
mib() { du -sm "$1" | cut -f1; }

apt_need() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  if [ "$(id -u)" != 0 ]; then
    echo "build.sh: needs the Debian packages: sudo apt-get install ${missing[*]}" >&2
    exit 2
  fi
  log "apt: installing ${missing[*]}"
  for attempt in 1 2 3 4 5; do  # another apt may hold the lock for a moment
    if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null; then
      return 0
    fi
    sleep $((attempt * 10))
  done
  exit 1
}

build_venv() {
  "$PY" -c 'import sys, sysconfig; sys.exit(0 if sysconfig.get_config_var("Py_ENABLE_SHARED") else 1)' || {
    echo "build.sh: $PY has no shared libpython, which PyInstaller needs (Debian's python3 has it)" >&2; exit 2; }
  # Debian's python3 keeps its shared libpython in a package of its own.
  local libpython
  libpython=$("$PY" -c 'import sysconfig; print(sysconfig.get_config_var("INSTSONAME"))')
  if ! "$PY" -c 'import ctypes, sys; ctypes.CDLL(sys.argv[1])' "$libpython" 2>/dev/null; then
    apt_need "libpython$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  fi
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  log "pip: edge-asr[daemon,gui,wyoming] and $PYINSTALLER_REQ into $VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q ".[daemon,gui,wyoming]" "$PYINSTALLER_REQ"
}

# The parts of a bundle and what each costs, largest first.
report_parts() {
  local dir=$1
  echo "  $(basename "$dir"): $(mib "$dir") MiB in all; largest parts (MiB):"
  (cd "$dir/_internal" && du -sm -- * | sort -rn | head -12 | awk '{ printf "    %5d  %s\n", $1, $2 }')
}

cmd_bundle() {
  apt_need "${APT_BUILD[@]}" "${APT_GUI[@]}"
  local t0 t
  t0=$(now)
  build_venv
  local t_venv
  t_venv=$(elapsed "$t0")

  t=$(now)
  log "model: building the INT8 model with edge_asr/export into build/prebuilt"
  rm -rf build/prebuilt
  EDGE_ASR_CACHE_DIR="${EDGE_ASR_BUILD_CACHE:-$ROOT/build/model-cache}" "$VENV/bin/python" \
    packaging/pyinstaller/prebuild_model.py build/prebuilt
  local t_model
  t_model=$(elapsed "$t")

  local times=()
  for spec in edge-asr edge-asr-gui; do
    t=$(now)
    log "pyinstaller: $spec"
    rm -rf "dist/$spec"
    EDGE_ASR_PREBUILT_SRC="$ROOT/build/prebuilt" "$VENV/bin/pyinstaller" --noconfirm --log-level WARN \
      --distpath dist --workpath "build/pyinstaller" "packaging/pyinstaller/$spec.spec"
    times+=("$spec $(elapsed "$t") s")
  done

  echo
  echo "bundles (total $(elapsed "$t0") s: venv $t_venv s, model $t_model s, ${times[0]}, ${times[1]}):"
  report_parts dist/edge-asr
  report_parts dist/edge-asr-gui
  echo "  run: dist/edge-asr/edge-asr transcribe --demo   |   dist/edge-asr-gui/edge-asr-gui"
}

case "${1:-}" in
  bundle) cmd_bundle ;;
  deb) exec bash packaging/deb/build-deb.sh ;;
  *) echo "usage: bash packaging/build.sh bundle|deb" >&2; exit 2 ;;
esac
