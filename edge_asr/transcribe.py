"""Long-form transcription: seek through 30-s windows as Whisper's reference decoder does, with temperature
fallback, no-speech skipping, previous-text conditioning, the short-clip encoder and optional word timestamps.

Audio streams in (see audio_stream.py) and each window's log-mel is computed from that window's samples, so memory
stays flat in the file's length. Where this differs from openai/whisper's ``transcribe()`` it says why.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from .alignment import find_alignment
from .audio_stream import open_audio
from .constants import (
    ENCODER_STRIDE,
    FRAMES_PER_SECOND,
    HOP_LENGTH,
    N_FRAMES,
    SAMPLE_RATE,
    SHORT_CLIP_MIN_CONTEXT,
    SHORT_CLIP_MIN_TAIL,
    TIME_PRECISION,
)
from .decoding import DecodeResult, WindowDecoder, log_softmax
from .engine.base import AudioInput
from .engine.runtime import KV, ModelRuntime
from .errors import AudioError, ConfigError
from .features import window_log_mel
from .options import TranscribeOptions
from .results import Segment, TranscriptionInfo, WindowResult, Word
from .sample_buffer import SampleBuffer
from .segments import Piece, split_pieces
from .tokenizer import Tokenizer
from .weights import ModelDims

log = logging.getLogger(__name__)

MIN_CONTEXT_FRAMES = int(SHORT_CLIP_MIN_CONTEXT * FRAMES_PER_SECOND)
MIN_TAIL_FRAMES = int(SHORT_CLIP_MIN_TAIL * FRAMES_PER_SECOND)
SILENCE_RMS = 10 ** (-60 / 20)  # -60 dBFS: quieter than any usable speech recording
SILENCE_BLOCK = SAMPLE_RATE // 10  # samples (100 ms) over which loudness is measured
ARRAY_BLOCK = 30 * SAMPLE_RATE  # samples per block when in-memory audio is streamed through the buffer


def short_clip_frames(content_frames: int) -> int:
    """Encoder frames for a window holding ``content_frames`` of audio: a zero tail and a minimum context."""
    frames = max(content_frames + MIN_TAIL_FRAMES, MIN_CONTEXT_FRAMES)
    frames += frames % ENCODER_STRIDE
    return min(frames, N_FRAMES)


def is_silent(window: np.ndarray) -> bool:
    """True when a window's loudest 100 ms is below the silence floor."""
    if len(window) == 0:
        return True
    blocks = len(window) // SILENCE_BLOCK
    if blocks == 0:
        return float(np.sqrt(np.mean(window.astype(np.float64) ** 2))) < SILENCE_RMS
    energy = (window[: blocks * SILENCE_BLOCK].astype(np.float64) ** 2).reshape(blocks, SILENCE_BLOCK).mean(axis=1)
    return float(np.sqrt(energy.max())) < SILENCE_RMS


def check_samples(audio: np.ndarray) -> np.ndarray:
    samples = np.asarray(audio, dtype=np.float32)
    if samples.ndim != 1:
        raise AudioError(f"audio must be mono samples (1-D), got shape {samples.shape}")
    if not np.isfinite(samples).all():
        raise AudioError("audio contains NaN or infinite samples")
    return samples


def audio_blocks(audio: AudioInput, max_duration: float | None = None) -> tuple[Iterable[np.ndarray], float]:
    """16-kHz mono blocks of a file (decoded as they are read) or of samples, and the duration (s) known now."""
    if isinstance(audio, (str, Path)):
        stream = open_audio(audio, max_duration=max_duration)
        return stream.blocks(), stream.duration or 0.0
    samples = check_samples(audio)
    return (samples[i : i + ARRAY_BLOCK] for i in range(0, len(samples), ARRAY_BLOCK)), len(samples) / SAMPLE_RATE


def as_samples(audio: AudioInput) -> np.ndarray:
    """All of ``audio`` as float32 mono 16-kHz samples (for callers that need the whole signal in memory)."""
    if isinstance(audio, (str, Path)):
        from .audio import decode_audio

        return decode_audio(audio)
    return check_samples(audio)


