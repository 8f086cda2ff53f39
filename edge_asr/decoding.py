"""Decoding one 30-s window as Whisper does: suppression and timestamp rules on the logits, then greedy,
sampling (best-of) or beam search, with the KV cache of the decoder step."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from .constants import TIME_PRECISION
from .engine.runtime import KV, ModelRuntime, reorder_batch, repeat_batch
from .options import TranscribeOptions
from .tokenizer import Tokenizer

NEG_INF = -np.inf


@dataclass
class DecodeResult:
    tokens: list[int]  # sampled tokens, text and timestamps, without <|endoftext|>
    text: str
    avg_logprob: float
    sum_logprob: float
    no_speech_prob: float
    temperature: float
    compression_ratio: float
    hit_eot: bool = True  # False when the token cap cut it off
    sequence: list[int] = field(default_factory=list)  # the full decoder input incl. prompt and sot


def compression_ratio(text: str) -> float:
    raw = text.encode("utf-8")
    return len(raw) / len(zlib.compress(raw)) if raw else 0.0


def log_softmax(x: np.ndarray) -> np.ndarray:
    m = np.max(x, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    shifted = x - m
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


class LogitRules:
    """Suppress-blank, suppress-tokens and timestamp rules, applied in place to [B, V] logits."""

    def __init__(
        self, tok: Tokenizer, opts: TranscribeOptions, sample_begin: int, n_vocab: int, max_timestamp: int | None = None
    ) -> None:
        self.tok, self.sample_begin = tok, sample_begin
        self.max_timestamp = max_timestamp  # index of the last timestamp token the encoded audio reaches
        self.suppress = np.array(tok.suppress_tokens(opts.suppress_tokens), dtype=np.int64)
        self.blank = np.array([*tok.encode(" "), tok.eot], dtype=np.int64) if opts.suppress_blank else None
        self.timestamps = not opts.without_timestamps
        self.max_initial = round(opts.max_initial_timestamp / TIME_PRECISION) if opts.max_initial_timestamp else None
        self.n_vocab = n_vocab

    def apply(self, logits: np.ndarray, tokens: np.ndarray) -> None:
        tok, tb = self.tok, self.tok.timestamp_begin
        at_begin = tokens.shape[1] == self.sample_begin
        if at_begin and self.blank is not None:
            logits[:, self.blank] = NEG_INF
        logits[:, self.suppress] = NEG_INF
        if not self.timestamps:
            return
        logits[:, tok.no_timestamps] = NEG_INF
        if self.max_timestamp is not None:
            logits[:, tb + self.max_timestamp + 1 :] = NEG_INF  # no time past the audio this window holds
        for k in range(tokens.shape[0]):
            sampled = tokens[k, self.sample_begin :]
            last_ts = len(sampled) >= 1 and sampled[-1] >= tb
            penultimate_ts = len(sampled) < 2 or sampled[-2] >= tb
            if last_ts:
                if penultimate_ts:  # a timestamp pair just closed: text must follow
                    logits[k, tb:] = NEG_INF
                else:  # a lone timestamp must be paired, or end the text
                    logits[k, : tok.eot] = NEG_INF
            ts = sampled[sampled >= tb]
            if len(ts):
                # timestamps never go back; a closing timestamp may repeat the last one
                last = ts[-1] if (last_ts and not penultimate_ts) else ts[-1] + 1
                logits[k, tb:last] = NEG_INF
        if at_begin:
            logits[:, :tb] = NEG_INF
            if self.max_initial is not None:
                logits[:, tb + self.max_initial + 1 :] = NEG_INF
        # If timestamps together are likelier than any single text token, a timestamp must come. Comparing
        # logsumexp(timestamps) with max(text) on raw logits is the same test as on log-probabilities.
        for k in range(tokens.shape[0]):
            ts = logits[k, tb:]
            top = ts.max()
            if not np.isfinite(top):
                continue
            ts_mass = top + np.log(np.exp(ts - top).sum())
            if ts_mass > logits[k, :tb].max():
                logits[k, :tb] = NEG_INF


def _rank(sum_logprob: float, length: int, length_penalty: float | None) -> float:
    penalty = length if length_penalty is None else ((5 + length) / 6) ** length_penalty
    return sum_logprob / max(penalty, 1)


class WindowDecoder:
    """Decodes one encoded window into a DecodeResult at a given temperature."""

    def __init__(self, runtime: ModelRuntime, tok: Tokenizer, n_text_ctx: int, n_vocab: int) -> None:
        self.rt, self.tok, self.n_text_ctx, self.n_vocab = runtime, tok, n_text_ctx, n_vocab

    def initial_tokens(
        self, opts: TranscribeOptions, language: str | None, prompt: list[int], hotwords: list[int] | None = None
    ) -> tuple[list[int], int]:
        """Decoder input before sampling, and the index of <|startoftranscript|> in it.

        The prompt holds at most half the text context. Hotwords keep their place in it (as faster-whisper
        reserves it); the previous text fills what is left, its oldest tokens cut first.
        """
        seq: list[int] = []
        budget = self.n_text_ctx // 2 - 1
        hot = (hotwords or [])[: budget // 2]
        history = prompt[len(prompt) - (budget - len(hot)) :] if len(prompt) > budget - len(hot) else prompt
        if hot or history:
            seq = [self.tok.sot_prev, *hot, *history]
        sot_index = len(seq)
        seq += self.tok.sot_sequence(language, opts.task)
        if opts.without_timestamps:
            seq.append(self.tok.no_timestamps)
        return seq, sot_index

    def decode(
        self,
        cross: KV,
        opts: TranscribeOptions,
        language: str | None,
        prompt: list[int],
        temperature: float,
        rng: np.random.Generator,
        hotwords: list[int] | None = None,
        max_timestamp: int | None = None,
    ) -> DecodeResult:
        beam = temperature == 0 and opts.beam_size > 1
        if temperature > 0 and opts.best_of > 1:
            # Best-of samples one at a time: a batch of five would hold five copies of the cross-attention K/V
            # (92 MB for a 30-s window of tiny), the peak of a long-form run. Fallback windows are rare.
            single = opts.with_(best_of=1)
            samples = [self.decode(cross, single, language, prompt, temperature, rng, hotwords, max_timestamp)
                       for _ in range(opts.best_of)]
            return max(samples, key=lambda r: _rank(r.sum_logprob, len(r.tokens), opts.length_penalty))
        initial, sot_index = self.initial_tokens(opts, language, prompt, hotwords)
        n = opts.beam_size if beam else 1
        sample_len = opts.max_new_tokens or self.n_text_ctx // 2
        sample_len = min(sample_len, self.n_text_ctx - len(initial))
        rules = LogitRules(self.tok, opts, len(initial), self.n_vocab, max_timestamp)
        cross_b = repeat_batch(cross, n) if n > 1 else cross

        tokens = np.tile(np.array(initial, dtype=np.int64), (n, 1))
        out = self.rt.decode(tokens, None, cross_b, logits_start=sot_index)
        no_speech_prob = float(np.exp(log_softmax(out.logits[0, 0].astype(np.float64))[self.tok.no_speech]))
        logits = out.logits[:, -1].copy()
        cache = out.cache
        eot = self.tok.eot
        sum_lp = np.zeros(n)
        finished: dict[tuple[int, ...], float] = {}
        for _ in range(sample_len):
            rules.apply(logits, tokens)
            lp = log_softmax(logits)
            if beam:
                tokens, sum_lp, index, done = self._beam_step(tokens, sum_lp, lp, opts, finished)
                cache = reorder_batch(cache, index)
                if done:
                    break
            else:
                if temperature > 0:
                    probs = np.exp(log_softmax(logits / temperature))
                    nxt = np.array([rng.choice(self.n_vocab, p=p / p.sum()) for p in probs])
                else:
                    nxt = lp.argmax(axis=-1)
                alive = tokens[:, -1] != eot
                sum_lp += np.where(alive, lp[np.arange(n), nxt], 0.0).astype(np.float64)
                nxt = np.where(alive, nxt, eot)
                tokens = np.concatenate([tokens, nxt[:, None]], axis=1)
                if (nxt == eot).all():
                    break
            out = self.rt.decode(tokens[:, -1:], cache, cross_b, logits_start=0)
            logits, cache = out.logits[:, -1].copy(), out.cache

        begin = len(initial)
        if beam:
            if not finished:  # cap reached: rank the open beams
                finished = {tuple(t): float(s) for t, s in zip(tokens.tolist(), sum_lp, strict=False)}
            cands = [(list(seq), s) for seq, s in finished.items()]
        else:
            cands = [(t, float(s)) for t, s in zip(tokens.tolist(), sum_lp, strict=False)]
        best_seq, best_lp = max(cands, key=lambda c: _rank(c[1], len(self._strip(c[0][begin:])), opts.length_penalty))
        sampled = best_seq[begin:]
        hit_eot = eot in sampled
        text_tokens = self._strip(sampled)
        text = self.tok.decode(text_tokens)
        return DecodeResult(
            tokens=text_tokens,
            text=text,
            avg_logprob=best_lp / (len(text_tokens) + 1),
            sum_logprob=best_lp,
            no_speech_prob=no_speech_prob,
            temperature=temperature,
            compression_ratio=compression_ratio(text),
            hit_eot=hit_eot,
            sequence=initial,
        )

    def _strip(self, sampled: list[int]) -> list[int]:
        return sampled[: sampled.index(self.tok.eot)] if self.tok.eot in sampled else list(sampled)

    def _beam_step(
        self,
        tokens: np.ndarray,
        sum_lp: np.ndarray,
        lp: np.ndarray,
        opts: TranscribeOptions,
        finished: dict[tuple[int, ...], float],
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        beam, eot = opts.beam_size, self.tok.eot
        scores: dict[tuple[int, ...], float] = {}
        sources: dict[tuple[int, ...], int] = {}
        for j in range(tokens.shape[0]):
            top = np.argpartition(-lp[j], beam)[: beam + 1]
            prefix = tuple(tokens[j].tolist())
            for t in top:
                seq = (*prefix, int(t))
                score = float(sum_lp[j] + lp[j, t])
                if seq not in scores or score > scores[seq]:
                    scores[seq], sources[seq] = score, j
        keep: list[tuple[int, ...]] = []
        for seq in sorted(scores, key=scores.__getitem__, reverse=True):
            if seq[-1] == eot:
                if len(finished) < beam * opts.patience and seq not in finished:
                    finished[seq] = scores[seq]
            else:
                keep.append(seq)
                if len(keep) == beam:
                    break
        done = len(finished) >= beam * opts.patience or not keep
        if not keep:
            keep = [max(scores, key=scores.__getitem__)]
        while len(keep) < beam:
            keep.append(keep[-1])
        index = np.array([sources[s] for s in keep])
        return np.array(keep, dtype=np.int64), np.array([scores[s] for s in keep]), index, done
