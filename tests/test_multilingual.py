"""The multilingual path (99 languages, language tokens, detection, transcribe/translate) through the same
code, on a small randomly initialised multilingual-shaped model built here: no multilingual weights can be
downloaded on these machines, so this checks the plumbing, not accuracy."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from edge_asr.constants import SAMPLE_RATE
from edge_asr.errors import ModelError
from edge_asr.options import EngineOptions, TranscribeOptions
from edge_asr.weights import ModelDims, WhisperWeights, default_alignment_heads, expected_shapes

DIMS = ModelDims(
    n_mels=80,
    n_audio_ctx=1500,
    n_audio_state=64,
    n_audio_head=2,
    n_audio_layer=2,
    n_vocab=51865,
    n_text_ctx=448,
    n_text_state=64,
    n_text_head=2,
    n_text_layer=2,
)


@pytest.fixture(scope="module")
def multilingual_model(tmp_path_factory, shared) -> Path:
    from tests.fixtures.pt_writer import save_openai_pt

    rng = np.random.default_rng(0)
    tensors = {}
    for name, shape in expected_shapes(DIMS).items():
        if name.endswith("ln.weight") or name.endswith("_ln.weight") or name.endswith("ln_post.weight"):
            tensors[name] = np.ones(shape, np.float32)
        else:
            tensors[name] = (0.02 * rng.standard_normal(shape)).astype(np.float32)
    weights = WhisperWeights(DIMS, tensors, default_alignment_heads(DIMS), source="random multilingual")
    weights.validate()
    folder = tmp_path_factory.mktemp("multilingual")
    save_openai_pt(weights, folder / "random-multilingual.pt")
    shutil.copyfile(shared("whisper-assets", "multilingual.tiktoken"), folder / "multilingual.tiktoken")
    return folder / "random-multilingual.pt"


@pytest.fixture(scope="module")
def ml_transcriber(multilingual_model, tmp_path_factory):
    from edge_asr.factory import load_transcriber

    return load_transcriber(
        EngineOptions(model=str(multilingual_model), threads=2, cache_dir=str(tmp_path_factory.mktemp("ml-cache")))
    )


def test_multilingual_tokens(ml_transcriber) -> None:
    tok = ml_transcriber.tok
    assert ml_transcriber.is_multilingual
    assert (tok.eot, tok.sot, tok.translate, tok.transcribe, tok.no_timestamps, tok.timestamp_begin) == (
        50257,
        50258,
        50358,
        50359,
        50363,
        50364,
    )
    assert len(tok.language_codes) == 99 and tok.language_token("de") == 50261
    assert tok.sot_sequence("de", "translate") == [50258, 50261, 50358]
    for text in (" Guten Tag, wie geht's?", " 你好，世界", " こんにちは"):
        assert tok.decode(tok.encode(text)) == text
    words, _ = tok.split_to_word_tokens([*tok.encode(" 你好世界"), tok.eot], no_space=True)
    assert len(words) >= 3


def test_language_detection_distribution(ml_transcriber, shared) -> None:
    clip = shared("speech", "multilingual-dev", "de_test_de.wav")
    code, prob, probs = ml_transcriber.detect_language(clip)
    assert len(probs) == 99 and code == probs[0][0] and prob == probs[0][1]
    assert abs(sum(p for _, p in probs) - 1.0) < 1e-4
    assert [p for _, p in probs] == sorted((p for _, p in probs), reverse=True)


def test_transcribe_and_translate_run_through(ml_transcriber, shared) -> None:
    clip = shared("speech", "multilingual-dev", "es_test_es.wav")
    opts = TranscribeOptions(max_new_tokens=16, temperatures=(0.0,), no_speech_threshold=None)
    segments, info = ml_transcriber.transcribe(clip, opts)
    segments = list(segments)
    assert info.language in ml_transcriber.tok.language_codes and info.all_language_probs is not None
    last = 0.0
    for s in segments:
        assert last <= s.start <= s.end <= info.duration
        last = s.end
    seq, _ = ml_transcriber.decoder.initial_tokens(opts.with_(language="fr", task="translate"), "fr", [])
    assert seq == ml_transcriber.tok.sot_sequence("fr", "translate")
    segments, info = ml_transcriber.transcribe(clip, opts.with_(language="fr", task="translate"))
    list(segments)
    assert info.language == "fr" and info.language_probability == 1.0
    with pytest.raises(ModelError, match="unknown language"):
        ml_transcriber.transcribe(np.zeros(SAMPLE_RATE, np.float32), opts.with_(language="xx"))
