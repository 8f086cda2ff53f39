"""`edge-asr transcribe` never loses a transcript to a name clash, and says what is wrong with an output directory
instead of printing a traceback (issue 11, defects 7 and 8)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def edge_asr(*args: str, unprivileged: bool = False) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it; ``unprivileged`` drops root's right to ignore file permissions."""
    prefix: list[str] = []
    if unprivileged and os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: file permissions cannot be tested")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
    return subprocess.run([*prefix, sys.executable, "-m", "edge_asr", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)})


def test_stems_are_unique_across_the_run_and_the_existing_files(tmp_path: Path) -> None:
    from edge_asr.cli.outputs import output_stems

    files = [Path("d1/talk.wav"), Path("d2/talk.wav"), Path("talk_2.wav"), Path("TALK.mp3")]
    assert output_stems(files, tmp_path, ["txt"]) == ["talk", "talk_2", "talk_2_2", "TALK_3"]
    (tmp_path / "talk.srt").write_text("an earlier run's subtitles")
    # a clash in any one format moves all formats of that input, so its files stay together
    assert output_stems(files[:2], tmp_path, ["txt", "srt"]) == ["talk_2", "talk_3"]
    assert output_stems(files[:2], tmp_path, ["txt", "srt"], overwrite=True) == ["talk", "talk_2"]


def test_output_dir_problems_are_output_errors(tmp_path: Path) -> None:
    from edge_asr.cli.outputs import prepare_output_dir
    from edge_asr.errors import OutputError

    afile = tmp_path / "notes.txt"
    afile.write_text("x")
    with pytest.raises(OutputError, match="is a file, not a directory"):
        prepare_output_dir(afile)
    with pytest.raises(OutputError, match=r"notes\.txt is a file"):
        prepare_output_dir(afile / "out")
    assert prepare_output_dir(tmp_path / "a" / "b").is_dir()


def test_the_reported_clash_writes_every_transcript(tmp_path: Path, jfk_path: Path) -> None:
    for d in ("d1", "d2"):
        (tmp_path / d).mkdir()
        shutil.copyfile(jfk_path, tmp_path / d / "talk.flac")
    shutil.copyfile(jfk_path, tmp_path / "talk_2.flac")
    out = tmp_path / "out"
    out.mkdir()
    (out / "talk.txt").write_text("kept: a transcript from an earlier run\n")
    r = edge_asr("transcribe", "-q", "-o", str(out), str(tmp_path / "d1" / "talk.flac"),
                 str(tmp_path / "d2" / "talk.flac"), str(tmp_path / "talk_2.flac"))
    assert r.returncode == 0, r.stderr
    written = sorted(p.name for p in out.iterdir())
    assert written == ["talk.txt", "talk_2.txt", "talk_2_2.txt", "talk_3.txt"], written
    assert (out / "talk.txt").read_text().startswith("kept:")
    assert all("country" in (out / n).read_text() for n in written[1:])
    assert "talk_2.txt is taken" in r.stderr and "writing talk_3.txt" in r.stderr


def test_output_dir_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    afile = tmp_path / "existing.txt"
    afile.write_text("x")
    r = edge_asr("transcribe", "--demo", "-q", "-o", str(afile))
    assert r.returncode == 2 and "is a file, not a directory" in r.stderr and "Traceback" not in r.stderr, r.stderr
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        r = edge_asr("transcribe", "--demo", "-q", "-o", str(locked / "out"), unprivileged=True)
    finally:
        locked.chmod(0o755)
    assert r.returncode == 2, r.stderr
    assert "permission denied" in r.stderr and "Traceback" not in r.stderr, r.stderr
