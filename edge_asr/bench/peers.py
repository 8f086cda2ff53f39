"""The peers a benchmark compares against, run on the same clips: faster-whisper (in process, or a whole process
over every clip) and whisper.cpp (its CLI, one process per pass, on the ggml file ``edge_asr.bench.whispercpp``
writes from our own weights)."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..constants import SAMPLE_RATE
from ..errors import ConfigError
from .common import watch_peak

_TIMING = re.compile(r"whisper_print_timings:\s+(load|total) time =\s+([\d.]+) ms")

# faster-whisper as a whole process: model folder, threads, language ("" = detect), then the clips
FASTER_WHISPER_SCRIPT = """
import sys, faster_whisper
m = faster_whisper.WhisperModel(sys.argv[1], device="cpu", compute_type="int8", cpu_threads=int(sys.argv[2]))
for p in sys.argv[4:]:
    segs, info = m.transcribe(p, beam_size=1, language=sys.argv[3] or None, vad_filter=False)
    print("".join(s.text for s in segs).strip())
"""


def faster_whisper_runner(
    model: str, threads: int, language: str | None = None
) -> tuple[str, Callable[[Path], str]] | None:
    """faster-whisper int8 on the same CTranslate2 weights as ``model``, in its default long-form mode (timestamps
    and condition_on_previous_text on, no VAD), greedy; None when it is not installed. ``language`` None: English
    for an English-only model, detected by faster-whisper for a multilingual one."""
    from ..export.registry import resolve
    from ..weights.split import joined_folder

    try:
        import faster_whisper
    except ImportError:
        return None
    src = resolve(model)
    if src.path is None:
        return None
    fixed = language or (None if src.multilingual else "en")
    # A split source (Whisper base) is joined only while CTranslate2 loads it: it reads model.bin whole.
    with joined_folder(src.path) as folder:
        m = faster_whisper.WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=threads)

    def run(p: Path) -> str:
        segs, _ = m.transcribe(str(p), beam_size=1, language=fixed, vad_filter=False)
        return "".join(s.text for s in segs).strip()

    return f"faster-whisper {faster_whisper.__version__} int8", run


@dataclass(frozen=True)
class WhisperCpp:
    """whisper.cpp in `edge-asr bench --vs whisper.cpp=CLI,MODEL`."""

    cli: Path
    model: Path
    threads: int

    @classmethod
    def parse(cls, spec: str, threads: int) -> WhisperCpp:
        """From ``CLI,MODEL`` (the value after ``whisper.cpp=``)."""
        cli, sep, model = spec.partition(",")
        if not sep or not cli or not model:
            raise ConfigError("--vs whisper.cpp needs the CLI and a ggml model: --vs whisper.cpp=PATH_TO_CLI,MODEL")
        peer = cls(Path(cli).expanduser(), Path(model).expanduser(), threads)
        if not os.access(peer.cli, os.X_OK):
            raise ConfigError(f"{peer.cli} is not an executable whisper.cpp CLI (whisper-cli)")
        if not peer.model.is_file():
            raise ConfigError(
                f"{peer.model} is not a file (write one with: python -m edge_asr.bench.whispercpp MODEL OUT)"
            )
        return peer

    @property
    def name(self) -> str:
        return f"whisper.cpp ({self.model.name})"

    def run(self, wavs: Sequence[Path]) -> tuple[list[str], float, float, float, float]:
        """One process over all ``wavs``: (texts, wall s, its own load s, its total s, peak RSS MiB)."""
        with tempfile.TemporaryDirectory() as tmp:
            outs = [Path(tmp) / f"{i}" for i in range(len(wavs))]
            cmd = [str(self.cli), "-m", str(self.model), "-t", str(self.threads), "-l", "en", "-nt", "-bs", "1",
                   "-bo", "1"]
            for wav, out in zip(wavs, outs, strict=True):
                cmd += ["-f", str(wav), "-otxt", "-of", str(out)]
            started = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            peak = watch_peak(proc.pid)
            _, err = proc.communicate()
            wall = time.perf_counter() - started
            peak_mib = peak()
            if proc.returncode != 0:
                raise RuntimeError(f"whisper.cpp exited with {proc.returncode}: {err.strip()[-400:]}")
            times = {k: float(v) / 1000 for k, v in _TIMING.findall(err)}
            texts = [" ".join(o.with_suffix(".txt").read_text(encoding="utf-8").split()) for o in outs]
        return texts, wall, times.get("load", float("nan")), times.get("total", float("nan")), peak_mib


def wav_copies(paths: Sequence[Path], directory: Path) -> list[Path]:
    """16-kHz mono WAV copies of the clips, so whisper.cpp reads each clip as we decode it (its own readers take
    fewer formats and resample differently)."""
    import soundfile as sf

    from ..audio import decode_audio

    out = []
    for i, p in enumerate(paths):
        target = directory / f"{i:03d}-{Path(p).stem}.wav"
        sf.write(target, decode_audio(p), SAMPLE_RATE, subtype="PCM_16")
        out.append(target)
    return out
