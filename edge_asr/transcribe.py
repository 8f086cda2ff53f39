"""Long-form transcription: seek through 30-s windows as Whisper does, with temperature fallback, no-speech
skipping, previous-text conditioning, the short-clip encoder and optional word timestamps."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .alignment import find_alignment
from .audio import decode_audio
from .constants import (
    ENCODER_STRIDE,
    FRAMES_PER_SECOND,
    HOP_LENGTH,
    LANGUAGE_DETECT_SECONDS,
    N_FRAMES,
    N_SAMPLES,
    SAMPLE_RATE,
    SHORT_CLIP_MIN_CONTEXT,
    SHORT_CLIP_MIN_TAIL,
    TIME_PRECISION,
)
from .decoding import DecodeResult, WindowDecoder, log_softmax
from .engine.base import AudioInput
from .engine.runtime import KV, ModelRuntime
from .errors import AudioError, ConfigError
from .features import log_mel_spectrogram, pad_or_trim_frames
from .options import TranscribeOptions
from .results import Segment, TranscriptionInfo, Word
from .tokenizer import Tokenizer
from .weights import ModelDims

log = logging.getLogger(__name__)

MIN_CONTEXT_FRAMES = int(SHORT_CLIP_MIN_CONTEXT * FRAMES_PER_SECOND)
MIN_TAIL_FRAMES = int(SHORT_CLIP_MIN_TAIL * FRAMES_PER_SECOND)
SILENCE_RMS = 10 ** (-60 / 20)  # -60 dBFS: quieter than any usable speech recording
SILENCE_BLOCK = SAMPLE_RATE // 10  # samples (100 ms) over which loudness is measured


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


def as_samples(audio: AudioInput) -> np.ndarray:
    if isinstance(audio, (str, Path)):
        return decode_audio(audio)
    samples = np.asarray(audio, dtype=np.float32)
    if samples.ndim != 1:
        raise AudioError(f"audio must be mono samples (1-D), got shape {samples.shape}")
    if not np.isfinite(samples).all():
        raise AudioError("audio contains NaN or infinite samples")
    return samples


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
    def _mel(self, samples: np.ndarray) -> np.ndarray:
        return log_mel_spectrogram(samples, self.dims.n_mels, padding=N_SAMPLES)

    def _encode(self, mel: np.ndarray, seek: int, frames: int, content: int | None = None) -> KV:
        window = pad_or_trim_frames(mel[:, seek : seek + frames], frames)
        if content is not None and content < frames:
            # A short window ends in zeros in normalised log-mel space (as faster-whisper pads): measured here,
            # the log-mel of digital silence instead made the decoder run on past the audio and repeat itself.
            window = window.copy()
            window[:, content:] = 0.0
        return self.runtime.encode(window[None])

    # ---- language ---------------------------------------------------------------------------------------
    def _language_probs(self, cross: KV) -> list[tuple[str, float]]:
        out = self.runtime.decode(np.array([[self.tok.sot]], dtype=np.int64), None, cross, logits_start=0)
        logits = out.logits[0, -1].astype(np.float64)
        lang_ids = np.array(self.tok.language_tokens)
        lp = log_softmax(logits[lang_ids])
        order = np.argsort(-lp)
        return [(self.tok.language_codes[i], float(np.exp(lp[i]))) for i in order]

    def _detect(self, mel: np.ndarray, seconds: float = LANGUAGE_DETECT_SECONDS) -> list[tuple[str, float]]:
        """Language probabilities from the first ``seconds`` of audio through the short-clip encoder: a few
        seconds decide the language as well as a whole 30-s window, at a fraction of the encoder time."""
        frames = min(mel.shape[-1] - N_FRAMES, max(1, int(seconds * FRAMES_PER_SECOND)))
        return self._language_probs(self._encode(mel, 0, short_clip_frames(frames), frames))

    def detect_language(
        self, audio: AudioInput, seconds: float = LANGUAGE_DETECT_SECONDS
    ) -> tuple[str, float, list[tuple[str, float]]]:
        if not self.is_multilingual:
            return "en", 1.0, [("en", 1.0)]
        probs = self._detect(self._mel(as_samples(audio)[: int(seconds * SAMPLE_RATE)]), seconds)
        return probs[0][0], probs[0][1], probs

    # ---- transcription ----------------------------------------------------------------------------------
    def transcribe(
        self, audio: AudioInput, options: TranscribeOptions | None = None
    ) -> tuple[Iterator[Segment], TranscriptionInfo]:
        opts = options or TranscribeOptions()
        samples = as_samples(audio)
        duration = len(samples) / SAMPLE_RATE
        mel = self._mel(samples)
        content_frames = mel.shape[-1] - N_FRAMES
        language, language_prob, all_probs = "en", 1.0, None
        if self.is_multilingual:
            if opts.language is None and content_frames > 0:
                probs = self._detect(mel)
                language, language_prob, all_probs = probs[0][0], probs[0][1], tuple(probs)
            elif opts.language is not None:
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
        return self._segments(samples, mel, content_frames, duration, opts, language), info

    def _decode_with_fallback(
        self,
        mel: np.ndarray,
        seek: int,
        segment_size: int,
        opts: TranscribeOptions,
        language: str,
        prompt: list[int],
        rng: np.random.Generator,
    ) -> tuple[DecodeResult, KV]:
        short = opts.short_clip and segment_size < N_FRAMES and short_clip_frames(segment_size) < N_FRAMES
        cross = (
            self._encode(mel, seek, short_clip_frames(segment_size), segment_size)
            if short
            else self._encode(mel, seek, N_FRAMES)
        )
        lang = language if self.is_multilingual else None
        attempts: list[DecodeResult] = []
        result: DecodeResult | None = None
        for t in opts.temperatures:
            result = self.decoder.decode(cross, opts, lang, prompt, t, rng)
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
                cross = self._encode(mel, seek, N_FRAMES)
                result = self.decoder.decode(cross, opts, lang, prompt, t, rng)
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

    def _segments(
        self,
        samples: np.ndarray,
        mel: np.ndarray,
        content_frames: int,
        duration: float,
        opts: TranscribeOptions,
        language: str,
    ) -> Iterator[Segment]:
        rng = np.random.default_rng(opts.seed)
        tb = self.tok.timestamp_begin
        all_tokens: list[int] = []
        prompt_reset = 0
        if opts.initial_prompt:
            all_tokens += self.tok.encode(" " + opts.initial_prompt.strip())
        hot = self.tok.encode(" " + opts.hotwords.strip()) if opts.hotwords else []
        seg_id = 0
        seek = 0
        last_end = 0.0
        while seek < content_frames:
            time_offset = seek * HOP_LENGTH / SAMPLE_RATE
            segment_size = min(N_FRAMES, content_frames - seek)
            if is_silent(samples[seek * HOP_LENGTH : (seek + segment_size) * HOP_LENGTH]):
                # Whisper invents words ("you", "Thank you.") on digital silence; there is nothing to decode.
                seek += segment_size
                continue
            prompt = hot + all_tokens[prompt_reset:]
            result, cross = self._decode_with_fallback(mel, seek, segment_size, opts, language, prompt, rng)
            if (
                opts.no_speech_threshold is not None
                and result.no_speech_prob > opts.no_speech_threshold
                and not (opts.log_prob_threshold is not None and result.avg_logprob > opts.log_prob_threshold)
            ):
                seek += segment_size
                continue
            tokens = result.tokens
            pieces: list[tuple[float, float, list[int]]] = []
            is_ts = [t >= tb for t in tokens]
            single_ending = is_ts[-2:] == [False, True]
            consecutive = [i + 1 for i in range(len(tokens) - 1) if is_ts[i] and is_ts[i + 1]]
            if consecutive:
                slices = consecutive + ([len(tokens)] if single_ending else [])
                last = 0
                for cut in slices:
                    part = tokens[last:cut]
                    pieces.append(((part[0] - tb) * TIME_PRECISION, (part[-1] - tb) * TIME_PRECISION, part))
                    last = cut
                if single_ending:
                    seek += segment_size
                else:
                    seek += (tokens[last - 1] - tb) * ENCODER_STRIDE
            else:
                seg_duration = segment_size * HOP_LENGTH / SAMPLE_RATE
                stamps = [t for t in tokens if t >= tb]
                if stamps and stamps[-1] != tb:
                    seg_duration = (stamps[-1] - tb) * TIME_PRECISION
                pieces.append((0.0, seg_duration, tokens))
                seek += segment_size

            words_by_piece = (
                self._word_timings(pieces, cross, segment_size, language, result) if opts.word_timestamps else None
            )
            for k, (start, end, part) in enumerate(pieces):
                text_tokens = [t for t in part if t < self.tok.eot]
                text = self.tok.decode(text_tokens)
                if not text.strip() or (end <= start and not text_tokens):
                    continue
                words = None
                if words_by_piece is not None:
                    words = tuple(
                        Word(round(time_offset + w.start, 3), round(time_offset + w.end, 3), w.word, w.probability)
                        for w in words_by_piece[k]
                    )
                s, e = time_offset + start, time_offset + end
                if words:
                    s, e = words[0].start, words[-1].end
                # Times never run backwards nor past the audio, whatever the decoder predicted.
                e = min(round(max(e, s), 3), duration)
                s = min(round(max(s, last_end), 3), e)
                last_end = e
                yield Segment(
                    seg_id,
                    s,
                    e,
                    text,
                    tuple(part),
                    result.avg_logprob,
                    result.compression_ratio,
                    result.no_speech_prob,
                    result.temperature,
                    words,
                )
                seg_id += 1
                all_tokens.extend(text_tokens)
            if not opts.condition_on_previous_text or result.temperature > opts.prompt_reset_on_temperature:
                prompt_reset = len(all_tokens)

    def _word_timings(
        self,
        pieces: list[tuple[float, float, list[int]]],
        cross: KV,
        segment_size: int,
        language: str,
        result: DecodeResult,
    ) -> list[list[Word]]:
        text_tokens = [t for _, _, part in pieces for t in part if t < self.tok.eot]
        sot = self.tok.sot_sequence(language if self.is_multilingual else None, "transcribe")
        timings = find_alignment(self.runtime, self.tok, cross, sot, text_tokens, segment_size, language)
        out: list[list[Word]] = []
        idx = 0
        for start, end, part in pieces:
            n_text = sum(1 for t in part if t < self.tok.eot)
            words: list[Word] = []
            used = 0
            while idx < len(timings) and used < n_text:
                w = timings[idx]
                if w.word:
                    ws = min(max(w.start, start), end) if end > start else w.start
                    we = min(max(w.end, ws), end) if end > start else w.end
                    words.append(Word(ws, we, w.word, w.probability))
                used += len(w.tokens)
                idx += 1
            out.append(words)
        return out
