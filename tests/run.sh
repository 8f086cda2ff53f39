#!/usr/bin/env bash
# The test command (README, .ci/run): system packages the tests need, a venv with the project and its test
# extras, then pytest. Safe to re-run; skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  sox libsox-fmt-all ffmpeg espeak-ng                                   # make and convert test audio
  libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins          # a real (virtual) microphone
  xvfb xauth libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0 libxcb-shape0
  libxcb-xkb1 libxkbcommon-x11-0 libgl1 libegl1 libxkbcommon0 libfontconfig1 libglib2.0-0 libdbus-1-3  # Qt
)
# CI (or EDGE_ASR_PACKAGING=1) also builds the installers and tests them in a clean Debian rootfs (issue 10).
PACKAGING=0
if [ $# -eq 0 ] && { [ "${CI:-}" = true ] || [ "${EDGE_ASR_PACKAGING:-}" = 1 ]; }; then
  PACKAGING=1
  APT_PACKAGES+=(debootstrap curl binutils gcc dpkg-dev)  # rootfs, HTTP checks, PyInstaller + stubs, dpkg-deb
fi
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "== apt: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "== missing system packages (tests that need them will skip): sudo apt-get install ${missing[*]}"
  fi
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
echo "== pip: installing edge-asr[test] into .venv"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'

# Every stage runs and reports, whatever the one before it did; the run fails if any stage failed.
summary=() failed=0
stage() { # NAME COMMAND...: run one stage, note its result
  local name=$1 rc=0
  shift
  "$@" || rc=$?
  if [ "$rc" = 0 ]; then summary+=("$name: passed"); else summary+=("$name: FAILED (exit $rc)"); failed=1; fi
}

echo "== lint"
stage "ruff" .venv/bin/ruff check edge_asr tests packaging
stage "mypy" .venv/bin/mypy edge_asr tests
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # child scripts of tests import tests.live.vmic
echo "== pytest"
if [ $# -eq 0 ]; then
  # The slow tier (tests marked slow: the 2-minute soak) runs as a stage of its own, so the main stage stays
  # within 15 minutes on 2 cores.
  stage "pytest" .venv/bin/python -m pytest -q -p no:cacheprovider -m "not slow"
  echo "== pytest: the slow tier"
  stage "pytest slow tier" .venv/bin/python -m pytest -q -p no:cacheprovider -m slow
else
  stage "pytest" .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
fi
if [ $# -eq 0 ]; then
  if command -v xvfb-run >/dev/null; then
    echo "== pytest: the desktop app again on a real X server (Xvfb)"
    stage "pytest tests/gui on Xvfb" xvfb-run -a env QT_QPA_PLATFORM=xcb \
      .venv/bin/python -m pytest -q -p no:cacheprovider tests/gui
  elif [ "${CI:-}" = true ]; then
    summary+=("pytest tests/gui on Xvfb: FAILED (xvfb-run is not installed)")
    failed=1
  else
    summary+=("pytest tests/gui on Xvfb: skipped (xvfb-run is not installed)")
  fi
fi
# The installers take ~25 min from a fresh clone (~35 with the rootfs to debootstrap); under .ci/run they run only
# if that still fits CI's budget ($EDGE_ASR_CI_DEADLINE), and say so when it does not.
PACKAGING_NEEDS=1500  # s with the cached rootfs
[ -f "${EDGE_ASR_ROOTFS_CACHE:-/var/cache/edge-asr-ci}/rootfs-bookworm-$(dpkg --print-architecture 2>/dev/null)-minbase.tar" ] ||
  PACKAGING_NEEDS=2100
if [ "$PACKAGING" = 1 ] && [ -n "${EDGE_ASR_CI_DEADLINE:-}" ] &&
  [ $((EDGE_ASR_CI_DEADLINE - $(date +%s))) -lt "$PACKAGING_NEEDS" ]; then
  summary+=("packaging: NOT RUN ($(((EDGE_ASR_CI_DEADLINE - $(date +%s)) / 60)) min left of CI's budget, it needs ~$((PACKAGING_NEEDS / 60)) min)")
  PACKAGING=0
fi
if [ "$PACKAGING" = 1 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "== packaging: bundles and .deb packages, then tested in a clean Debian bookworm rootfs"
    stage "packaging: build" bash packaging/build.sh deb
    if [ "${summary[-1]}" = "packaging: build: passed" ]; then
      stage "packaging: bundle smoke test" bash packaging/test/smoke_bundle.sh
      stage "packaging: .deb test" bash packaging/test/test_deb.sh
    fi
  else
    summary+=("packaging: skipped (the rootfs tests need root: debootstrap, chroot)")
  fi
fi
echo "== summary"
for line in "${summary[@]}"; do echo "  $line"; done
exit "$failed"
