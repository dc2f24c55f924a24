"""Calls as they happen, turn by turn, with known true parameters (`TrueParams`).

A call is an event-by-event simulation, independent of any provider and of costmodel's
estimator: it connects, the user speaks (a gamma-distributed number of seconds around
``user_speech_s``), the provider's voice activity detection (VAD) commits the turn once
``vad_silence_ms`` of silence has followed the speech, the agent answers after a latency
and speaks for its own gamma-distributed time, the user pauses, and so on until the call ends
at its drawn length (lognormal by mean and p95). Whatever was under way at that moment is cut:
a user turn the VAD had not committed gets no response.

The provider writers (`tests.fit.provider_openai`, `provider_gemini`, `provider_pipecat`)
turn the same `Call` into what each provider reports for it.

>>> call = simulate_call(TrueParams(seed=7), 0)
>>> call.seconds > 0 and all(t.commit_s < call.seconds for t in call.turns)
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from statistics import NormalDist

import numpy as np

Z95 = 1.6448536269514722  # the standard normal's 95th percentile


@dataclass(frozen=True)
class TrueParams:
    """What the generated calls really are. Times in seconds unless named otherwise.

    Per-turn speech is gamma distributed with shape ``speech_shape`` (4: a coefficient of
    variation of 0.5) around its mean; latency and the user's pause are gamma with shape 2.
    ``cache_hit`` is the probability that a provider's prefix cache serves a request (where
    the provider caches at all); ``retention_ratio`` is the OpenAI Realtime session's
    ``truncation: {type: retention_ratio}`` setting.
    """

    duration_mean_min: float = 5.0
    duration_p95_min: float = 15.0
    user_speech_s: float = 4.0
    agent_speech_s: float = 6.0
    speech_shape: float = 4.0
    response_latency_s: float = 0.7
    user_gap_s: float = 1.5
    agent_text_tokens_per_s: float = 3.5
    user_text_tokens_per_s: float = 3.0
    characters_per_s: float = 15.0
    system_tokens: int = 2500
    cache_hit: float = 0.7
    retention_ratio: float = 0.8
    vad_prefix_padding_ms: int = 300
    vad_silence_ms: int = 500
    # OpenAI Realtime ends a session after 60 minutes ("Realtime sessions can now last up to
    # 60 minutes", OpenAI's developer notes on the GA Realtime API, quoted in
    # https://community.openai.com/t/realtime-api-session-timeout-post-ga/1357331); every
    # stack here is cut there, so that the three see the same calls.
    max_call_seconds: float = 3600.0
    seed: int = 1

    def __post_init__(self) -> None:
        if not 0 < self.duration_mean_min < self.duration_p95_min:
            raise ValueError("need 0 < duration_mean_min < duration_p95_min")
        if Z95 * Z95 - 2 * math.log(self.duration_p95_min / self.duration_mean_min) < 0:
            raise ValueError("no lognormal has this mean and p95")
        if not 0 <= self.cache_hit <= 1 or not 0 < self.retention_ratio <= 1:
            raise ValueError("cache_hit must be in [0, 1] and retention_ratio in (0, 1]")

    @property
    def sigma(self) -> float:
        """The lognormal's sigma: mean = exp(mu + s^2/2) and p95 = exp(mu + z s) give
        s^2/2 - z s + ln(p95/mean) = 0; the smaller root."""
        ratio = math.log(self.duration_p95_min / self.duration_mean_min)
        return Z95 - math.sqrt(Z95 * Z95 - 2 * ratio)

    @property
    def mu(self) -> float:
        return math.log(self.duration_mean_min) - self.sigma ** 2 / 2

    @property
    def vad_padding_s(self) -> float:
        """What the VAD adds to each user turn's committed audio (prefix padding + the silence
        that ended it): OpenAI's ``audio_start_ms`` "includes the prefix_padding_ms" and
        ``audio_end_ms`` "includes the min_silence_duration_ms" (Realtime server events)."""
        return (self.vad_prefix_padding_ms + self.vad_silence_ms) / 1000

    @property
    def seconds_per_turn(self) -> float:
        """Mean seconds from one user turn's start to the next one's."""
        return (self.user_speech_s + self.vad_silence_ms / 1000 + self.response_latency_s
                + self.agent_speech_s + self.user_gap_s)


@dataclass(frozen=True)
class Turn:
    """One exchange: the user's speech, the VAD's commit, the agent's answer (wall clock,
    seconds since the call connected)."""

    speech_start_s: float
    speech_end_s: float
    commit_s: float          # speech end + the VAD's silence: the provider commits the turn
    agent_start_s: float     # the agent's first audio
    agent_s: float           # seconds of agent speech
    user_text_tokens: int    # the transcript of the user's speech (a chained LLM's input)
    agent_text_tokens: int   # the agent's words as text tokens
    characters: int          # the agent's words as characters (TTS)
    hit: bool                # would a prefix cache serve this request (where one applies)


@dataclass(frozen=True)
class Call:
    index: int
    seconds: float                   # the call's length: the connection closes then
    turns: tuple[Turn, ...]          # every turn the VAD committed before the end
    cut_speech_start_s: float | None = None  # the user was speaking when the call ended
    params: TrueParams = field(default_factory=TrueParams, repr=False)


_BLOCK = 64  # turns drawn at once (numpy draws one at a time are ~1 us each)


def _draws(rng: np.random.Generator, p: TrueParams) -> dict[str, np.ndarray]:
    k = p.speech_shape
    user = rng.gamma(k, p.user_speech_s / k, _BLOCK)
    agent = rng.gamma(k, p.agent_speech_s / k, _BLOCK)
    return {
        "user": user, "agent": agent,
        "latency": rng.gamma(2.0, p.response_latency_s / 2, _BLOCK),
        "gap": rng.gamma(2.0, p.user_gap_s / 2, _BLOCK),
        "user_tokens": rng.poisson(user * p.user_text_tokens_per_s),
        "agent_tokens": rng.poisson(agent * p.agent_text_tokens_per_s),
        "characters": rng.poisson(agent * p.characters_per_s),
        "hit": rng.random(_BLOCK) < p.cache_hit,
    }


def simulate_call(p: TrueParams, index: int, length_s: float | None = None) -> Call:
    """Call `index` of the population `p` describes (the same call for the same seed and
    index, however many others are drawn); `length_s` sets its length instead of drawing
    it (`simulate_calls`' stratified lengths)."""
    rng = np.random.default_rng([p.seed, index])
    drawn = float(rng.lognormal(p.mu, p.sigma)) * 60
    length = min(drawn if length_s is None else length_s, p.max_call_seconds)
    length = round(length, 3)  # clocks in recordings have ms precision
    silence = p.vad_silence_ms / 1000
    t = float(rng.gamma(2.0, p.user_gap_s / 2))  # the first words after connecting
    turns: list[Turn] = []
    d = _draws(rng, p)
    i = 0
    while True:
        if i == _BLOCK:
            d, i = _draws(rng, p), 0
        user = float(d["user"][i])
        commit = t + user + silence
        if commit >= length:
            return Call(index, length, tuple(turns), t if t < length else None, p)
        start = commit + float(d["latency"][i])
        agent = float(d["agent"][i])
        turns.append(Turn(t, t + user, commit, start, agent, int(d["user_tokens"][i]),
                          int(d["agent_tokens"][i]), int(d["characters"][i]),
                          bool(d["hit"][i])))
        t = start + agent + float(d["gap"][i])
        i += 1


def stratified_seconds(p: TrueParams, n: int) -> list[float]:
    """`n` call lengths, one from each 1/n stratum of the lognormal (its midpoint quantile),
    in a seeded random order.

    Why: a re-billing session's cost grows with the square of its length, so the mean cost of
    a few hundred independently drawn lognormal lengths is mostly noise from the tail: at the
    default mean 5 / p95 15 minutes, 300 OpenAI Realtime sessions' mean cost has a relative
    standard deviation of 15% (measured over 66 disjoint samples of 300 of 20,000 sessions),
    so a 5% comparison of a fit against them would be a lottery. One length per stratum is a
    sample that represents the distribution; its mean cost is 2.3% under the population's
    (the strata's midpoints leave out the far tail of the last one), measured the same way.

    >>> sorted(stratified_seconds(TrueParams(), 4))   # quantiles 1/8, 3/8, 5/8, 7/8
    [66.525, 144.407, 261.52, 567.688]
    """
    normal = NormalDist()
    rng = np.random.default_rng([p.seed, 0xFFFF_FFFF])  # not a call's stream
    order = rng.permutation(n)
    return [round(math.exp(p.mu + p.sigma * normal.inv_cdf((int(k) + 0.5) / n)) * 60, 3)
            for k in order]


def balanced_hits(call: Call) -> Call:
    """`call` with exactly round(cache_hit x (responses - 1)) of its responses after the
    first hitting, at random positions: each response still hits or misses as a whole.

    Why: the cost of a long call is mostly its misses (a miss re-bills the whole audio history
    at the full rate, a hit at a hundredth of it), and the few longest calls carry three
    quarters of a sample's cost; with independent hits, 400 stratified sessions' mean cost
    still has a 2.1% relative standard deviation (over 10 seeds), with an exact count per
    call 0.7%.
    """
    p = call.params
    later = len(call.turns) - 1
    if later < 1:
        return call
    rng = np.random.default_rng([p.seed, call.index, 1])  # beside the call's own stream
    flags = np.zeros(later, dtype=bool)
    flags[:round(p.cache_hit * later)] = True
    rng.shuffle(flags)
    turns = (call.turns[0], *(replace(t, hit=bool(f))
                              for t, f in zip(call.turns[1:], flags, strict=True)))
    return replace(call, turns=turns)


def simulate_calls(p: TrueParams, n: int, first: int = 0, *,
                   stratified: bool = False) -> list[Call]:
    """Calls ``first`` .. ``first + n - 1`` of the population. With `stratified`, a sample
    that represents it: lengths one per 1/n stratum (`stratified_seconds`) and each call's
    cache hits exactly its share (`balanced_hits`)."""
    if not stratified:
        return [simulate_call(p, i) for i in range(first, first + n)]
    lengths = stratified_seconds(p, n)
    return [balanced_hits(simulate_call(p, first + i, s)) for i, s in enumerate(lengths)]


@dataclass(frozen=True)
class Truth:
    """What the generated calls actually were (sample statistics, not the distribution's),
    for comparing a fit without the sampling noise of the draw."""

    sessions: int
    mean_seconds: float
    p95_seconds: float
    responses: int
    seconds_per_turn: float          # mean time from one user turn's start to the next
    user_speech_s: float             # mean speech per committed turn (without VAD padding)
    agent_speech_s: float
    agent_text_tokens_per_s: float   # text tokens per second of agent speech
    user_text_tokens_per_s: float
    characters_per_s: float
    hit_ratio: float                 # share of responses after a session's first that hit

    @classmethod
    def of(cls, calls: list[Call]) -> Truth:
        turns = [t for c in calls for t in c.turns]
        gaps = [b.speech_start_s - a.speech_start_s
                for c in calls for a, b in zip(c.turns, c.turns[1:], strict=False)]
        later = [t.hit for c in calls for t in c.turns[1:]]
        agent = sum(t.agent_s for t in turns)
        user = sum(t.speech_end_s - t.speech_start_s for t in turns)
        seconds = np.array([c.seconds for c in calls])
        return cls(
            sessions=len(calls), mean_seconds=float(seconds.mean()),
            p95_seconds=float(np.percentile(seconds, 95)), responses=len(turns),
            seconds_per_turn=float(np.mean(gaps)) if gaps else math.nan,
            user_speech_s=user / len(turns), agent_speech_s=agent / len(turns),
            agent_text_tokens_per_s=sum(t.agent_text_tokens for t in turns) / agent,
            user_text_tokens_per_s=sum(t.user_text_tokens for t in turns) / user,
            characters_per_s=sum(t.characters for t in turns) / agent,
            hit_ratio=sum(later) / len(later) if later else math.nan)
