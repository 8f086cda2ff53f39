"""Scoring non-English text (edge_asr.evaluate): CER for zh/ja/ko after the basic normalizer and OpenCC, MER for
code-switch clips, WER elsewhere, language groups, the English check used for translations."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_asr.evaluate import (
    Clip,
    Score,
    error_counts,
    error_rate,
    group_scores,
    language_group,
    looks_english,
    metric_for,
    print_group_table,
    score_tokens,
)


def test_metric_and_group_per_language() -> None:
    assert [metric_for(x) for x in ("zh", "ja", "ko", "de", "en", "zh+en", "de+en")] == [
        "cer", "cer", "cer", "wer", "wer", "mer", "wer"]
    assert language_group("ja") == "ja (CER)" and language_group("fr") == "other languages (WER)"
    assert language_group("en") == "en (WER)" and language_group("zh+en") == "code-switch (MER)"


def test_cer_ignores_script_punctuation_and_spaces() -> None:
    pytest.importorskip("opencc", reason="OpenCC (the bench extra) is not installed")
    ref = "广州市房地产中介协会分析"
    assert error_counts(ref, "廣州市房地產中介協會分析。", "zh") == (0, 12)  # traditional characters, a full stop
    assert error_counts(ref, "廣州市佛地產中間協會分析", "zh") == (2, 12)  # two characters wrong
    assert error_counts("桥下 15 米", "橋下15米", "zh") == (0, 5)
    assert error_counts("그는 길 한 옆으로", "그는 길한 옆으로", "ko") == (0, 7)  # Korean spacing is not counted
    assert error_counts("知識が成立する。", "知識が整理する", "ja") == (2, 7)


def test_mer_counts_cjk_characters_and_latin_words() -> None:
    pytest.importorskip("opencc", reason="OpenCC (the bench extra) is not installed")
    assert score_tokens("scotturb 403 路公共汽车 Sintra!", "zh+en") == ["scotturb", "403", "路", "公", "共", "汽", "车",
                                                                   "sintra"]
    assert error_counts("前往辛特拉 sintra", "前往新特兰", "zh+en") == (3, 6)


def test_wer_and_corpus_rates() -> None:
    assert error_counts("Der Raum wurde genutzt.", "der raum wurde genützt", "de") == (1, 4)  # diacritics count
    assert error_rate(["a b c d", "x y"], ["a b c d", "x z"], ["fr", "fr"]) == pytest.approx(1 / 6)
    assert error_counts("", "something", "de") == (1, 0)
    assert error_counts("zwei Worte", "", "de") == (2, 2)


def test_group_scores_and_table(tmp_path: Path) -> None:
    pytest.importorskip("opencc", reason="OpenCC (the bench extra) is not installed")
    clips = [Clip(tmp_path / "a.wav", "de", "eins zwei drei vier"), Clip(tmp_path / "b.wav", "zh", "你好世界"),
             Clip(tmp_path / "c.wav", "fr", "un deux")]
    groups = group_scores(clips, ["eins zwei drei", "你好世界", "un deux"])
    assert [(g.group, g.clips, g.edits, g.units) for g in groups] == [
        ("other languages (WER)", 2, 1, 6), ("zh (CER)", 1, 0, 4)]
    manifest = tmp_path / "set" / "manifest.tsv"
    scores = [Score("set", "ours", 3, 0.0, 1.0, ("eins zwei drei", "你好世界", "un deux")),
              Score("set", "peer", 3, 0.0, 1.0, ("eins zwei drei vier", "你好", "un deux"))]
    lines: list[str] = []
    print_group_table({manifest: clips}, scores, lines.append)
    rows = [ln for ln in lines if ln.startswith("| other") or ln.startswith("| zh")]
    assert "16.67 %" in rows[0] and "0.00 %" in rows[0] and "0.00 %" in rows[1] and "50.00 %" in rows[1]


@pytest.mark.parametrize("text", ["The rear of this portal-like room was used as a light hall.",
                                  "Always the radio will record some of his songs or better rhythms.",
                                  "He went to the first row."])
def test_english_is_recognised(text: str) -> None:
    assert looks_english(text)


@pytest.mark.parametrize("text", ["Der hinter diesem Portal liegende Raum wurde als Leichenhalle genutzt.",
                                  "Las arenas son blanquecinas de grano medio y tiene muy poca asistencia.",
                                  "Sous le consulat il devient conservateur des eaux et forêts.",
                                  "Uma raposa velha não consegue aprender nenhum ofício.",
                                  "桥下垂直净空15米", "그는 이리저리 피하면서", "", "..."])
def test_other_languages_are_not_english(text: str) -> None:
    assert not looks_english(text)
