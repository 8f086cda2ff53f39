"""`edge-asr models list|build|import|verify`: the model registry and the INT8 build cache."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import EdgeAsrError
from .common import build_progress

MIB = 1024 * 1024


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "models",
        help="list, build, import and verify models",
        description="Models are built from checkpoint weights into INT8 ONNX files kept in the per-user cache.",
    )
    p.add_argument("--cache-dir", default=None, help="build cache (default: the per-user cache directory)")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    ls = msub.add_parser("list", help="registered and imported models, and whether they are built")
    ls.set_defaults(func=run_list)
    b = msub.add_parser("build", help="build (or rebuild with --force) the INT8 model")
    b.add_argument("name", nargs="?", default="tiny.en")
    b.add_argument("--force", action="store_true", help="rebuild even if the cache is up to date")
    b.add_argument(
        "--backend",
        choices=["onnxruntime", "litert", "all"],
        default="onnxruntime",
        help="which graphs: ONNX (onnxruntime), LiteRT/TFLite (litert) or both (default: onnxruntime)",
    )
    b.add_argument(
        "--quant",
        choices=["dynamic", "static"],
        default="dynamic",
        help="static: also the calibrated QDQ ONNX build (for NPUs), calibrated on --calibration audio",
    )
    b.add_argument(
        "--calibration", nargs="+", type=Path, default=None,
        help="audio files or a manifest.tsv to calibrate the static build on (default: the bundled demo clip)",
    )
    b.set_defaults(func=run_build)
    i = msub.add_parser("import", help="import a checkpoint (CTranslate2 folder, OpenAI .pt, transformers folder)")
    i.add_argument("path", type=Path)
    i.add_argument("--name", required=True, help="the name to use it by (e.g. tiny, base.en)")
    i.add_argument(
        "--tokenizer", type=Path, default=None, help="tokenizer.json or *.tiktoken when the checkpoint has none"
    )
    i.set_defaults(func=run_import)
    v = msub.add_parser("verify", help="check the cached build's checksums")
    v.add_argument("name", nargs="?", default="tiny.en")
    v.add_argument("--backend", choices=["onnxruntime", "litert"], default="onnxruntime")
    v.set_defaults(func=run_verify)


def run_list(args: argparse.Namespace) -> int:
    from ..distribution import frozen_bundle, missing_part
    from ..export.build import EXPORT_VERSION, cache_root, cache_size
    from ..export.prebuilt import find_prebuilt
    from ..factory import list_models

    print(f"{'model':10s} {'state':13s} {'languages':12s} {'checkpoint':>10s} {'INT8':>9s}  description")
    for m in list_models(args.cache_dir):
        prebuilt = not m.installed and find_prebuilt(m.name, EXPORT_VERSION) is not None
        state = "prebuilt" if prebuilt else "built" if m.built else "installed" if m.installed else "not installed"
        langs = f"{m.languages} languages" if m.multilingual else "English"
        src = f"{m.source_bytes / MIB:.1f} MiB" if m.source_bytes is not None else "-"
        built = f"{m.built_bytes / MIB:.1f} MiB" if m.built_bytes is not None else "-"
        print(f"{m.name:10s} {state:13s} {langs:12s} {src:>10s} {built:>9s}  {m.description}")
        if not m.installed and not prebuilt and m.install_hint:
            # A bundle cannot import or build models: its hint is the bundle's, not the registry's pip command.
            print(f"{'':10s} -> {missing_part('builder') if frozen_bundle() else m.install_hint}")
    print(f"cache: {cache_root(args.cache_dir)} ({cache_size(args.cache_dir) / MIB:.1f} MiB)")
    return 0


def _report(built: object, kind: str = "INT8") -> None:
    from ..export.build import BuiltModel

    assert isinstance(built, BuiltModel)
    d = built.dims
    print(f"{built.name}: {built.size_bytes / MIB:.1f} MiB {kind} in {built.directory}")
    print(
        f"  dims: {d.n_audio_layer}+{d.n_text_layer} layers, width {d.n_text_state}, vocab {d.n_vocab}, "
        f"{'multilingual' if d.is_multilingual else 'English-only'}"
    )
    for f, meta in built.manifest["outputs"].items():
        print(f"  {f:22s} {meta['size'] / MIB:6.1f} MiB  sha256 {meta['sha256'][:16]}…")


def run_build(args: argparse.Namespace) -> int:
    from ..export.build import ensure_model

    if args.backend in ("onnxruntime", "all"):
        _report(ensure_model(args.name, args.cache_dir, build_progress(sys.stderr.isatty()), force=args.force))
    if args.backend in ("litert", "all"):
        from ..export.tflite_build import ensure_litert_model

        progress = build_progress(sys.stderr.isatty())
        _report(ensure_litert_model(args.name, args.cache_dir, progress, force=args.force), "LiteRT INT8")
    if args.quant == "static":
        from ..export.quantize_static import ensure_static_model

        clips = _calibration_clips(args.calibration)
        built = ensure_static_model(args.name, args.cache_dir, clips, build_progress(sys.stderr.isatty()), args.force)
        _report(built, f"static QDQ INT8 (calibrated on {len(built.manifest['calibration'])} clips)")
    return 0


def _calibration_clips(items: list[Path] | None) -> list[Path] | None:
    if not items:
        return None
    from ..evaluate import read_manifest

    clips: list[Path] = []
    for p in items:
        clips += [c.path for c in read_manifest(p)] if p.suffix == ".tsv" else [p]
    return clips


def run_import(args: argparse.Namespace) -> int:
    from ..export.build import ensure_model
    from ..export.registry import remember_import
    from ..weights.loader import load_weights

    if not args.path.exists():
        raise EdgeAsrError(f"{args.path} does not exist")
    weights = load_weights(args.path)  # validates before anything is recorded
    tok = args.tokenizer or weights.tokenizer_file
    if tok is None:
        raise EdgeAsrError(
            f"{args.path} carries no tokenizer; pass --tokenizer (gpt2.tiktoken for English-only models, "
            "multilingual.tiktoken otherwise, from the openai-whisper package's assets)"
        )
    remember_import(args.name, args.path, weights.dims.is_multilingual, Path(tok))
    del weights
    built = ensure_model(args.name, args.cache_dir, build_progress(sys.stderr.isatty()), force=True)
    _report(built)
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from ..export.build import ensure_model
    from ..export.tflite_build import ensure_litert_model

    ensure = ensure_litert_model if args.backend == "litert" else ensure_model
    built = ensure(args.name, args.cache_dir, verify=True)
    print(f"{built.name}: all {len(built.manifest['outputs'])} files match their checksums")
    return 0
