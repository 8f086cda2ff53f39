"""The streaming policy: partial hypotheses while an utterance grows, one final decode when it ends.

Every ``partial_interval`` seconds of speech the whole utterance so far is decoded again (greedy, short-clip
encoder) and published as a :class:`Partial`; a LocalAgreement-2 rule marks as stable the word prefix two
consecutive passes agree on, and the stable text only ever grows within an utterance. When the VAD ends the
utterance, it is decoded once more (with temperature fallback) and published as a :class:`Final`.

Finals must not wait for partials: one decoder thread takes finals first, keeps at most one partial waiting (the
newest; older ones are skipped) and starts no partial once the speaker pauses. The final decode itself starts
*speculatively* as soon as the silence has lasted the post-roll: the audio of the final is already known then,
and if the silence goes on to end the utterance the result is ready (or nearly) when the VAD decides. Speech
resuming cancels the speculation.

**Early finals.** When that speculative decode reads as a finished sentence (it ends in . ? or !, not in an
ellipsis) and passes the guard while the speaker is still silent, it is published at once instead of at the end of
the min-silence wait (0.5 s): the final arrives about 0.3 s sooner. Should speech resume within that wait, the VAD
keeps the utterance open exactly as without early finals, and its final, when it ends, comes with ``replaces`` =
the early final's id (events.py). The settled finals are therefore the ones the pipeline would publish anyway.

**A first look.** The speculative decode cannot start before the post-roll (0.2 s) has been heard, and takes about
0.1 s: the early final would come 0.3 s after the VAD's end of speech at best. So at the lull before it (0.064 s of
silence, vad.Lull) what the utterance holds is decoded already; if that reads as a finished sentence it is shown
the moment the pause is certain. The speculative decode on the final's own audio follows as before and is the one
that settles: when its text differs, it replaces the look's (``replaces``), so the text a reader settles on is
unchanged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from ..constants import SAMPLE_RATE
from ..engine.base import Transcriber
from ..options import TranscribeOptions
from ..results import Segment
from .early import ends_turn
from .events import Error, Event, Final, Partial
from .guard import HallucinationGuard
from .hypotheses import LocalAgreement
from .hypotheses import merge_segments as _merge
from .hypotheses import merge_utterances as _merge_utterances
from .jobs import CurrentAudio, Job, final_of, live_options, token_cap, with_carry
from .vad import End, Lull, Onset, Pause, Resume, SegmenterEvent, Utterance

log = logging.getLogger(__name__)

# s of speech after the onset before the first partial decode. Measured on en-dev with 0.5 s of pre-roll: 0.25 s
# of speech decodes to nothing or to a too-unsure word in 7 of 18 clips, and 5 of those passes fall back to the full
# 30-s window (0.5 s instead of 0.05 s); from 0.5 s on the first words come out, and from 1 s nearly always fast.
MIN_PARTIAL_SPEECH = 0.5
FIRST_PARTIAL_RETRY = 0.25  # s between passes until the utterance's first partial is shown (the first words of an
# utterance often decode too unsure to show; trying again sooner keeps the first partial within 1 s of the onset)
# A short utterance that decodes too unsurely to publish is carried into the next one and decoded again with it.
# Alone, two words lack the context Whisper needs: JFK's "ask not" (then a 1.1-s pause) decodes at -0.92 and was
# dropped every time; a slow speaker's "We ... gathered to ... review" lost three fragments in a row (en-wild).
CARRY_MAX_GAP = 3.0  # s of silence across which a carried utterance still joins the next
CARRY_MAX_AUDIO = 10.0  # s of audio a chain of carried utterances may reach; past it, the unsure text is dropped
CARRY_REASONS = frozenset({"low confidence", "too little speech"})
# Whether an utterance is carried is known only once its final is decoded, and under load that can be after the
# next utterance's decode was queued: a final therefore takes the carry when its decode starts (the decoder runs
# finals in stream order), never when it is queued (see _take_carry).


class StreamingDecoder:
    """Turns segmenter events into decode jobs on one worker thread, and decode results into events."""

    def __init__(self, transcriber: Transcriber, publish: Callable[[Event], None], *,
                 transcribe_options: TranscribeOptions | None = None, partial_interval: float = 0.5,
                 partials: bool = True, speculative: bool = True, guard: HallucinationGuard | None = None,
                 synchronous: bool = False, early_finals: bool = True) -> None:
        self.transcriber = transcriber
        self.publish = publish
        self.partial_options, self.final_options = live_options(transcribe_options)
        self.partial_interval, self.partials, self.speculative = partial_interval, partials, speculative
        self.guard = guard or HallucinationGuard()
        self.synchronous = synchronous  # file input as fast as possible: wait for each decode (deterministic)
        self.early_finals = early_finals and speculative
        self._early: tuple[int, int] | None = None  # (utterance, final id) of an early final a later one replaces
        self._early_text = ""  # and its text
        self._look: Job | None = None  # the first look at the current lull (module docstring)
        self._cv = threading.Condition()
        self._finals: list[Job] = []  # waiting, in order
        self._partial: Job | None = None  # the one waiting partial
        self._running: Job | None = None
        self._closing = False
        self._utt_id = 0
        self._open_utt: int | None = None  # the utterance partials may still be published for
        self._agreement = LocalAgreement()
        self._last_partial_at = -1.0  # stream s of the last partial request
        self._partial_backoff = 0.0  # s added to the interval after a slow partial decode
        self._shown = False  # a partial of the current utterance has been published
        self._speech_start = 0.0  # s, onset of the current utterance
        self._partial_utt = -1  # the utterance the last published partial belongs to
        self._speculation: Job | None = None
        self._carry: Utterance | None = None  # an unsure utterance waiting to be decoded again with the next
        # The final the carried utterance gives on its own, published if capture is stopped (Ctrl-C, Stop, the
        # daemon stopping) before a next utterance could take it: the speaker was cut off, so their words are
        # shown rather than lost. A stream that ends by itself leaves an unsure fragment to the guard.
        self._carry_final: tuple[Final, Job] | None = None
        self._release_on_close = False
        self._final_count = 0
        self.decode_seconds = 0.0  # total, for the real-time factor
        self.audio_seconds = 0.0
        self.last_latency = 0.0
        self.skipped_partials = 0
        self._thread = threading.Thread(target=self._work, name="edge-asr-decoder", daemon=True)
        self._thread.start()

    # -- called by the pipeline's worker thread ---------------------------------------------------------------
    def on_event(self, ev: SegmenterEvent, arrival: float, current: CurrentAudio) -> None:
        if isinstance(ev, Onset):
            with self._cv:
                self._new_utterance(ev.speech_start)
        elif isinstance(ev, Lull):
            held = current() if self.early_finals else None
            if held is not None:
                self._submit_final(Job("final", self._utt_id, held[0], held[1], end=ev.end, early=ev.utterance,
                                      speech_start=self._speech_start, look=True))
        elif isinstance(ev, Pause):
            look = self._show_look(arrival)
            held = current() if self.speculative else None
            if held is not None:
                audio, start = held
                early = ev.utterance if self.early_finals else None
                self._submit_final(Job("final", self._utt_id, audio, start, end=ev.end, early=early,
                                       paused_at=arrival, speech_start=self._speech_start, after_look=look))
        elif isinstance(ev, Resume):
            self._cancel_speculation()
        elif isinstance(ev, End):
            self._end(ev.utterance, arrival)

    def _new_utterance(self, speech_start: float) -> None:
        """Partials start afresh for the utterance whose speech starts at ``speech_start`` s (lock held)."""
        self._speech_start = speech_start
        self._utt_id += 1
        self._open_utt = self._utt_id
        self._agreement = LocalAgreement()
        self._last_partial_at = -1.0
        self._shown = False

    def maybe_partial(self, position: float, current: CurrentAudio, paused: bool, silent: bool = False) -> None:
        """Called after each block while in speech: start a partial when one is due and the decoder is free.

        A due partial waits (re-checked on the next block) while a decode runs, and is never queued behind one;
        once the speaker pauses it is skipped, because the final decode is about to start. While the speech has
        stopped but the pause is not yet certain (``silent``) it waits too: started then, it would likely still
        be running when the final's decode has to start.
        """
        interval = self.partial_interval if self._shown else min(self.partial_interval, FIRST_PARTIAL_RETRY)
        if not self.partials or position - self._last_partial_at < interval + self._partial_backoff:
            return
        if paused:
            self.skipped_partials += 1
            self._last_partial_at = position
            return
        if silent or self._running is not None or self._finals or self._partial is not None:
            return
        if position - self._speech_start < MIN_PARTIAL_SPEECH:
            return
        held = current()
        if held is None:
            return
        audio, start, carry = self._joined(*held)
        with self._cv:
            self._last_partial_at = position
            self._partial = Job("partial", self._utt_id, audio, start, end=start + len(audio) / SAMPLE_RATE,
                                carry=carry)
            self._cv.notify_all()
        if self.synchronous:
            self.wait_idle()

    def _end(self, utt: Utterance, arrival: float) -> None:
        with self._cv:
            self._drop_look()
            ended = self._utt_id
            self._open_utt = None
            self._partial = None
            spec = self._speculation
            self._speculation = None
            if utt.reason == "split":  # the rest of the speech continues as a new utterance
                self._new_utterance(utt.end)
            # The speculative decode is reused whatever the carry: it takes the carry when it starts (_take_carry)
            reuse = (spec is not None and not spec.cancelled and not spec.failed and spec.utt_id == ended
                     and abs(spec.end - utt.end) < 1e-6)
            if spec is not None and reuse and spec.published:  # its final is out already (early)
                self._carry = self._carry_final = None
                self._early = None
            elif spec is not None and reuse:
                merged = _merge_utterances(spec.carry, utt) if spec.carry is not None else utt
                spec.utterance, spec.vad_end_at = merged, arrival
                if spec.done:  # decoded already: judge it with the VAD's figures and publish
                    self._publish_final(self._make_final(spec, spec.segments), arrival, spec)
                else:
                    spec.confirmed = True
            else:
                if spec is not None:
                    spec.cancelled = True
                self._finals.append(Job("final", ended, utt.audio, utt.start, utt, utt.end, True, arrival,
                                        speech_start=utt.speech_start))
                self._cv.notify_all()
        if self.synchronous:
            self.wait_idle()

    def _joined(self, audio: np.ndarray, start: float) -> tuple[np.ndarray, float, Utterance | None]:
        """A partial's audio with the carried utterance (if any, and near enough) in front, the gap as zeros. A
        preview only: whether the carry is still waiting, and where, is decided by the finals (_take_carry)."""
        carry = self._carry
        if carry is None or carry.end > start or self._speech_start - carry.speech_end > CARRY_MAX_GAP:
            return audio, start, None
        return with_carry(carry, audio, start), carry.start, carry

    def _take_carry(self, job: Job) -> None:
        """Put the carried utterance in front of a final about to be decoded (called with the lock held).

        Finals decode one at a time in stream order, so the carry is the one the previous final left; taken when
        the job was queued instead, it could be one that a final still waiting would leave, and that final's
        success would then clear a carry nobody had decoded (JFK's "ask not" vanished under load that way)."""
        carry = self._carry
        if job.carry is not None or carry is None or carry.end > job.start:
            return
        if job.speech_start - carry.speech_end > CARRY_MAX_GAP:
            # Unsure and alone: as the guard would have it (non-English speech into tiny.en ends here).
            log.debug("dropped the carried utterance at %.2f s: no speech followed", carry.start)
            self._carry = self._carry_final = None
            return
        self._carry_final = None  # decoded again with this job: its words are in this final
        job.audio = with_carry(carry, job.audio, job.start)
        job.start, job.carry = carry.start, carry
        if job.utterance is not None:
            job.utterance = _merge_utterances(carry, job.utterance)
        if job.early is not None:
            job.early = _merge_utterances(carry, job.early)

    def _release_carry(self, why: str) -> None:
        """Publish the carried utterance as it decoded alone, since nothing will be decoded with it (lock held)."""
        carried, self._carry, self._carry_final = self._carry_final, None, None
        if carried is not None:
            final, job = carried
            log.debug("publishing the carried utterance at %.2f s on its own: %s", job.start, why)
            self._publish_final(final, time.monotonic(), job)

    def _submit_final(self, job: Job) -> None:
        """Queue a Pause's speculative final or a Lull's look; each supersedes the one of its kind before it."""
        with self._cv:
            if job.look:
                self._drop_look()
                self._look = job
            else:
                if self._speculation is not None:
                    self._speculation.cancelled = True
                self._speculation = job
            self._partial = None
            self._finals.append(job)
            self._cv.notify_all()
        if self.synchronous:
            self.wait_idle()

    def _show_look(self, paused_at: float) -> Job | None:
        """The pause is certain: publish the look's final if it is ready (else _run does when it is)."""
        with self._cv:
            look = self._look
            if look is None or look.cancelled or look.utt_id != self._utt_id:
                return None
            look.paused_at = paused_at
            if look.candidate is not None:
                look.published = True
                self._publish_final(look.candidate, paused_at, look)
            return look

    def _drop_look(self) -> None:
        """Lock held. A look not yet shown no longer applies (speech resumed, the utterance ended or split)."""
        look, self._look = self._look, None
        if look is not None and not look.published:
            look.cancelled = True
            if look in self._finals:
                self._finals.remove(look)

    def _cancel_speculation(self) -> None:
        with self._cv:
            self._drop_look()
            if self._speculation is not None:
                self._speculation.cancelled = True
                if self._speculation in self._finals:
                    self._finals.remove(self._speculation)
                self._speculation = None

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no decode is running or waiting (unconfirmed speculative results do not count)."""
        with self._cv:
            return self._cv.wait_for(lambda: self._running is None and not self._finals and self._partial is None,
                                     timeout)

    @property
    def busy(self) -> bool:
        return self._running is not None

    def close(self, timeout: float | None = None, stopped: bool = False) -> bool:
        """Finish the waiting finals (partials are dropped), then stop the thread. ``stopped``: capture was
        stopped on request, cutting the speaker off (a carried utterance is then published as it is)."""
        with self._cv:
            self._partial = None
            self._closing = True
            self._release_on_close = stopped
            self._cv.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- the decoder thread -------------------------------------------------------------------------------
    def _next(self) -> Job | None:
        with self._cv:
            while True:
                if self._finals:
                    job = self._finals.pop(0)
                elif self._partial is not None:
                    job, self._partial = self._partial, None
                elif self._closing:
                    return None
                else:
                    self._cv.wait()
                    continue
                self._running = job
                return job

    def _work(self) -> None:
        try:
            self._work_loop()
        finally:
            with self._cv:  # capture was stopped: a carried utterance has no next one to join
                if self._release_on_close:
                    self._release_carry("capture was stopped")

    def _work_loop(self) -> None:
        while (job := self._next()) is not None:
            try:
                self._run(job)
            except Exception as exc:  # a failed decode must not end live transcription
                log.exception("live decode failed")
                self.publish(Error(f"decoding failed: {exc}", fatal=False))
            finally:
                with self._cv:
                    job.done = True
                    self._running = None
                    self._cv.notify_all()

    def _decode(self, job: Job, options: TranscribeOptions) -> list[Segment]:
        started = time.perf_counter()
        cap = token_cap(len(job.audio) / SAMPLE_RATE)
        options = options.with_(max_new_tokens=min(cap, options.max_new_tokens or cap))
        segments, _info = self.transcriber.transcribe(job.audio, options)
        out = list(segments)
        self.decode_seconds += time.perf_counter() - started
        self.audio_seconds += len(job.audio) / SAMPLE_RATE
        return out

    def _run(self, job: Job) -> None:
        if job.cancelled:
            return
        if job.kind == "partial":
            if job.utt_id != self._open_utt:
                return
            started = time.perf_counter()
            segs = self._decode(job, self.partial_options)
            # A slow pass (a long utterance, a struggling decode) spaces the next ones out, so partials never take
            # more than about half of the decoder's time and a final rarely has to wait for one.
            self._partial_backoff = max(0.0, time.perf_counter() - started - self.partial_interval)
            text, logprob, no_speech, _ratio = _merge(segs)
            # A partial is held to the same loop and text-per-second rules as a final ("Printing Printing Printing"
            # out of half a second of audio is a loop, not a preview).
            verdict = self.guard.check(text, avg_logprob=logprob, no_speech_prob=no_speech,
                                       speech_span=len(job.audio) / SAMPLE_RATE) if text else None
            with self._cv:  # published under the lock so that no partial can follow its utterance's final
                if job.utt_id != self._open_utt or verdict is None or not verdict.ok:
                    return
                shown, stable = self._agreement.update(verdict.text)
                self._shown = True
                self._partial_utt = job.utt_id
                self.publish(Partial(shown, stable, round(job.start, 3), round(job.end, 3)))
            return
        with self._cv:
            if job.cancelled:
                return
            self._take_carry(job)
        try:
            segs = self._decode(job, self.final_options)
        except Exception:
            job.failed = True
            raise
        with self._cv:
            # Decided under the lock together with _end(): either _end sees the result, or we see `confirmed`.
            job.done = True
            if job.cancelled:
                return
            job.segments = segs
            if job.confirmed:
                self._publish_final(self._make_final(job, segs), job.vad_end_at, job)
            elif job.look:  # shown when the pause is certain (_show_look), if it ends a sentence
                final = self._make_final(job, segs, early=True)
                if final is not None and ends_turn(final.segment.text):
                    job.candidate = final
                    if job.paused_at:
                        job.published = True
                        self._publish_final(final, job.paused_at, job)
            elif job.early is not None:  # speculative, the speaker still silent: publish now if it ends a turn
                final = self._make_final(job, segs, early=True)
                if final is not None and ends_turn(final.segment.text):
                    job.published = True
                    look = job.after_look
                    if look is None or not look.published or final.segment.text != self._early_text:
                        self._publish_final(final, job.paused_at, job)  # else the look showed this very text
            # else speculative: _end() publishes it if the VAD confirms this end

    def _make_final(self, job: Job, segs: list[Segment], early: bool = False) -> Final | None:
        """The final of a decode, or None when the guard rejects it. Early (unconfirmed) finals are judged with
        the figures the VAD has at the pause and leave the carry alone; it is decided when the utterance ends."""
        text, logprob, no_speech, ratio = _merge(segs)
        utt = job.early if early else job.utterance
        speech = utt.speech_seconds if utt is not None else None
        span = utt.speech_end - utt.speech_start if utt is not None else None
        verdict = self.guard.check(text, avg_logprob=logprob, no_speech_prob=no_speech, compression=ratio,
                                   speech_seconds=speech, speech_span=span, count=not early) if text else None
        ok = verdict is not None and verdict.ok
        if not early:
            # An unsure short utterance is carried into the next; not one whose beginning is out as an early final.
            carry = (utt is not None and verdict is not None and not ok and verdict.reason in CARRY_REASONS
                     and len(utt.audio) <= CARRY_MAX_AUDIO * SAMPLE_RATE
                     and (self._early is None or self._early[0] != job.utt_id))
            if carry:
                log.debug("carrying %r (%.2f-%.2f s) into the next utterance", text, job.start, job.end)
            self._carry = utt if carry else None
            alone = final_of(job, segs, utt, text.strip()) if carry else None
            self._carry_final = (alone, job) if alone is not None else None
        if verdict is None or not ok:
            return None
        return final_of(job, segs, utt, verdict.text)

    def _publish_final(self, final: Final | None, vad_end_at: float, job: Job) -> None:
        """Called with the lock held, so finals and partials reach the dispatcher in order."""
        if final is None:
            if self._partial_utt == job.utt_id:  # the guard dropped it: an empty partial clears the preview
                self.publish(Partial("", "", round(job.start, 3), round(job.end, 3)))
            return
        seg = final.segment
        early = self._early
        replaces = early[1] if early is not None and early[0] == job.utt_id else None
        final = Final(Segment(self._final_count, seg.start, seg.end, seg.text, seg.tokens, seg.avg_logprob,
                              seg.compression_ratio, seg.no_speech_prob, seg.temperature, seg.words),
                      latency=max(0.0, time.monotonic() - vad_end_at), replaces=replaces)
        self._early = (job.utt_id, self._final_count) if job.published else None
        self._early_text = final.segment.text if job.published else ""
        self._final_count += 1
        self.last_latency = final.latency
        self.publish(final)
