"""decode_audio on real speech in many containers, the resampling helpers, and the AudioError paths."""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from edge_asr.audio import StreamResampler, audio_duration, decode_audio, resample, to_mono
from edge_asr.constants import SAMPLE_RATE
from edge_asr.errors import AudioError

JFK_SECONDS = 11.0  # jfk.flac: 485100 samples at 44.1 kHz
LOSSLESS_TOLERANCE = 1.0 / SAMPLE_RATE  # s: one output sample
CODEC_FRAME_TOLERANCE = 2048 / 44_100  # s: an AAC/MP3 encoder may pad up to about one codec frame at the end
MIN_CORRELATION_LOSSLESS = 0.9999
MIN_CORRELATION_LOSSY = 0.99  # vorbis/opus at default bitrates measure 0.997-0.999
ENERGY_TOLERANCE_DB = 0.1  # per-second energy vs the reference decode, lossless
ENERGY_TOLERANCE_LOSSY_DB = 1.0  # mp3 at 128 kb/s measures 0.45 dB off on the quietest second
TONE_AMPLITUDE = 0.5


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"the {name} binary is not installed (needed to make test audio)")
    return path


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


def _ffmpeg(src: Path, dst: Path, *codec_args: str) -> Path:
    _run(_tool("ffmpeg"), "-loglevel", "error", "-y", "-i", str(src), *codec_args, str(dst))
    return dst


def _sox(src: Path, dst: Path, *args: str) -> Path:
    _run(_tool("sox"), str(src), *args, str(dst))
    return dst


@pytest.fixture(scope="module")
def jfk_reference(jfk_path: Path, tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """An independent 16 kHz mono decode of jfk.flac by sox (its own resampler and downmix), as float32."""
    float_mono_16k = ("-r", str(SAMPLE_RATE), "-c", "1", "-e", "floating-point", "-b", "32")
    out = _sox(jfk_path, tmp_path_factory.mktemp("ref") / "jfk16.wav", *float_mono_16k)
    ref, rate = sf.read(out, dtype="float32")
    assert rate == SAMPLE_RATE
    return np.asarray(ref)


def _correlation(x: np.ndarray, ref: np.ndarray) -> float:
    n = min(len(x), len(ref))
    return float(np.corrcoef(x[:n], ref[:n])[0, 1])


def _energy_db_per_second(x: np.ndarray) -> np.ndarray:
    seconds = len(x) // SAMPLE_RATE
    frames = x[: seconds * SAMPLE_RATE].reshape(seconds, SAMPLE_RATE).astype(np.float64)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)


def _assert_matches_reference(
    x: np.ndarray,
    ref: np.ndarray,
    duration_tolerance: float,
    min_correlation: float,
    energy_tolerance_db: float = ENERGY_TOLERANCE_DB,
) -> None:
    assert x.dtype == np.float32 and x.ndim == 1
    assert np.abs(x).max() <= 1.0
    assert audio_duration(x) == pytest.approx(JFK_SECONDS, abs=duration_tolerance)
    assert _correlation(x, ref) > min_correlation
    np.testing.assert_allclose(_energy_db_per_second(x), _energy_db_per_second(ref), atol=energy_tolerance_db)


def test_jfk_flac_decodes_to_16k_mono(jfk_path: Path, jfk_reference: np.ndarray) -> None:
    x = decode_audio(jfk_path)
    assert len(x) == round(JFK_SECONDS * SAMPLE_RATE)
    _assert_matches_reference(x, jfk_reference, LOSSLESS_TOLERANCE, MIN_CORRELATION_LOSSLESS)
    np.testing.assert_allclose(x, jfk_reference[: len(x)], atol=1e-3)  # soxr and sox's rate agree sample by sample


def test_bytes_and_file_objects_decode_like_paths(jfk_path: Path) -> None:
    x = decode_audio(jfk_path)
    data = jfk_path.read_bytes()
    np.testing.assert_array_equal(decode_audio(data), x)
    np.testing.assert_array_equal(decode_audio(io.BytesIO(data)), x)
    with jfk_path.open("rb") as f:
        np.testing.assert_array_equal(decode_audio(f), x)


def test_other_output_rate(jfk_path: Path) -> None:
    x = decode_audio(jfk_path, sample_rate=8_000)
    assert audio_duration(x, 8_000) == pytest.approx(JFK_SECONDS, abs=1 / 8_000)


