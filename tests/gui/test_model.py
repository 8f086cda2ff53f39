"""The model side of the window: a first-run build with a visible progress bar, and the settings dialog."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from edge_asr.factory import list_models
from edge_asr.gui.settings_panel import SettingsDialog

from .conftest import MODEL_TIMEOUT_MS, open_window
from .test_window import save


def test_first_run_builds_the_model_with_progress(qtbot, settings_file: str, tmp_path: Path, artifacts: Path,  # type: ignore[no-untyped-def]
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_ASR_CACHE_DIR", str(tmp_path / "cache"))  # an empty cache: this is a first run
    window = open_window(qtbot, settings_file)
    seen: list[tuple[str, float]] = []
    window.model.progress.connect(lambda stage, fraction: seen.append((stage, fraction)))
    shot: list[bool] = []
    told: list[str] = []
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)

    def snapshot(stage: str, fraction: float) -> None:
        if not told and 0.1 < fraction < 0.9:  # Space (Record) mid-build says what is going on
            qtbot.keyClick(window.tabs.live, Qt.Key.Key_Space)
            told.append(window.banner.text())
        if not shot and 0.2 < fraction < 0.9:  # mid-build: the bar and the stage are on screen
            text = window.model_status.text()  # e.g. "Building tiny.en (first use): quantizing … · 30 % · 0:12 elapsed"
            shot.append(window.model_status.bar.isVisible() and text.startswith("Building tiny.en")
                        and " %" in text and "elapsed" in text)
            save(window, artifacts, "model-build")

    window.model.progress.connect(snapshot)
    with qtbot.waitSignal(window.model_ready, timeout=MODEL_TIMEOUT_MS) as ready:
        pass
    assert ready.args[0] is not None, window.banner.text()
    assert shot == [True], "the progress bar and stage were not visible during the build"
    assert told and "tiny.en is still loading" in told[0] and " %" in told[0], told
    assert window.banner.text() == "", "the 'still loading' note goes once the model is ready"
    fractions = [f for _, f in seen]
    assert len(seen) >= 3 and fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert not window.model_status.bar.isVisible() and "ready" in window.model_status.text()
    assert window.actions_.record.isEnabled()
    window.close()


def test_settings_dialog_validates_and_reloads(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    models = list_models()
    dialog = SettingsDialog(window.settings, models, window)
    qtbot.addWidget(dialog)
    assert dialog.model.currentData() == "tiny.en"
    assert not dialog.language.isEnabled()  # tiny.en is English-only
    multilingual = [m.name for m in models if m.multilingual]
    if multilingual:
        dialog.model.setCurrentIndex(dialog.model.findData(multilingual[0]))
        assert dialog.language.isEnabled()
        dialog.model.setCurrentIndex(dialog.model.findData("tiny.en"))
    dialog.accelerator.setEditText("   ")  # invalid: must be named
    dialog.accept()
    assert dialog.isVisible() is False or dialog.result_settings() is None
    assert dialog.error.isVisibleTo(dialog) and "accelerator" in dialog.error.text()
    dialog.accelerator.setEditText("cpu")
    dialog.threads.setValue(1)
    dialog.accept()
    chosen = dialog.result_settings()
    assert chosen is not None and chosen.threads == 1 and chosen.accelerator == "cpu"
    with qtbot.waitSignal(window.model_ready, timeout=MODEL_TIMEOUT_MS) as ready:
        window.apply_settings(chosen)  # new engine options: the model reloads off the GUI thread
        assert window.transcriber is None and not window.actions_.record.isEnabled()
    assert ready.args[0] is not None
    assert window.settings.threads == 1
