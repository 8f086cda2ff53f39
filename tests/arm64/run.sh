#!/usr/bin/env bash
# The aarch64 tier: edge-asr installed from wheels only (--only-binary=:all:) into an emulated Debian bookworm
# arm64 (qemu-user, Cortex-A76 as on a Raspberry Pi 5), then checked against this machine's own results:
#   1. `transcribe --demo` gives the known text (models built inside, from the weights, on "the board");
#   2. both backends' transcripts of 3 en-dev clips equal the x86 ones;
#   3. `edge-asr doctor` sees aarch64, NEON, both runtimes, and auto picks LiteRT;
#   4. the daemon answers an upload on 127.0.0.1.
# Emulation is 20-50x slower than a board: correctness only, no speed figures. The rootfs (tests/arm64/rootfs.sh)
# and the venv inside it are cached under /var/cache/edge-asr-ci; first run ~30 min, later ones ~10 min.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
SHARED=${EDGE_ASR_SHARED:-$(cd "$REPO/.." && pwd)/shared}
HOST_PY=${HOST_PY:-$REPO/.venv/bin/python}
CLIPS=(jfk.flac LJ001-0002.wav librispeech-1995-1837-0001.wav)
DAEMON_PORT=${EDGE_ASR_ARM64_PORT:-18765}
DAEMON_WAIT=900 # s for the emulated daemon to load (and build) its model
MNT=/mnt/edge-asr
JFK_WORDS="ask not what your country can do for you"
export QEMU_CPU=cortex-a76

passed=0 failed=0
say() { echo "== arm64: $*"; }
ok() { passed=$((passed + 1)); say "PASS $*"; }
bad() { failed=$((failed + 1)); say "FAIL $*"; }
finish() { echo "arm64: $passed passed, $failed failed"; [ "$failed" = 0 ]; }

if [ ! -d "$SHARED/speech/en-dev" ] && [ "${CI:-}" = true ]; then  # CI has ../shared: missing is a failure
  bad "$SHARED/speech/en-dev is absent (EDGE_ASR_SHARED or ../shared), and CI=true needs it"
  finish || exit 1
fi
if [ ! -d "$SHARED/speech/en-dev" ] || [ "$(id -u)" != 0 ]; then
  say "skipped: needs root and $SHARED/speech/en-dev"
  echo "arm64: 0 passed, 0 failed, 1 skipped"
  exit 0
fi

fake_cpu() { # DIR: a Cortex-A76 /proc/cpuinfo and the /sys/devices/system/cpu lists, 2 cores
  mkdir -p "$1/sys/devices/system/cpu"
  for f in possible present online; do echo "0-1" >"$1/sys/devices/system/cpu/$f"; done
  for n in 0 1; do
    printf 'processor\t: %s\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp ' "$n"
    printf 'asimdhp cpuid asimdrdm lrcpc dcpop asimddp\nCPU implementer\t: 0x41\nCPU architecture: 8\n'
    printf 'CPU variant\t: 0x4\nCPU part\t: 0xd0b\nCPU revision\t: 1\n\n'
  done >"$1/cpuinfo"
}

