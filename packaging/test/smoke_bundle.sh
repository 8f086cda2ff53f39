#!/usr/bin/env bash
# Smoke test of the built bundles (bash packaging/build.sh bundle) in a clean Debian bookworm root filesystem:
# no Python, no pip, nothing of the build machine. The CLI bundle runs on the bare minbase system; the GUI bundle
# gets only the graphics stack and a font from apt (what every desktop has).
#
#   bash packaging/test/smoke_bundle.sh [DIST]        DIST defaults to dist/
#
# Checks: jfk.flac (and the same speech in mp4/h264, mp4/hevc, webm/vp9, mkv/av1, m4a, mp3, opus) transcribes to
# the right sentence with every symbol bound at start (LD_BIND_NOW=1: proves the stubbed FFmpeg libraries lack
# nothing); the messages for a missing part and a missing config; the daemon serves an upload on 127.0.0.1 with
# no microphone and stops cleanly on SIGTERM; `edge-asr-gui --screenshot` saves a 1024x600 PNG of a window whose
# model is loaded. Needs root, debootstrap, curl; ffmpeg for the extra formats (skipped without it).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
DIST=$(cd "${1:-dist}" && pwd)
EXPECTED="and so my fellow americans ask not what your country can do for you ask what you can do for your country"
GUI_SYSTEM_PACKAGES=(libgl1 libegl1 libxcb1 libdrm2 libwayland-client0 libwayland-cursor0 fonts-dejavu-core)
CACHE=${EDGE_ASR_ROOTFS_CACHE:-/var/cache/edge-asr-ci}
HOST_PY=${HOST_PYTHON:-python3}  # only for checks on this side (JSON, PNG header, a free port)

for b in edge-asr/edge-asr edge-asr-gui/edge-asr-gui; do
  [ -x "$DIST/$b" ] || { echo "smoke: $DIST/$b is missing: bash packaging/build.sh bundle" >&2; exit 2; }
done
started=$SECONDS
WORK=$(mktemp -d /tmp/edge-asr-smoke.XXXXXX)
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
inroot() { chroot "$R" env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 "$@"; }

bash packaging/test/rootfs.sh "$R" >/dev/null
mount -t proc proc "$R/proc"  # onnxruntime reads /proc/cpuinfo
mount --bind /dev "$R/dev"
mkdir -p "$R/opt" "$R/clips" "$R/out"
cp -a "$DIST/edge-asr" "$DIST/edge-asr-gui" "$R/opt/"
JFK=$ROOT/../shared/speech/en-dev/jfk.flac  # the original 44.1 kHz stereo file when ../shared is there
[ -f "$JFK" ] || JFK=$ROOT/edge_asr/data/jfk.flac
cp "$JFK" "$R/clips/jfk.flac"
echo "== smoke: bundles in a clean bookworm rootfs ($R), clip $JFK"

check "no Python in the rootfs" inroot sh -c '! command -v python3 && ! ls -d /usr/lib/python3* 2>/dev/null'

# --- the CLI bundle on the bare system --------------------------------------------------------------------------
out=$(inroot sh -c 'umask 022; LD_BIND_NOW=1 /opt/edge-asr/edge-asr transcribe /clips/jfk.flac -q -o /out' 2>&1) \
  || { bad "transcribe jfk.flac: $out"; }
got=$(norm <"$R/out/jfk.txt" 2>/dev/null || true)
check "jfk.flac -> the right sentence ('$got')" test "$got" = "$EXPECTED"
check "the transcript is mode 0644 under umask 022" test "$(stat -c %a "$R/out/jfk.txt" 2>/dev/null)" = 644