@pytest.mark.parametrize(
    ("name", "sox_args"),
    [
        ("jfk8k.wav", ("-r", "8000")),
        ("jfk48k24.wav", ("-r", "48000", "-b", "24")),  # stays stereo
        ("jfk22k32.wav", ("-r", "22050", "-b", "32")),
        ("jfk6ch.wav", ("-r", "22050", "-c", "6")),
    ],
)
def test_wav_rates_depths_and_channels(
    jfk_path: Path, jfk_reference: np.ndarray, tmp_path: Path, name: str, sox_args: tuple[str, ...]
) -> None:
    path = _sox(jfk_path, tmp_path / name, *sox_args)
    x = decode_audio(path)
    _assert_matches_reference(x, jfk_reference, LOSSLESS_TOLERANCE, MIN_CORRELATION_LOSSY)


@pytest.mark.parametrize(
    ("name", "codec_args", "via_pyav", "min_correlation"),
    [
        ("jfk.mp3", ("-c:a", "libmp3lame", "-b:a", "128k"), False, MIN_CORRELATION_LOSSY),
        ("jfk.ogg", ("-c:a", "libvorbis"), False, MIN_CORRELATION_LOSSY),
        ("jfk.m4a", ("-c:a", "aac"), True, MIN_CORRELATION_LOSSY),
        ("jfk.webm", ("-c:a", "libopus"), True, MIN_CORRELATION_LOSSY),
    ],
)
def test_compressed_formats(
    jfk_path: Path,
    jfk_reference: np.ndarray,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    name: str,
    codec_args: tuple[str, ...],
    via_pyav: bool,
    min_correlation: float,
) -> None:
    path = _ffmpeg(jfk_path, tmp_path / name, *codec_args)
    with caplog.at_level(logging.DEBUG, logger="edge_asr"):
        x = decode_audio(path)
    assert ("decoded with PyAV" in caplog.text) == via_pyav
    _assert_matches_reference(x, jfk_reference, CODEC_FRAME_TOLERANCE, min_correlation, ENERGY_TOLERANCE_LOSSY_DB)


def test_six_channels_are_averaged(jfk_reference: np.ndarray, tmp_path: Path) -> None:
    gains = np.array([1.0, 0.5, 0.0, -0.25, 0.25, 0.0], dtype=np.float32)
    path = tmp_path / "six.wav"
    sf.write(path, jfk_reference[:, None] * gains[None, :], SAMPLE_RATE, subtype="FLOAT")
    x = decode_audio(path)  # same rate: no resampling, so the downmix is exact
    np.testing.assert_allclose(x, jfk_reference * gains.mean(), atol=1e-6)


def test_to_mono() -> None:
    stereo = np.array([[1.0, 0.0], [0.5, -0.5], [0.25, 0.75]], dtype=np.float32)
    np.testing.assert_allclose(to_mono(stereo), [0.5, 0.0, 0.5])
    mono = np.arange(4, dtype=np.float32)
    assert to_mono(mono) is mono
    np.testing.assert_array_equal(to_mono(mono[:, None]), mono)
    with pytest.raises(ValueError, match="shape"):
        to_mono(np.zeros((2, 2, 2)))


# --- errors: every one is an AudioError whose message names the file ---


def _assert_audio_error(path: Path, what: str) -> None:
    with pytest.raises(AudioError) as err:
        decode_audio(path)
    assert path.name in str(err.value)
    assert what in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    _assert_audio_error(tmp_path / "nope.wav", "no such file")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    _assert_audio_error(path, "empty")