ROOTFS=$(bash tests/arm64/rootfs.sh)
WORK=$(mktemp -d /tmp/edge-asr-arm64.XXXXXX)
mkdir -p "$WORK/dist" "$WORK/en-dev" "$ROOTFS$MNT" "$ROOTFS/proc" "$ROOTFS/dev"
DAEMON_PID=
cleanup() {
  if [ -n "$DAEMON_PID" ]; then kill "$DAEMON_PID" 2>/dev/null || true; wait "$DAEMON_PID" 2>/dev/null || true; fi
  for m in "$ROOTFS$MNT" "$ROOTFS/dev/shm" "$ROOTFS/dev" "$ROOTFS/sys" "$ROOTFS/proc/cpuinfo" "$ROOTFS/proc"; do
    mountpoint -q "$m" && umount -l "$m"
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
mount -t proc proc "$ROOTFS/proc"
# qemu-user passes the host's (x86) /proc/cpuinfo through, and the host's /sys would make LiteRT's cpuinfo crash:
# the programs get the CPU a Raspberry Pi 5 describes (2 Cortex-A76 cores), so that XNNPACK and ONNX Runtime
# initialise and pick their aarch64 kernels as on the board (without it XNNPACK silently does not start).
fake_cpu "$WORK/cpu"
mount --bind -o ro "$WORK/cpu/cpuinfo" "$ROOTFS/proc/cpuinfo"
mkdir -p "$ROOTFS/sys"
mount --bind -o ro "$WORK/cpu/sys" "$ROOTFS/sys"
mount --bind /dev "$ROOTFS/dev"
mount -t tmpfs tmpfs "$ROOTFS/dev/shm"
mount --bind "$WORK" "$ROOTFS$MNT"
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
cp "${CLIPS[@]/#/$SHARED/speech/en-dev/}" "$WORK/en-dev/"

in_arm() { # run a command in the arm64 system, with a clean environment; exec: the caller's PID is the command's
  exec chroot "$ROOTFS" /usr/bin/env -i HOME=/root LANG=C.UTF-8 QEMU_CPU="$QEMU_CPU" PATH="$VENV/bin:/usr/bin:/bin" \
    EDGE_ASR_CACHE_DIR="$MNT/models" "$@"
}
arm() { (in_arm "$@"); }

say "wheel of this checkout; venv inside the rootfs (cached by pyproject.toml)"
"$HOST_PY" -m pip wheel -q --no-deps -w "$WORK/dist" "$REPO" >"$WORK/wheel.log" 2>&1 || { cat "$WORK/wheel.log"; exit 1; }
WHEEL=$MNT/dist/$(basename "$(ls "$WORK"/dist/edge_asr-*.whl)")
VENV=/opt/edge-asr-venv-$(sha256sum pyproject.toml | cut -c1-12)
if [ ! -e "$ROOTFS$VENV/.complete" ]; then
  rm -rf "$ROOTFS"/opt/edge-asr-venv-*
  started=$SECONDS
  arm python3 -m venv "$VENV"
  arm python -m pip install -q --upgrade pip
  arm python -m pip install -q --only-binary=:all: "$WHEEL[daemon,litert]"
  touch "$ROOTFS$VENV/.complete"
  say "venv installed from aarch64 wheels in $((SECONDS - started)) s"
fi
arm python -m pip install -q --no-deps --force-reinstall "$WHEEL"
arm python -c "import platform, onnxruntime, ai_edge_litert; print(platform.machine(), onnxruntime.__version__)"

say "1. transcribe --demo (builds the models inside the emulated board)"
started=$SECONDS
if arm edge-asr transcribe --demo -q -o "$MNT/demo" && grep -qi "$JFK_WORDS" "$WORK/demo/jfk.txt"; then
  ok "demo text: $(cat "$WORK/demo/jfk.txt") ($((SECONDS - started)) s)"
else
  bad "demo transcription"
fi

say "2. both backends on ${CLIPS[*]}: arm64 vs this machine"
for backend in onnxruntime litert; do
  arm_clips=("${CLIPS[@]/#/$MNT/en-dev/}")
  arm edge-asr transcribe "${arm_clips[@]}" -q --backend "$backend" -o "$MNT/arm-$backend" || true
  "$HOST_PY" -m edge_asr transcribe "${CLIPS[@]/#/$WORK/en-dev/}" -q --backend "$backend" -o "$WORK/x86-$backend"
  if "$HOST_PY" - "$WORK/x86-$backend" "$WORK/arm-$backend" "${CLIPS[@]}" <<'EOF'; then
import sys
from pathlib import Path
from edge_asr.evaluate import normalize
x86, arm, clips = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
bad = 0
for clip in clips:
    name = Path(clip).stem + ".txt"
    a = (x86 / name).read_text().strip()
    b = (arm / name).read_text().strip() if (arm / name).exists() else "<missing>"
    same = normalize(a) == normalize(b)
    bad += not same
    print(f"   {'same' if same else 'DIFFERENT'} {clip}: x86 {a!r}" + ("" if same else f" / arm64 {b!r}"))
sys.exit(1 if bad else 0)
EOF
    ok "$backend transcripts equal x86's"
  else
    bad "$backend transcripts differ from x86's"
  fi
done

say "3. doctor"
# The benchmark part is optional here (EDGE_ASR_ARM64_BENCH=SECONDS): under emulation one round takes minutes,
# and its figures are emulation's, not a board's.
bench=(--no-bench)
[ -n "${EDGE_ASR_ARM64_BENCH:-}" ] && bench=(--seconds "$EDGE_ASR_ARM64_BENCH")
started=$SECONDS
if arm edge-asr doctor "${bench[@]}" >"$WORK/doctor.txt" 2>"$WORK/doctor.err"; then
  say "doctor took $((SECONDS - started)) s"
  sed 's/^/   /' "$WORK/doctor.txt"
  missing=""
  wants=("(aarch64)" "NEON" "dot product" "onnxruntime  " "LiteRT       ai-edge-litert" "auto picks     litert")
  [ -n "${EDGE_ASR_ARM64_BENCH:-}" ] && wants+=("litert       demo" "[XNNPACK]")
  for want in "${wants[@]}"; do
    grep -qF -- "$want" "$WORK/doctor.txt" || missing="$missing [$want]"
  done
  if [ -z "$missing" ]; then ok "doctor"; else bad "doctor output lacks$missing"; fi
else
  cat "$WORK/doctor.err"
  bad "doctor exited non-zero"
fi

say "4. daemon on 127.0.0.1:$DAEMON_PORT answers an upload"
in_arm edge-asr daemon --no-live --host 127.0.0.1 --port "$DAEMON_PORT" --journal-dir "$MNT/journal" \
  >"$WORK/daemon.log" 2>&1 &
DAEMON_PID=$!
ready=""
for ((i = 0; i < DAEMON_WAIT; i += 5)); do
  if curl -sf "http://127.0.0.1:$DAEMON_PORT/readyz" >/dev/null 2>&1; then ready=1; break; fi
  kill -0 "$DAEMON_PID" 2>/dev/null || break
  sleep 5
done
reply=""
[ -n "$ready" ] && reply=$(curl -sf -F "file=@$WORK/en-dev/jfk.flac" -F model=tiny.en \
  "http://127.0.0.1:$DAEMON_PORT/v1/audio/transcriptions" || true)
if grep -qi "$JFK_WORDS" <<<"$reply"; then
  ok "daemon reply: $reply"
else
  tail -20 "$WORK/daemon.log"
  bad "daemon upload (ready=${ready:-no}, reply=${reply:-none})"
fi
kill "$DAEMON_PID" 2>/dev/null || true
if wait "$DAEMON_PID"; then ok "daemon stopped cleanly on SIGTERM"; else bad "daemon exit status $? on SIGTERM"; fi
DAEMON_PID=

finish