class WhisperTranscriber:
    """The Transcriber of edge-asr over any ModelRuntime (ONNX Runtime, TFLite)."""

    def __init__(self, runtime: ModelRuntime, tokenizer: Tokenizer, dims: ModelDims, model_name: str) -> None:
        self.runtime, self.tok, self.dims, self.model_name = runtime, tokenizer, dims, model_name
        self.decoder = WindowDecoder(runtime, tokenizer, dims.n_text_ctx, dims.n_vocab)

    @property
    def name(self) -> str:
        return f"{self.model_name} ({self.runtime.backend}: {', '.join(self.runtime.providers)})"

    @property
    def is_multilingual(self) -> bool:
        return self.dims.is_multilingual

    # ---- encoding ---------------------------------------------------------------------------------------
    def _encode(self, buf: SampleBuffer, seek: int, content: int, frames: int) -> KV:
        """Encode ``frames`` mel frames from ``seek``, of which the first ``content`` hold audio.

        Frames past the audio are zeros in normalised log-mel space, as Whisper's ``pad_or_trim`` of the mel
        segment gives (the log-mel of silence there instead made the decoder run on and repeat itself).
        """
        window = np.zeros((self.dims.n_mels, frames), dtype=np.float32)
        n = min(content, frames)
        window[:, :n] = window_log_mel(buf.window_audio(seek, n), n, self.dims.n_mels)
        return self.runtime.encode(window[None])

    # ---- language ---------------------------------------------------------------------------------------
    def _language_probs(self, cross: KV) -> list[tuple[str, float]]:
        out = self.runtime.decode(np.array([[self.tok.sot]], dtype=np.int64), None, cross, logits_start=0)
        logits = out.logits[0, -1].astype(np.float64)
        lang_ids = np.array(self.tok.language_tokens)
        lp = log_softmax(logits[lang_ids])
        order = np.argsort(-lp)
        return [(self.tok.language_codes[i], float(np.exp(lp[i]))) for i in order]

    def _detect(self, buf: SampleBuffer) -> list[tuple[str, float]]:
        buf.fill_to(N_FRAMES * HOP_LENGTH + HOP_LENGTH)
        content = min(N_FRAMES, buf.end // HOP_LENGTH)
        return self._language_probs(self._encode(buf, 0, content, N_FRAMES))

    def detect_language(self, audio: AudioInput) -> tuple[str, float, list[tuple[str, float]]]:
        if not self.is_multilingual:
            return "en", 1.0, [("en", 1.0)]
        blocks, _ = audio_blocks(audio)
        probs = self._detect(SampleBuffer(blocks))
        return probs[0][0], probs[0][1], probs

    # ---- transcription ----------------------------------------------------------------------------------
    def transcribe(
        self, audio: AudioInput, options: TranscribeOptions | None = None
    ) -> tuple[Iterator[Segment], TranscriptionInfo]:
        windows, info = self.transcribe_windows(audio, options)
        return (seg for w in windows for seg in w.segments), info

    def transcribe_windows(
        self, audio: AudioInput, options: TranscribeOptions | None = None, *, max_duration: float | None = None
    ) -> tuple[Iterator[WindowResult], TranscriptionInfo]:
        """Like :meth:`transcribe`, one item per 30-s window (silent and skipped windows included), for callers
        that interleave work or show progress. ``max_duration`` refuses longer audio (AudioTooLong) early."""
        opts = options or TranscribeOptions()
        blocks, duration = audio_blocks(audio, max_duration)
        speech = None
        if opts.vad_filter:
            from .vad_filter import SpeechFilter

            speech = SpeechFilter()
            blocks = speech.filter(blocks)
        buf = SampleBuffer(blocks)
        language, language_prob, all_probs = "en", 1.0, None
        if self.is_multilingual:
            if opts.language is None:
                probs = self._detect(buf)
                language, language_prob, all_probs = probs[0][0], probs[0][1], tuple(probs)
            else:
                self.tok.language_token(opts.language)  # validates the code
                language = opts.language
        else:
            if opts.language not in (None, "en"):
                raise ConfigError(f"{self.model_name} is English-only; it cannot transcribe language {opts.language!r}")
            if opts.task == "translate":
                raise ConfigError(f"{self.model_name} is English-only; use a multilingual model to translate")
        info = TranscriptionInfo(
            language, language_prob, duration, opts, self.model_name, self.runtime.backend, all_probs
        )
        windows = self._windows(buf, opts, language)
        if speech is not None:
            windows = (speech.map_window(w) for w in windows)
        return windows, info

    def _decode_with_fallback(
        self,
        buf: SampleBuffer,
        seek: int,
        segment_size: int,
        opts: TranscribeOptions,
        language: str,
        prompt: list[int],
        hotwords: list[int],
        rng: np.random.Generator,
    ) -> tuple[DecodeResult, KV]:
        short = opts.short_clip and segment_size < N_FRAMES and short_clip_frames(segment_size) < N_FRAMES
        frames = short_clip_frames(segment_size) if short else N_FRAMES
        cross = self._encode(buf, seek, segment_size, frames)
        lang = language if self.is_multilingual else None
        # Timestamps stop at the end of what was encoded: past it they are guesses, and a guess of <|29.22|> after a
        # 1.4-s window encoded as 5 s made seek overshoot. Not at the end of the audio itself: the model closes
        # its last segment in the zero tail, and forbidding that made it go on with invented text.
        max_ts = frames // ENCODER_STRIDE
        attempts: list[DecodeResult] = []
        result: DecodeResult | None = None
        for t in opts.temperatures:
            result = self.decoder.decode(cross, opts, lang, prompt, t, rng, hotwords, max_ts)
            too_repetitive = (
                opts.compression_ratio_threshold is not None
                and result.compression_ratio > opts.compression_ratio_threshold
            )
            if short and (too_repetitive or not result.hit_eot):
                # The short encoder context can make the decoder loop; the full window is the safe fallback.
                log.debug(
                    "short-clip decode failed at %.2f s (eot=%s, cr=%.2f); using the full window",
                    seek / FRAMES_PER_SECOND,
                    result.hit_eot,
                    result.compression_ratio,
                )
                short = False
                cross = self._encode(buf, seek, segment_size, N_FRAMES)
                max_ts = N_FRAMES // ENCODER_STRIDE
                result = self.decoder.decode(cross, opts, lang, prompt, t, rng, hotwords, max_ts)
                too_repetitive = (
                    opts.compression_ratio_threshold is not None
                    and result.compression_ratio > opts.compression_ratio_threshold
                )
            attempts.append(result)
            low_logprob = opts.log_prob_threshold is not None and result.avg_logprob < opts.log_prob_threshold
            silent = (
                opts.no_speech_threshold is not None
                and result.no_speech_prob > opts.no_speech_threshold
                and low_logprob
            )
            if silent or not (too_repetitive or low_logprob):
                return result, cross
        # Every temperature failed: keep the most likely attempt that is not a repetition loop.
        ok = [
            r
            for r in attempts
            if opts.compression_ratio_threshold is None or r.compression_ratio <= opts.compression_ratio_threshold
        ]
        assert result is not None
        return max(ok or attempts, key=lambda r: r.avg_logprob), cross

    def _windows(self, buf: SampleBuffer, opts: TranscribeOptions, language: str) -> Iterator[WindowResult]:
        rng = np.random.default_rng(opts.seed)
        all_tokens: list[int] = []  # text AND timestamp tokens of every segment so far, as Whisper keeps them
        prompt_reset = 0
        if opts.initial_prompt:
            all_tokens += self.tok.encode(" " + opts.initial_prompt.strip())
        hot = self.tok.encode(" " + opts.hotwords.strip()) if opts.hotwords else []
        seg_id = 0
        seek = 0
        last_end = 0.0
        while True:
            buf.release(seek * HOP_LENGTH - HOP_LENGTH * ENCODER_STRIDE)
            buf.fill_to((seek + N_FRAMES) * HOP_LENGTH + HOP_LENGTH)
            content_frames = buf.end // HOP_LENGTH if buf.eof else seek + N_FRAMES
            if seek >= content_frames:
                return
            time_offset = seek * HOP_LENGTH / SAMPLE_RATE
            segment_size = min(N_FRAMES, content_frames - seek)
            window_start = seek
            if is_silent(buf.get(seek * HOP_LENGTH, (seek + segment_size) * HOP_LENGTH)):
                # Whisper invents words ("you", "Thank you.") on digital silence; there is nothing to decode.
                seek += segment_size
                yield WindowResult(time_offset, seek * HOP_LENGTH / SAMPLE_RATE, ())
                continue
            prompt = all_tokens[prompt_reset:]
            result, cross = self._decode_with_fallback(buf, seek, segment_size, opts, language, prompt, hot, rng)
            if (
                opts.no_speech_threshold is not None
                and result.no_speech_prob > opts.no_speech_threshold
                and not (opts.log_prob_threshold is not None and result.avg_logprob > opts.log_prob_threshold)
            ):
                seek += segment_size
                yield WindowResult(time_offset, seek * HOP_LENGTH / SAMPLE_RATE, ())
                continue
            split = split_pieces(result.tokens, self.tok.timestamp_begin, segment_size)
            pieces = split.pieces
            seek += split.consumed
            window_end = time_offset + segment_size * HOP_LENGTH / SAMPLE_RATE
            words_by_piece = (
                self._word_timings(pieces, cross, segment_size, language) if opts.word_timestamps else None
            )
            if words_by_piece is not None and not split.single_ending:
                # As Whisper: with words, the next window starts at the end of the last word heard.
                last_word = next((ws[-1].end for ws in reversed(words_by_piece) if ws), None)
                if last_word is not None and last_word > 0:
                    seek = window_start + min(segment_size, round(last_word * FRAMES_PER_SECOND))
            out: list[Segment] = []
            for k, piece in enumerate(pieces):
                text_tokens = [t for t in piece.tokens if t < self.tok.eot]
                text = self.tok.decode(text_tokens)
                words = None
                if words_by_piece is not None:
                    words = tuple(
                        Word(round(time_offset + w.start, 3), round(time_offset + w.end, 3), w.word, w.probability)
                        for w in words_by_piece[k]
                    )
                s, e = time_offset + piece.start, time_offset + piece.end
                if words:
                    s, e = words[0].start, words[-1].end
                if not text.strip() or e <= s:
                    # As Whisper: an instantaneous or empty segment is cleared, and left out of the prompt.
                    if text.strip():
                        log.debug("dropped a zero-length segment at %.2f s: %r", s, text)
                    continue
                # Times never run backwards nor past the window's audio, whatever the decoder predicted.
                e = min(round(e, 3), round(window_end, 3))
                s = min(max(round(s, 3), last_end), e)
                e = max(e, s)
                last_end = e
                out.append(
                    Segment(
                        seg_id,
                        s,
                        e,
                        text,
                        tuple(piece.tokens),
                        result.avg_logprob,
                        result.compression_ratio,
                        result.no_speech_prob,
                        result.temperature,
                        words,
                    )
                )
                seg_id += 1
                all_tokens.extend(piece.tokens)
            if not opts.condition_on_previous_text or result.temperature > opts.prompt_reset_on_temperature:
                prompt_reset = len(all_tokens)
            yield WindowResult(time_offset, seek * HOP_LENGTH / SAMPLE_RATE, tuple(out))

    def _word_timings(
        self, pieces: list[Piece], cross: KV, segment_size: int, language: str
    ) -> list[list[Word]]:
        text_tokens = [t for p in pieces for t in p.tokens if t < self.tok.eot]
        sot = self.tok.sot_sequence(language if self.is_multilingual else None, "transcribe")
        timings = find_alignment(self.runtime, self.tok, cross, sot, text_tokens, segment_size, language)
        out: list[list[Word]] = []
        idx = 0
        for p in pieces:
            n_text = sum(1 for t in p.tokens if t < self.tok.eot)
            words: list[Word] = []
            used = 0
            while idx < len(timings) and used < n_text:
                w = timings[idx]
                if w.word:
                    ws = min(max(w.start, p.start), p.end) if p.end > p.start else w.start
                    we = min(max(w.end, ws), p.end) if p.end > p.start else w.end
                    words.append(Word(ws, we, w.word, w.probability))
                used += len(w.tokens)
                idx += 1
            out.append(words)
        return out


__all__ = ["TIME_PRECISION", "WhisperTranscriber", "as_samples", "is_silent", "short_clip_frames"]
