"""``LiveOptions``: how the live pipeline listens and decodes, validated once. A module of its own so that the
shells can build and describe the options (defaults in ``--help``, config keys) without loading the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, fields

from ..errors import ConfigError
from .guard import GuardConfig
from .vad import SegmenterConfig
from .vad_gain import DEFAULT_PEAK


@dataclass(frozen=True)
class LiveOptions:
    """How the live pipeline listens and decodes. Built once by the CLI, the config file or the GUI."""

    device: str | int | None = None  # input device: a name fragment, an index, or None for the default
    realtime: bool = False  # file sources: paced like a microphone instead of as fast as possible
    partial_interval: float = 0.5  # s of speech between partial decodes
    partials: bool = True  # publish partial hypotheses at all
    speculative_final: bool = True  # start the final decode when the pause begins (see streaming.py)
    early_finals: bool = True  # publish it then if it ends a sentence; amend it if speech resumes (streaming.py)
    vad_threshold: float = 0.5  # Silero P(speech) that starts speech
    vad_release: float | None = None  # P(speech) under which it is silence (None: threshold - 0.15)
    energy_gate_dbfs: float = -50.0  # quieter windows skip the VAD model entirely
    vad_peak_dbfs: float | None = DEFAULT_PEAK  # the VAD hears the input raised to this peak (vad_gain.py; None: off)
    min_speech: float = 0.25  # s of speech before an utterance opens
    min_silence: float = 0.5  # s of silence that ends an utterance
    pre_roll: float = 0.5  # s of audio kept before the speech onset (weak first syllables)
    post_roll: float = 0.2  # s of audio kept after the speech end
    lull: float = 0.064  # s of silence before a first look at the text, shown at the pause (streaming.py; 0: off)
    max_utterance: float = 15.0  # s; longer speech is split at the quietest point near the cap
    split_window: float = 3.0  # s before the cap searched for that point
    no_speech_threshold: float = 0.6  # hallucination guard: see guard.py
    log_prob_threshold: float = -1.0
    reject_log_prob: float = -0.75  # finals decoded less surely are dropped (non-English into tiny.en, noise)
    compression_ratio_threshold: float = 2.4
    max_repeats: int = 3
    level_interval: float = 0.1  # s between Level events
    stats_interval: float = 1.0  # s between Stats events

    def __post_init__(self) -> None:
        if self.partial_interval <= 0 or self.level_interval <= 0 or self.stats_interval <= 0:
            raise ConfigError("partial_interval, level_interval and stats_interval must be positive")
        self.segmenter_config()  # validates the VAD settings
        self.guard_config()

    def segmenter_config(self) -> SegmenterConfig:
        return SegmenterConfig(threshold=self.vad_threshold, neg_threshold=self.vad_release,
                               energy_gate_dbfs=self.energy_gate_dbfs, vad_peak_dbfs=self.vad_peak_dbfs,
                               min_speech=self.min_speech,
                               min_silence=self.min_silence, pre_roll=self.pre_roll, post_roll=self.post_roll,
                               lull=self.lull, max_utterance=self.max_utterance, split_window=self.split_window)

    def guard_config(self) -> GuardConfig:
        return GuardConfig(no_speech_threshold=self.no_speech_threshold, log_prob_threshold=self.log_prob_threshold,
                           reject_log_prob=self.reject_log_prob,
                           compression_ratio_threshold=self.compression_ratio_threshold,
                           max_repeats=self.max_repeats, min_speech=min(self.min_speech, GuardConfig.min_speech))

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]