if command -v ffmpeg >/dev/null; then
  V=(-f lavfi -i color=c=blue:s=64x64:d=11)
  m() { ffmpeg -v error -y "$@" 2>/dev/null; }
  m "${V[@]}" -i "$JFK" -shortest -c:v libx264 -c:a aac "$R/clips/h264.mp4" || true
  m "${V[@]}" -i "$JFK" -shortest -c:v libx265 -c:a aac "$R/clips/hevc.mp4" || true
  m "${V[@]}" -i "$JFK" -shortest -c:v libvpx-vp9 -c:a libopus "$R/clips/vp9.webm" || true
  m "${V[@]}" -i "$JFK" -shortest -c:v libaom-av1 -cpu-used 8 -c:a libopus "$R/clips/av1.mkv" || true
  m -i "$JFK" -c:a aac "$R/clips/aac.m4a" || true
  m -i "$JFK" "$R/clips/jfk.mp3" || true
  m -i "$JFK" -c:a libopus "$R/clips/jfk.opus" || true
  for clip in h264.mp4 hevc.mp4 vp9.webm av1.mkv aac.m4a jfk.mp3 jfk.opus; do
    [ -f "$R/clips/$clip" ] || { echo "skip $clip (this ffmpeg cannot make it)"; continue; }
    stem=${clip%.*}_${clip#*.}
    inroot sh -c "LD_BIND_NOW=1 /opt/edge-asr/edge-asr transcribe /clips/$clip -q -o /out/$stem" >/dev/null 2>&1 || true
    got=$(cat "$R/out/$stem/"*.txt 2>/dev/null | norm || true)
    check "$clip -> the right sentence" test "$got" = "$EXPECTED"
  done
else
  echo "skip the other formats: ffmpeg is not installed here"
fi

help=$(inroot /opt/edge-asr/edge-asr --help 2>&1 || true)
for c in transcribe models eval bench listen daemon config gui doctor; do
  check "--help lists $c" grep -qw "$c" <<<"$help"
done
msg=$(inroot /opt/edge-asr/edge-asr gui 2>&1 || true)
names_gui_bundle() { grep -q 'edge-asr-gui bundle' <<<"$1" && ! grep -q -e Traceback -e "pip install '" <<<"$1"; }
check "'edge-asr gui' in the CLI bundle names the GUI bundle, no traceback" names_gui_bundle "$msg"
msg=$(inroot /opt/edge-asr/edge-asr devices 2>&1 || true)
says_portaudio() { grep -q "apt install libportaudio2" <<<"$1" && ! grep -q Traceback <<<"$1"; }
check "'edge-asr devices' without PortAudio says what to install ($msg)" says_portaudio "$msg"
msg=$(inroot /opt/edge-asr/edge-asr daemon --config /etc/edge-asr/config.toml 2>&1 || true)
check "a missing config says how to make one" grep -q "edge-asr config show --defaults > /etc/edge-asr/config.toml" <<<"$msg"
inroot sh -c 'mkdir -p /etc/edge-asr && /opt/edge-asr/edge-asr config show --defaults > /etc/edge-asr/config.toml'
check "config check accepts the generated file" inroot /opt/edge-asr/edge-asr config check --config /etc/edge-asr/config.toml

# --- the daemon: live mode on (no sound card here: it must say so and serve anyway) -----------------------------
PORT=$("$HOST_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# chroot execs env, which execs the daemon: $! is the daemon itself, so SIGTERM reaches it.
chroot "$R" env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 /opt/edge-asr/edge-asr daemon \
  --config /etc/edge-asr/config.toml --port "$PORT" >"$WORK/daemon.log" 2>&1 &
DAEMON_PID=$!
t0=$SECONDS
ready=
until [ $((SECONDS - t0)) -gt 90 ]; do
  ready=$(curl -s "http://127.0.0.1:$PORT/readyz" || true)
  "$HOST_PY" -c 'import json, sys; sys.exit(json.loads(sys.argv[1])["status"] != "ready")' "$ready" 2>/dev/null && break
  kill -0 "$DAEMON_PID" 2>/dev/null || break
  sleep 0.5
done
echo "     /readyz after $((SECONDS - t0)) s: $ready"
reply=$(curl -s -F file=@"$JFK" "http://127.0.0.1:$PORT/v1/audio/transcriptions" || true)
got=$("$HOST_PY" -c 'import json,sys; print(json.loads(sys.argv[1])["text"])' "$reply" 2>/dev/null | norm || true)
check "the daemon transcribes an upload on 127.0.0.1 ('$got')" test "$got" = "$EXPECTED"
mic_unavailable() { kill -0 "$DAEMON_PID" && grep -q '"state":"unavailable","reason":"the PortAudio library' <<<"$1"; }
check "the daemon says the microphone is unavailable and why, and serves anyway" mic_unavailable "$ready"
kill -TERM "$DAEMON_PID" 2>/dev/null || true
rc=0; wait "$DAEMON_PID" || rc=$?
DAEMON_PID=
check "SIGTERM stops the daemon with exit 0 (got $rc)" test "$rc" = 0
check "no traceback in the daemon's log" test "$(grep -c Traceback "$WORK/daemon.log")" = 0
t_cli=$((SECONDS - started))

# --- the GUI bundle, with the system's graphics stack and a font ------------------------------------------------
mkdir -p "$CACHE/apt-archives/partial" "$R/var/cache/apt/archives"
mount --bind "$CACHE/apt-archives" "$R/var/cache/apt/archives"  # .debs kept between runs
for attempt in 1 2 3; do
  chroot "$R" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends ${GUI_SYSTEM_PACKAGES[*]}" >"$WORK/apt.log" 2>&1 && break
  sleep $((attempt * 10))
done
gui=$(inroot sh -c 'QT_QPA_PLATFORM=offscreen LD_BIND_NOW=1 /opt/edge-asr-gui/edge-asr-gui --screenshot /out/shot.png \
  --size 1024x600 --print-ready' 2>"$WORK/gui.log") || bad "edge-asr-gui --screenshot exited non-zero: $(tail -3 "$WORK/gui.log")"
dims=$("$HOST_PY" - "$R/out/shot.png" <<'EOF' 2>/dev/null || true
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
w, h = struct.unpack(">II", data[16:24])
idat, i = b"", 8
while i < len(data):
    n, kind = struct.unpack(">I4s", data[i:i + 8])
    if kind == b"IDAT":
        idat += data[i + 8:i + 8 + n]
    i += 12 + n
raw = zlib.decompress(idat)
print(f"{w}x{h} {len(set(raw[::7]))}")  # size, and a rough count of distinct byte values (blank ~ 1-3)
EOF
)
check "the screenshot is a 1024x600 PNG ($dims)" test "${dims%% *}" = 1024x600
check "the screenshot is not blank" test "${dims##* }" -gt 20 2>/dev/null
# READY: the window announced itself interactive, then the model loaded (1 = loaded, 0 = failed), before the
# screenshot. Until the desktop app's screenshot mode waits for the model (the GUI issue), the picture shows
# "Loading tiny.en..." and this check fails.
check "the window was interactive (READY mark)" grep -q "^EDGE_ASR_GUI_READY " <<<"$gui"
check "the model was loaded when the screenshot was taken" grep -q "^EDGE_ASR_GUI_MODEL [0-9.]* 1$" <<<"$gui"
[ -f "$R/out/shot.png" ] && cp "$R/out/shot.png" "$DIST/smoke-screenshot.png" && echo "     screenshot: $DIST/smoke-screenshot.png"

echo "== smoke: $fails failed; $((SECONDS - started)) s (CLI and daemon $t_cli s)"
[ "$fails" = 0 ]
