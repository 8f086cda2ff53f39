"""`edge-asr bench FILES|MANIFEST [--vs PEER]`: speed, memory and accuracy of the engine against its peers
(faster-whisper, whisper.cpp: edge_asr.bench.peers) on the same clips, interleaved.

Everything here prints figures; nothing asserts timings. Steady-state runs happen in this process after a
warm-up; whole-process runs start fresh interpreters and read their own peak RSS (common.run_process).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..audio import decode_audio
from ..constants import SAMPLE_RATE
from ..evaluate import Clip, wer
from ..options import EngineOptions, TranscribeOptions
from .common import MIB, SPAWNED_AT_ENV, Column, TimedRuntime, median, run_process, table
from .peers import FASTER_WHISPER_SCRIPT, WhisperCpp, faster_whisper_runner, wav_copies

COLD_START_CLIP = 5.0  # s of audio for the cold-start measurement

# The clock starts when the parent spawns the process (run_process passes the time): psutil's create_time() is
# boot time, which /proc/stat gives in whole seconds, plus the start tick, and was 0.87 s early on this machine.
_COLD_SCRIPT = f"""
import os, sys, time, psutil
t0 = float(os.environ["{SPAWNED_AT_ENV}"])
from edge_asr.factory import load_transcriber
from edge_asr.options import EngineOptions
tr = load_transcriber(EngineOptions(model=sys.argv[1], threads=int(sys.argv[2]), cache_dir=sys.argv[3] or None))
ready = time.time() - t0
segs, info = tr.transcribe(sys.argv[4])
next(iter(segs), None)
cpu = psutil.Process().cpu_times()
print(ready, time.time() - t0, cpu.user + cpu.system)
"""


@dataclass
class SystemRuns:
    name: str
    load_s: float = 0.0
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    encoder_s: list[float] = field(default_factory=list)
    decoder_s: list[float] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)


def _ours(engine: EngineOptions, language: str | None) -> tuple[Callable[[Path], str], SystemRuns, TimedRuntime]:
    from ..factory import load_transcriber
    from ..transcribe import WhisperTranscriber

    t = time.perf_counter()
    tr = load_transcriber(engine)
    runs = SystemRuns(f"edge-asr {tr.name}", load_s=time.perf_counter() - t)
    assert isinstance(tr, WhisperTranscriber)
    timed = TimedRuntime(tr.runtime)
    tr.runtime = timed
    tr.decoder.rt = timed
    opts = TranscribeOptions(language=language if tr.is_multilingual else None)

    def run(p: Path) -> str:
        segs, _ = tr.transcribe(p, opts)
        return "".join(s.text for s in segs).strip()

    return run, runs, timed


def _faster_whisper(model: str, threads: int, language: str | None) -> tuple[Callable[[Path], str], SystemRuns] | None:
    t = time.perf_counter()
    peer = faster_whisper_runner(model, threads, language)
    if peer is None:
        return None
    name, run = peer
    return run, SystemRuns(name, load_s=time.perf_counter() - t)


def run_benchmark(
    clips: list[Clip],
    engine: EngineOptions,
    repeats: int,
    vs_faster_whisper: bool,
    processes: bool,
    out: Callable[[str], None] = print,
    whisper_cpp: WhisperCpp | None = None,
) -> None:
    from ..export.registry import resolve
    from ..weights.split import joined_folder

    src = resolve(engine.model)
    ct2 = src.path is not None and src.path.is_dir() and (src.path / "config.json").is_file()
    if vs_faster_whisper and not ct2:
        out(f"{engine.model} is not an installed CTranslate2 checkpoint (faster-whisper needs one): comparison skipped")
    if vs_faster_whisper and ct2 and src.path is not None:
        # faster-whisper reads one model.bin: a split source is joined for the run and deleted afterwards
        with joined_folder(src.path) as folder:
            _run_benchmark(clips, engine, repeats, folder, processes, out, whisper_cpp)
    else:
        _run_benchmark(clips, engine, repeats, None, processes, out, whisper_cpp)


def _clip_language(clips: list[Clip]) -> str | None:
    """The language every clip shares, given to both systems; None (both detect) for a mixed set."""
    languages = {c.language for c in clips}
    return languages.pop() if len(languages) == 1 else None


def _run_benchmark(
    clips: list[Clip],
    engine: EngineOptions,
    repeats: int,
    fw_dir: Path | None,
    processes: bool,
    out: Callable[[str], None],
    whisper_cpp: WhisperCpp | None = None,
) -> None:
    language = _clip_language(clips)
    audio_s = sum(len(decode_audio(c.path)) for c in clips) / SAMPLE_RATE
    out(f"{len(clips)} clips, {audio_s:.1f} s of audio, {engine.threads} threads, {repeats} interleaved repeats")
    ours_fn, ours, timed = _ours(engine, language)
    systems: list[tuple[Callable[[Path], str], SystemRuns]] = [(ours_fn, ours)]
    if fw_dir is not None:
        fw = _faster_whisper(engine.model, engine.threads, language)
        if fw is None:
            out("faster-whisper is not installed (pip install faster-whisper): comparison skipped")
        else:
            systems.append(fw)
    cpp = CppRuns(whisper_cpp, clips) if whisper_cpp is not None else None
    if cpp is not None:
        systems.append((cpp.unused, cpp.runs))
    for fn, runs in systems:  # warm-up
        if cpp is None or runs is not cpp.runs:
            fn(clips[0].path)
    for r in range(repeats):
        order = systems if r % 2 == 0 else systems[::-1]
        for fn, runs in order:
            if cpp is not None and runs is cpp.runs:
                cpp.one_pass()  # one process over every clip; its own load time is taken off
                continue
            enc0, dec0 = timed.encoder_s, timed.decoder_s
            w, c = time.perf_counter(), time.process_time()
            texts = [fn(clip.path) for clip in clips]
            runs.wall.append(time.perf_counter() - w)
            runs.cpu.append(time.process_time() - c)
            if runs is ours:
                runs.encoder_s.append(timed.encoder_s - enc0)
                runs.decoder_s.append(timed.decoder_s - dec0)
            runs.texts = texts
    have_refs = all(c.reference for c in clips)
    out("")
    columns = [Column("system", 52), Column("load s", 7, ".2f"), Column("wall s", 7, ".2f"),
               Column("cpu s", 7, ".2f"), Column("RTF", 7, ".4f"), Column("x RT", 6, ".1f"), Column("WER %", 6, ".2f")]
    rows = []
    for _, runs in systems:
        wall = median(runs.wall)
        score = 100 * wer([c.reference for c in clips], runs.texts) if have_refs else "n/a"
        rows.append([runs.name, runs.load_s, wall, median(runs.cpu), wall / audio_s, audio_s / wall, score])
    for line in table(columns, rows):
        out(line)
    out(
        f"edge-asr split: encoder {median(ours.encoder_s):.2f} s, decoder {median(ours.decoder_s):.2f} s, "
        f"features/other {median(ours.wall) - median(ours.encoder_s) - median(ours.decoder_s):.2f} s (median per pass)"
    )
    for _, peer in systems[1:]:
        out(
            f"steady-state speed-up vs {peer.name.split(' (')[0]}: {median(peer.wall) / median(ours.wall):.2f}x "
            f"(median of {repeats} interleaved passes)"
        )
    out(_model_sizes(engine, fw_dir))
    with_fw = any(runs.name.startswith("faster-whisper") for _, runs in systems)
    if processes:
        _whole_process(clips, engine, repeats, with_fw, fw_dir, language, out, cpp)


def _whole_process(
    clips: list[Clip],
    engine: EngineOptions,
    repeats: int,
    with_fw: bool,
    fw_dir: Path | None,
    language: str | None,
    out: Callable[[str], None],
    cpp: CppRuns | None = None,
) -> None:
    paths = [str(c.path) for c in clips]
    cache = ["--cache-dir", engine.cache_dir] if engine.cache_dir else []
    with tempfile.TemporaryDirectory() as tmp:
        flags = ["-q", "-o", tmp, "--model", engine.model, "--threads", str(engine.threads), *cache]
        if language and resolve_multilingual(engine.model):
            flags += ["--language", language]
        ours_cmd = ["-m", "edge_asr", "transcribe", *paths, *flags]
        fw_cmd = [FASTER_WHISPER_SCRIPT, str(fw_dir), str(engine.threads), language or "", *paths]
        walls: dict[str, list[float]] = {"edge-asr": [], "faster-whisper": []}
        rss: dict[str, float] = {"edge-asr": 0.0, "faster-whisper": 0.0}
        for r in range(repeats):
            pairs = [("edge-asr", ours_cmd)] + ([("faster-whisper", fw_cmd)] if with_fw else [])
            for name, cmd in pairs if r % 2 == 0 else pairs[::-1]:
                w, m, _ = run_process(cmd)
                walls[name].append(w)
                rss[name] = max(rss[name], m)
        out("")
        out("whole processes (start, load, transcribe every clip, exit), median:")
        for name in ("edge-asr", "faster-whisper"):
            if walls[name]:
                out(f"  {name:15s} {median(walls[name]):7.2f} s   peak RSS {rss[name]:6.0f} MiB")
        if with_fw and walls["faster-whisper"]:
            out(
                "  whole-process speed-up vs faster-whisper: "
                f"{median(walls['faster-whisper']) / median(walls['edge-asr']):.2f}x"
            )
        if cpp is not None:
            out(f"  {'whisper.cpp':15s} {median(cpp.process_wall):7.2f} s   peak RSS {max(cpp.peaks):6.0f} MiB"
                "   (its steady-state passes are whole processes)")
            out(f"  whole-process speed-up vs whisper.cpp: {median(cpp.process_wall) / median(walls['edge-asr']):.2f}x")
        longest = max(clips, key=lambda c: len(decode_audio(c.path)))
        _, m, _ = run_process(["-m", "edge_asr", "transcribe", str(longest.path), *flags])
        out(f"  peak RSS of `edge-asr transcribe` on one clip ({longest.path.name}): {m:.0f} MiB")
        if cpp is not None:
            out(f"  peak RSS of whisper.cpp on the same clip: {cpp.one_clip(longest)[1]:.0f} MiB")
        five = Path(tmp) / "five-seconds.wav"
        import soundfile as sf

        sf.write(five, decode_audio(clips[0].path)[: int(COLD_START_CLIP * SAMPLE_RATE)], SAMPLE_RATE)
        cold_cmd = [_COLD_SCRIPT, engine.model, str(engine.threads), engine.cache_dir or "", str(five)]
        colds = [[float(x) for x in run_process(cold_cmd).stdout.strip().splitlines()[-1].split()]
                 for _ in range(repeats)]
        out(f"  cold start: process start -> model ready median {median([c[0] for c in colds]):.2f} s; "
            f"-> first segment of a {COLD_START_CLIP:.0f}-s clip median {median([c[1] for c in colds]):.2f} s "
            f"(CPU {median([c[2] for c in colds]):.2f} s)   targets <= 0.4 s, <= 0.6 s")
        if cpp is not None:
            cpp_colds = [cpp.one_clip(Clip(five, "en", ""))[0] for _ in range(repeats)]
            out("  whisper.cpp, process start -> exit with the text of the same clip: "
                f"median {median(cpp_colds):.2f} s")


def resolve_multilingual(model: str) -> bool:
    from ..export.registry import resolve

    return resolve(model).multilingual


def _model_sizes(engine: EngineOptions, fw_dir: Path | None) -> str:
    """On-disk sizes: our INT8 build and the CTranslate2 checkpoint faster-whisper loads (quantized on load)."""
    from ..export.build import ensure_model

    built = ensure_model(engine.model, engine.cache_dir)
    text = f"model files: edge-asr INT8 {built.size_bytes / MIB:.1f} MiB"
    if fw_dir is not None:
        ct2 = sum(p.stat().st_size for p in Path(fw_dir).iterdir() if p.is_file())
        text += f", faster-whisper's CTranslate2 float16 checkpoint {ct2 / MIB:.1f} MiB (int8 in memory)"
    return text


class CppRuns:
    """whisper.cpp over the bench clips (16-kHz WAV copies), one process per pass."""

    def __init__(self, peer: WhisperCpp, clips: list[Clip]) -> None:
        self.peer, self.clips = peer, clips
        self._tmp = tempfile.TemporaryDirectory()
        self.wavs = wav_copies([c.path for c in clips], Path(self._tmp.name))
        self.runs = SystemRuns(peer.name)
        self.process_wall: list[float] = []
        self.peaks: list[float] = []

    def unused(self, path: Path) -> str:
        raise NotImplementedError

    def one_pass(self) -> None:
        import resource

        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        texts, wall, load, total, peak = self.peer.run(self.wavs)
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.runs.load_s = load
        self.runs.wall.append(total - load)
        self.runs.cpu.append(c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime)
        self.runs.texts = texts
        self.process_wall.append(wall)
        self.peaks.append(peak)

    def one_clip(self, clip: Clip) -> tuple[float, float]:
        """(wall s, peak RSS MiB) of a whisper.cpp process on one clip."""
        one = Path(self._tmp.name) / "one"
        one.mkdir(exist_ok=True)
        wav = wav_copies([clip.path], one)
        _, wall, _, _, peak = self.peer.run(wav)
        return wall, peak
