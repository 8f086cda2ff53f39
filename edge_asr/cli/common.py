"""Pieces shared by the subcommands: engine/decoding flags -> frozen options, logging, human error output."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from tqdm import tqdm

from ..errors import EdgeAsrError
from ..options import DEFAULT_TEMPERATURES, EngineOptions, TranscribeOptions


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
    g.add_argument("--vad", action="store_true",
                   help="decode only the speech Silero VAD finds (long silences skipped; needs edge-asr[live])")


def engine_options(a: argparse.Namespace) -> EngineOptions:
    kw = {"model": a.model, "backend": a.backend, "device": a.device, "cache_dir": a.cache_dir}
    if getattr(a, "quant", "dynamic") != "dynamic":
        kw["quantization"] = a.quant
    if a.threads is not None:
        kw["threads"] = a.threads
    if a.decoder_threads is not None or a.threads is not None:
        kw["decoder_threads"] = a.decoder_threads or a.threads
    return EngineOptions(**kw)


def transcribe_options(a: argparse.Namespace) -> TranscribeOptions:
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


class _QuietThirdParty(logging.Filter):
    # onnxruntime.quantization logs every skipped node at INFO on the root logger.
    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.startswith("edge_asr") or record.levelno >= logging.WARNING


def setup_logging(verbose: int) -> None:
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose == 1 else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_QuietThirdParty())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def build_progress(enabled: bool) -> Callable[[str, float], None]:
    """A progress callback for model builds that draws one tqdm bar."""
    bar: list[tqdm] = []

    def update(stage: str, fraction: float) -> None:
        if not enabled:
            return
        if not bar:
            bar.append(tqdm(total=100, desc="building INT8 model", unit="%", file=sys.stderr, leave=False))
        bar[0].set_postfix_str(stage)
        bar[0].update(round(fraction * 100) - bar[0].n)
        if fraction >= 1.0:
            bar[0].close()

    return update


def fail(message: str) -> int:
    print(f"edge-asr: error: {message}", file=sys.stderr)
    return 2


def human_error(exc: BaseException) -> str:
    if isinstance(exc, EdgeAsrError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def standalone_main(
    prog: str,
    description: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace], int],
    argv: Sequence[str] | None = None,
) -> int:
    """`python -m edge_asr.<shell>`: one subcommand's parser and runner without the rest of the CLI."""
    from ..memory import tune_allocator

    tune_allocator()
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    add_arguments(parser)
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        return run(args)
    except EdgeAsrError as exc:
        print(f"{prog}: error: {human_error(exc)}", file=sys.stderr)
        return 2