def test_text_renamed_wav(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("These are meeting notes, not audio.\n" * 20)
    _assert_audio_error(path, "not audio")


def test_nan_wav(tmp_path: Path) -> None:
    path = tmp_path / "nan.wav"
    samples = np.zeros(SAMPLE_RATE, dtype=np.float32)
    samples[100] = np.nan
    sf.write(path, samples, SAMPLE_RATE, subtype="FLOAT")
    _assert_audio_error(path, "NaN")


def test_inf_wav(tmp_path: Path) -> None:
    path = tmp_path / "inf.wav"
    sf.write(path, np.full(SAMPLE_RATE, np.inf, dtype=np.float32), SAMPLE_RATE, subtype="FLOAT")
    _assert_audio_error(path, "infinite")


def test_zero_length_wav(tmp_path: Path) -> None:
    path = tmp_path / "zero.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), SAMPLE_RATE)
    _assert_audio_error(path, "zero duration")


def test_one_sample_is_zero_duration_after_resampling(tmp_path: Path) -> None:
    path = tmp_path / "one.wav"
    sf.write(path, np.zeros(1, dtype=np.float32), 44_100)
    _assert_audio_error(path, "zero duration")


def test_directory(tmp_path: Path) -> None:
    _assert_audio_error(tmp_path, "not a regular file")


def test_in_memory_errors() -> None:
    with pytest.raises(AudioError, match=r"in-memory audio.*empty"):
        decode_audio(b"")
    with pytest.raises(AudioError, match=r"in-memory audio.*not audio"):
        decode_audio(b"definitely not audio" * 50)


def test_out_of_range_float_wav_is_clipped(tmp_path: Path) -> None:
    path = tmp_path / "loud.wav"
    sf.write(path, np.linspace(-3, 3, SAMPLE_RATE, dtype=np.float32), SAMPLE_RATE, subtype="FLOAT")
    x = decode_audio(path)
    assert x.min() == -1.0 and x.max() == 1.0


# --- resampling ---


def _tone(freq: float, rate: int, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (TONE_AMPLITUDE * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def _drop_db(x: np.ndarray, y: np.ndarray) -> float:
    return float(20 * np.log10(_rms(x) / max(_rms(y), 1e-20)))


def _middle(x: np.ndarray, rate: int, margin_s: float = 0.05) -> np.ndarray:
    m = int(rate * margin_s)
    return x[m:-m]


def test_resample_keeps_frequency_and_amplitude() -> None:
    src_rate = 44_100
    y = resample(_tone(1_000, src_rate), src_rate, SAMPLE_RATE)
    assert y.dtype == np.float32 and len(y) == SAMPLE_RATE
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    peak_hz = np.argmax(spectrum) * SAMPLE_RATE / len(y)
    assert peak_hz == pytest.approx(1_000, abs=1.0)
    assert _rms(_middle(y, SAMPLE_RATE)) == pytest.approx(TONE_AMPLITUDE / np.sqrt(2), rel=1e-3)


def test_resample_removes_tone_above_new_nyquist() -> None:
    src_rate = 44_100
    x = _tone(9_000, src_rate)  # above 8 kHz, the Nyquist frequency at 16 kHz: must not alias down to 7 kHz
    y = resample(x, src_rate, SAMPLE_RATE)
    assert _drop_db(x, y) > 40  # the whole output, onset and offset transients included (measures 47 dB)
    assert _drop_db(x, _middle(y, SAMPLE_RATE)) > 100  # steady state (measures 143 dB)


def test_resample_same_rate_and_empty() -> None:
    x = _tone(440, SAMPLE_RATE)
    np.testing.assert_array_equal(resample(x, SAMPLE_RATE, SAMPLE_RATE), x)
    assert resample(np.zeros(0, dtype=np.float32), 44_100, SAMPLE_RATE).shape == (0,)
    with pytest.raises(ValueError, match="positive"):
        resample(x, 0, SAMPLE_RATE)


@pytest.mark.parametrize("src_rate", [44_100, 48_000, 8_000, SAMPLE_RATE])
def test_stream_resampler_matches_one_shot(jfk_path: Path, src_rate: int) -> None:
    x = resample(to_mono(sf.read(jfk_path, dtype="float32", always_2d=True)[0]), 44_100, src_rate)
    one_shot = resample(x, src_rate, SAMPLE_RATE)
    rng = np.random.default_rng(0)
    stream = StreamResampler(src_rate, SAMPLE_RATE)
    for _ in range(2):  # flush resets: a second stream through the same object gives the same result
        out, pos = [], 0
        while pos < len(x):
            n = int(rng.integers(1, 4096))
            out.append(stream.process(x[pos : pos + n]))
            pos += n
        out.append(stream.flush())
        streamed = np.concatenate(out)
        assert len(streamed) == len(one_shot)
        np.testing.assert_allclose(streamed, one_shot, atol=1e-5)


def test_stream_resampler_downmixes_blocks() -> None:
    stereo = np.stack([_tone(1_000, 48_000), np.zeros(48_000, dtype=np.float32)], axis=1)
    stream = StreamResampler(48_000, SAMPLE_RATE)
    y = np.concatenate([stream.process(stereo[:24_000]), stream.process(stereo[24_000:]), stream.flush()])
    np.testing.assert_allclose(y, resample(to_mono(stereo), 48_000, SAMPLE_RATE), atol=1e-5)
