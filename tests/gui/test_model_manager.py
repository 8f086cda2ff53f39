"""The model manager and the multilingual controls, on a real (randomly initialised, multilingual-shaped)
OpenAI checkpoint built by tests/test_multilingual.py: import it with the file picker's path (asked for a
tokenizer only when none lies beside it), watch the build's progress, delete and rebuild the build, use it,
then pick language and task on the main window and see auto-detect's language and probability."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from edge_asr.gui.main_window import MainWindow
from edge_asr.gui.model_manager import ModelManagerDialog
from edge_asr.gui.session_bar import language_name

from .conftest import MODEL_TIMEOUT_MS, ROOT, open_window
from .test_window import JOB_TIMEOUT_MS, run_file_job

NAME = "random-ml"


def _multilingual_fixture():  # type: ignore[no-untyped-def]
    """The random multilingual checkpoint fixture of tests/test_multilingual.py (one definition, reused)."""
    path = ROOT / "tests" / "test_multilingual.py"
    spec = importlib.util.spec_from_file_location("edge_asr_tests_multilingual", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.multilingual_model


multilingual_model = _multilingual_fixture()


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config dir and cache of its own: imports and builds here touch no one else's."""
    monkeypatch.setenv("EDGE_ASR_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("EDGE_ASR_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def wait_idle(qtbot, dialog: ModelManagerDialog) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: dialog.job is None, timeout=MODEL_TIMEOUT_MS)
    qtbot.waitUntil(lambda: dialog._list_job is not None and dialog._list_job.done.is_set(), timeout=10_000)
    qtbot.wait(50)  # the listing's result reaches the table


def select(dialog: ModelManagerDialog, name: str) -> None:
    for i in range(dialog.table.topLevelItemCount()):
        item = dialog.table.topLevelItem(i)
        if item is not None and dialog.entries.get(str(item.data(0, 256))) and item.data(0, 256) == name:
            dialog.table.setCurrentItem(item)
            return
    raise AssertionError(f"{name} is not listed: {list(dialog.entries)}")


def test_import_build_delete_rebuild_use_then_language_and_task(  # type: ignore[no-untyped-def]
        qtbot, isolated: Path, settings_file: str, multilingual_model: Path, shared, artifacts: Path) -> None:
    window: MainWindow = open_window(qtbot, settings_file, autoload=False)
    dialog = ModelManagerDialog(window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: "tiny.en" in dialog.entries, timeout=10_000)
    tiny = dialog.row_texts("tiny.en")
    assert tiny[1] == "English" and tiny[2].endswith("MB") and tiny[3] == "–" and tiny[4] == "built on first use"
    assert dialog.cache.text().startswith("Build cache: ")

    # A checkpoint with no tokenizer beside it: the form asks for one, and only then.
    bare = isolated / "download" / "random-ml.pt"
    bare.parent.mkdir()
    shutil.copyfile(multilingual_model, bare)
    form = dialog.import_form
    with qtbot.waitSignal(form.detected, timeout=10_000):  # checked off the GUI thread
        form.set_path(str(multilingual_model))
    assert not form.needs_tokenizer() and "OpenAI checkpoint" in form.format.text()
    form.name.clear()
    with qtbot.waitSignal(form.detected, timeout=10_000):
        form.set_path(str(isolated / "nothing-here"))
    assert form.format.text().startswith("⚠") and "no such file" in form.format.text()
    assert not form.submit.isEnabled()
    with qtbot.waitSignal(form.detected, timeout=10_000):
        form.set_path(str(bare))
    assert form.needs_tokenizer() and form.tokenizer.isVisibleTo(dialog) and not form.submit.isEnabled()
    assert form.name.text() == NAME  # suggested from the file name
    form.tokenizer.setText(str(shared("whisper-assets", "multilingual.tiktoken")))
    assert form.submit.isEnabled()

    seen: list[str] = []
    form.submit.click()
    assert dialog.job is not None and dialog.progress.isVisible() and not form.isEnabled()
    dialog.job.progress.connect(lambda _s, _f: seen.append(dialog.progress_text.text()))
    wait_idle(qtbot, dialog)
    assert any(" %" in t and "elapsed" in t for t in seen), seen  # percent and elapsed during the build
    assert dialog.progress_text.text() == f"Importing {NAME}: done.", dialog.progress_text.text()
    row = dialog.row_texts(NAME)
    assert row[0] == f"{NAME} (imported)" and row[1] == "99 languages" and row[3].endswith("MB")
    assert row[4] == "built"
    dialog.resize(760, 520)
    qtbot.wait(100)
    dialog.grab().save(str(artifacts / "model-manager.png"), "PNG")

    # Delete the build, then rebuild it.
    select(dialog, NAME)
    build_dir = Path(dialog.entries[NAME].build_dir)
    assert build_dir.is_dir() and dialog.delete.isEnabled()
    dialog.delete_build(NAME)
    wait_idle(qtbot, dialog)
    assert not build_dir.exists() and dialog.row_texts(NAME)[4] == "built on first use"
    select(dialog, NAME)
    assert not dialog.delete.isEnabled() and dialog.rebuild.isEnabled()
    dialog.rebuild.click()
    wait_idle(qtbot, dialog)
    assert build_dir.is_dir() and dialog.row_texts(NAME)[4] == "built"

    # Use it: the main window loads it and offers languages and the task.
    select(dialog, NAME)
    with qtbot.waitSignal(window.model_ready, timeout=MODEL_TIMEOUT_MS) as ready:
        dialog.use.click()
    assert ready.args[0] is not None and ready.args[0].is_multilingual, window.banner.text()
    dialog.close()
    session = window.session
    assert session.language.isEnabled() and session.task.isEnabled()
    assert session.language.count() == 100 and session.auto_text() == "Auto-detect"
    german = session.language.findData("de")
    assert german > 0 and session.language.itemText(german) == "German (de)"

    # Auto-detect on a file: the picker shows what was found and how sure it is.
    clip = shared("speech", "multilingual-dev", "de_test_de.wav")
    run_file_job(qtbot, window, clip)
    info = window.current_view().info()
    assert info is not None
    assert session.auto_text() == f"Auto: {language_name(info.language)} {info.language_probability:.0%}"

    # Task and language from the main window reach the core's options.
    session.task.setCurrentIndex(session.task.findData("translate"))
    session.task.activated.emit(session.task.currentIndex())
    session.language.setCurrentIndex(session.language.findData("de"))
    session.language.activated.emit(session.language.currentIndex())
    assert (window.settings.task, window.settings.language) == ("translate", "de")
    options = window.settings.transcribe_options(multilingual=True)
    assert (options.task, options.language) == ("translate", "de")
    with qtbot.waitSignal(window.jobs.job_ended, timeout=JOB_TIMEOUT_MS):
        (job_id,) = window.open_files([clip])
    assert window.jobs._specs[job_id].options.task == "translate"
    info = window.tabs.job_view(job_id).info()  # type: ignore[union-attr]
    assert info is not None and info.language == "de" and info.language_probability == 1.0
    window.close()
