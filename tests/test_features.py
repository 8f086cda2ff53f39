"""Log-mel features against OpenAI's filterbank and an independent reference computation."""

from __future__ import annotations

import numpy as np
import pytest

from edge_asr.constants import HOP_LENGTH, N_FFT, N_SAMPLES, SAMPLE_RATE
from edge_asr.features import log_mel_spectrogram, mel_filters, pad_or_trim_frames


@pytest.mark.parametrize("n_mels", [80, 128])
def test_mel_filters_match_openai(n_mels: int, shared) -> None:
    ref = np.load(shared("whisper-assets", "mel_filters.npz"))[f"mel_{n_mels}"]
    ours = mel_filters(n_mels)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=1e-7)


def _reference_log_mel(audio: np.ndarray, filters: np.ndarray, padding: int) -> np.ndarray:
    """Whisper's recipe written out plainly: pad, centre with reflection, periodic Hann, drop the last frame."""
    x = np.concatenate([audio.astype(np.float64), np.zeros(padding)])
    x = np.pad(x, N_FFT // 2, mode="reflect")
    window = np.hanning(N_FFT + 1)[:-1]
    n_frames = 1 + (len(x) - N_FFT) // HOP_LENGTH
    spec = np.stack(
        [np.abs(np.fft.rfft(x[i * HOP_LENGTH : i * HOP_LENGTH + N_FFT] * window)) ** 2 for i in range(n_frames)], axis=1
    )
    mel = filters.astype(np.float64) @ spec[:, :-1]
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return (log_spec + 4.0) / 4.0


@pytest.mark.parametrize("seconds,padding", [(2.5, 0), (1.3, N_SAMPLES), (0.01, N_SAMPLES)])
def test_log_mel_matches_reference(seconds: float, padding: int) -> None:
    rng = np.random.default_rng(7)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    audio = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
    ours = log_mel_spectrogram(audio, 80, padding=padding)
    ref = _reference_log_mel(audio, mel_filters(80), padding)
    assert ours.shape == ref.shape == (80, (len(audio) + padding) // HOP_LENGTH)
    np.testing.assert_allclose(ours, ref, atol=2e-4)


def test_log_mel_of_real_speech(jfk_path) -> None:
    from edge_asr.audio import decode_audio

    audio = decode_audio(jfk_path)
    mel = log_mel_spectrogram(audio, 80, padding=N_SAMPLES)
    ref = _reference_log_mel(audio, mel_filters(80), N_SAMPLES)
    np.testing.assert_allclose(mel, ref, atol=2e-4)
    assert mel.max() <= 1.5 + 1e-6 and mel.min() >= mel.max() - 2.0 - 1e-6  # 8 decades / 4


def test_pad_or_trim() -> None:
    m = np.ones((80, 10), np.float32)
    assert pad_or_trim_frames(m, 4).shape == (80, 4)
    padded = pad_or_trim_frames(m, 12)
    assert padded.shape == (80, 12) and padded[:, 10:].sum() == 0
