"""Command-line flags for the engine and decoding options, and their translation into the frozen option objects.

Used by every program that takes these flags (the CLI's subcommands, the benchmarks); argparse and the core only.
"""

from __future__ import annotations

import argparse

from .options import DEFAULT_TEMPERATURES, EngineOptions, TranscribeOptions


def add_engine_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model and runtime")
    g.add_argument(
        "--model", default=EngineOptions.model, help="registered model name or checkpoint path (default: %(default)s)"
    )
    g.add_argument(
        "--backend",
        default="auto",
        choices=["auto", "onnxruntime", "litert", "tflite"],
        help="inference runtime: auto picks the faster one here and says why with -v (default: auto; tflite = litert)",
    )
    g.add_argument(
        "--device",
        default="auto",
        help="auto, cpu, or an accelerator: cuda, tensorrt, qnn (onnxruntime providers), xnnpack (LiteRT) "
        "(default: auto; `edge-asr doctor` lists what this machine has)",
    )
    g.add_argument(
        "--quant",
        default="dynamic",
        choices=["dynamic", "static"],
        help="INT8 build: dynamic (default) or static, the calibrated QDQ ONNX build for NPUs (QNN HTP)",
    )
    g.add_argument("--threads", type=int, default=None, help="encoder threads (default: up to 4, one per core)")
    g.add_argument("--decoder-threads", type=int, default=None, help="decoder-step threads (default: as --threads)")
    g.add_argument("--cache-dir", default=None, help="where built INT8 models are kept (default: the per-user cache)")
    g.add_argument(
        "--route",
        default=None,
        metavar="SPEC",
        help="language routing instead of --model, e.g. 'en=tiny.en,*=base': the language (--language, else "
        "detected on the first seconds by the multilingual model) picks the model",
    )


def add_decode_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("decoding")
    g.add_argument("--language", default=None, help="language code (multilingual models; default: detect)")
    g.add_argument("--task", default="transcribe", choices=["transcribe", "translate"])
    g.add_argument("--beam-size", type=int, default=1, help="1 = greedy (default), 5 = Whisper's beam search")
    g.add_argument("--word-timestamps", action="store_true", help="add per-word times from cross-attention alignment")
    g.add_argument("--initial-prompt", default=None, help="text to condition the first window on (spellings, style)")
    g.add_argument("--hotwords", default=None, help="words to favour, given to every window as a prompt")
    g.add_argument(
        "--temperature",
        type=float,
        nargs="+",
        default=list(DEFAULT_TEMPERATURES),
        help="fallback temperatures (default: %(default)s)",
    )
    g.add_argument("--no-short-clip", action="store_true", help="always encode full 30-s windows (slower)")
    g.add_argument("--no-condition", action="store_true", help="do not condition on the previous window's text")
    g.add_argument(
        "--redetect-language",
        action="store_true",
        help="long mixed-language files: cut at pauses into pieces of at most 30 s and detect (and route) the "
        "language of each piece",
    )
    g.add_argument("--vad", action="store_true",
                   help="decode only the speech Silero VAD finds (long silences skipped; needs edge-asr[live])")


def engine_options(a: argparse.Namespace) -> EngineOptions:
    kw = {"model": a.model, "backend": a.backend, "device": a.device, "cache_dir": a.cache_dir}
    if getattr(a, "quant", "dynamic") != "dynamic":
        kw["quantization"] = a.quant
    routes = getattr(a, "route", None)
    if not routes and getattr(a, "redetect_language", False):
        routes = f"*={a.model}"  # per-piece detection runs in the router, here over the one model
    if routes:
        kw["routes"] = routes
    if a.threads is not None:
        kw["threads"] = a.threads
    if a.decoder_threads is not None or a.threads is not None:
        kw["decoder_threads"] = a.decoder_threads or a.threads
    return EngineOptions(**kw)


def transcribe_options(a: argparse.Namespace) -> TranscribeOptions:
    opts = _plain_transcribe_options(a)
    if getattr(a, "redetect_language", False):
        from .routing import routed_options

        return routed_options(opts, redetect=True)
    return opts


def _plain_transcribe_options(a: argparse.Namespace) -> TranscribeOptions:
    return TranscribeOptions(
        language=a.language,
        task=a.task,
        beam_size=a.beam_size,
        word_timestamps=a.word_timestamps,
        initial_prompt=a.initial_prompt,
        hotwords=a.hotwords,
        temperatures=tuple(a.temperature),
        short_clip=not a.no_short_clip,
        condition_on_previous_text=not a.no_condition,
        vad_filter=a.vad,
    )
