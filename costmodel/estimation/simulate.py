"""Turn-level simulation of one call on one stack, as `Usage` records.

The simulator emits the same `Usage` shape the adapters read from real events, and the
estimator prices it with the same `price` function: one pricing path.

Which billing mechanics apply is read from the catalog entry (its kind, which rates it has,
and its facts), never from the provider's name:

- a realtime entry with token rates and ``rebills_context: true`` re-bills the whole context
  as input on every response (OpenAI Realtime: OpenAI's guide to Realtime API costs,
  https://developers.openai.com/api/docs/guides/realtime-costs; Gemini Live:
  Google staff in https://discuss.ai.google.dev/t/pricing-of-speech-to-speech-live-model/140340,
  "re-billing applies to all tokens, including raw audio from previous turns"): for
  response k, input = S + sum_{j<k}(U_j + A_j) + U_k, cached = hit ratio x the previous
  response's input (rounded to the cache's increment, zero below its minimum prefix; after a
  truncation only the system prompt), truncated to retention x limit past the model's
  truncation threshold; with ``cache.hits: per-response`` the whole prefix is cached in a
  hit ratio of the responses and none of it in the rest, emitted as the expected usage;
- a realtime entry with token rates and no re-billing (Nova 2 Sonic) bills each turn's speech
  once, and the system prompt once per call;
- an entry with a connection rate and no token rates (xAI, Ultravox, GPT-Live, telephony) or a
  self-host entry bills the call's connection time, rounded per call;
- chained pipelines: STT by session time, streamed audio time or tokens (whichever rate the
  entry has); the LLM per turn with the whole text history and the provider's cache rules
  (minimum prefix, increment, TTL against the turn gap, write premium); TTS by characters,
  audio time or tokens per response.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from ..core.catalog import Catalog
from ..core.rates import ModelEntry, PricePeriod
from ..core.usage import Usage
from ..errors import SimulationError
from ..money import to_decimal
from .replies import ReplyChange, replies_in_force
from .scenario import ChainedStack, Scenario, stack_id, stack_platforms


def _r(x: float) -> int:
    """Round half up to whole tokens."""
    return int(x + 0.5)


def _cache_mode(hits: str, hit_ratio: float) -> tuple[float, float]:
    """(share of an eligible prefix a cache hit covers, chance that a response hits): share
    = every response covers ``hit_ratio``; per-response = all of it, with that chance.

    Per response, the expected usage is emitted: each cached bucket p x (a hit's count),
    rounded to whole tokens, the uncached ones the rest of the same input. Its price is the
    expected price because price is linear in tokens: rates are flat per bucket (no tiers by
    prompt size in `costmodel.core.rates`; the catalog leaves such tiers, e.g. Sonnet 4.5's
    > 200K input, unpriced). A tier keyed on prompt size would not break it either: a hit and
    a miss of one response send the same prompt, only cached differently, so both fall in the
    same tier.
    """
    return (hit_ratio, 1.0) if hits == "share" else (1.0, hit_ratio)


@dataclass(frozen=True)
class Component:
    """One billed part of a stack: per-response usage (k = 1, 2, ...) and per-call usage."""

    role: str
    model: str
    response_usage: Callable[[int], Usage | None]
    call_usage: Callable[[int, int], Usage | None]  # (call seconds, responses) -> Usage
    # The parts of the scenario its usages depend on (a subset of SHAPE_PARTS): its cost
    # tables are reused by any scenario that agrees on them (`costmodel.estimation.tables`).
    reads: tuple[str, ...] = ("turns", "prompt", "cache", "truncation")
    # Past the model's session limit, answers restart a fresh session (`_reconnecting`).
    reconnects: bool = False
    # What else its usages depend on: the policies' reply changes (`with_reply_changes`).
    variant: tuple[ReplyChange, ...] = ()


SHAPE_PARTS = ("turns", "prompt", "cache", "truncation")


def _none_response(k: int) -> None:
    return None


def _none_call(seconds: int, n: int) -> None:
    return None


@dataclass(frozen=True)
class StackModel:
    """A stack as its components; `response_usages(k)` and `call_usages(seconds)`."""

    id: str
    components: tuple[Component, ...]
    scenario: Scenario

    @property
    def has_responses(self) -> bool:
        """Whether any component is billed per response (else only per call)."""
        return any(c.response_usage is not _none_response for c in self.components)

    @property
    def has_calls(self) -> bool:
        """Whether any component is billed per call (connection time, rounded per call)."""
        return any(c.call_usage is not _none_call for c in self.components)

    def response_usages(self, k: int) -> list[Usage]:
        return [u for c in self.components if (u := c.response_usage(k)) is not None]

    def call_usages(self, seconds: int) -> list[Usage]:
        n = self.scenario.responses_per_call(seconds)
        return [u for c in self.components if (u := c.call_usage(seconds, n)) is not None]

    def usages(self, seconds: int) -> list[Usage]:
        """Every usage of one call of `seconds` seconds (for tests and curves)."""
        n = self.scenario.responses_per_call(seconds)
        out = []
        for k in range(1, n + 1):
            out += self.response_usages(k)
        return out + self.call_usages(seconds)


def _period(entry: ModelEntry, day: date) -> PricePeriod | None:
    return entry.period_on(day) or (entry.prices[-1] if entry.prices else None)


def _need(entry: ModelEntry, fact: str, why: str) -> Decimal:
    value = getattr(entry.facts, fact)
    if value is None:
        raise SimulationError(
            f"{entry.id} has no '{fact}' in the catalog, needed to simulate {why}; add it with "
            f"your own catalog file (--pricing DIR)")
    return value


def _token_usages(model: str, label: str) -> Callable[[dict[str, int]], Usage]:
    """Token usages by content, each built (and validated) once: past a truncation or a
    context window, responses repeat, and the estimator prices each distinct one once."""
    made: dict[tuple[tuple[str, int], ...], Usage] = {}

    def usage(tokens: dict[str, int]) -> Usage:
        key = tuple(tokens.items())
        found = made.get(key)
        if found is None:
            found = made[key] = Usage(model, {k: v for k, v in key if v}, label=label)
        return found
    return usage


def _time_component(role: str, entry: ModelEntry,
                    field: Literal["connection_seconds", "audio_seconds"] = "connection_seconds",
                    ) -> Component:
    def connection(seconds: int, n: int) -> Usage:
        return Usage(entry.id, connection_seconds=Decimal(seconds), label=role)

    def audio(seconds: int, n: int) -> Usage:
        return Usage(entry.id, audio_seconds=Decimal(seconds), label=role)

    return Component(role, entry.id, _none_response,
                     connection if field == "connection_seconds" else audio, reads=())


def _realtime_tokens(entry: ModelEntry, sc: Scenario, period: PricePeriod,
                     changes: tuple[ReplyChange, ...] = ()) -> Component:
    t = sc.turns
    tps_in = float(_need(entry, "audio_tokens_per_second_in", "speech input"))
    tps_out = float(_need(entry, "audio_tokens_per_second_out", "speech output"))
    # A stream that bills silence bills the whole turn, not just the user's speech.
    user_s = t.seconds_per_turn if entry.facts.bills_silence else t.user_speech_s
    u = _r(user_s * tps_in)
    # ... and before the first answer, the stream up to it (issue 14: sessions show the answer
    # comes when the user stops, a few seconds in, not a whole turn in).
    u_first = _r(t.first_s * tps_in) if entry.facts.bills_silence else u
    a = _r(t.agent_speech_s * tps_out)
    text_out = _r(t.agent_speech_s * t.agent_text_tokens_per_s)
    system = sc.system_tokens()
    rates = period.token_rates_per_mtok()
    keep = sc.truncation.retention_ratio
    in_force = replies_in_force(changes, text_out, a, keep)

    if not entry.facts.rebills_context:
        def turn_once(k: int) -> Usage:
            out_t, out_a, _ = in_force(k)
            tokens = {"audio.input": u_first if k == 1 else u, "audio.output": out_a,
                      "text.output": out_t}
            if k == 1 and system:
                tokens["text.input"] = system
            return Usage(entry.id, {k_: v for k_, v in tokens.items() if v}, label="response")
        return Component("realtime", entry.id, turn_once, _none_call,
                         reads=("turns", "prompt"), variant=changes)

    hit = sc.cache.hit_ratio
    rules = entry.facts.cache
    min_prefix = (rules.min_prefix_tokens or 0) if rules else 0
    step = (rules.increment_tokens or 1) if rules else 1
    ttl = rules.ttl_seconds if rules is not None else None
    if ttl is not None and t.seconds_per_turn > ttl:
        hit = 0.0  # the cache expires between responses
    covered, odds = _cache_mode(sc.cache.hits, hit)
    can_cache = {m: f"{m}.cached" in rates for m in ("text", "audio")}
    limit = entry.facts.truncation_threshold_tokens
    usage_of = _token_usages(entry.id, "response")

    # Response k depends only on k, so states are computed once, in order, and memoised:
    # (audio history before response k, input of response k, whether k truncated).
    states: list[tuple[int, int, bool]] = []
    carried = [0]  # audio history carried into the next response

    def state(k: int) -> tuple[int, int, bool]:
        while len(states) < k:
            h, new = carried[0], u if states else u_first
            _, out_a, kept = in_force(len(states) + 1)
            truncated = limit is not None and system + h + new > limit
            if limit is not None and truncated:
                h = max(0, int(kept * limit) - system - new)
            states.append((h, system + h + new, truncated))
            carried[0] = h + new + out_a
        return states[k - 1]

    def response(k: int) -> Usage:
        h, _, truncated = state(k)
        prev_inp = states[k - 2][1] if k > 1 else 0
        # The reusable prefix is the previous response's input; after truncation, only S.
        prefix = system if truncated else prev_inp
        # The minimum is a property of the prefix (a shorter prompt is never cached); the
        # hit ratio is the share of an eligible prefix served from cache (share), or the
        # chance that all of it is (per-response).
        cached = int(covered * prefix) // step * step if k > 1 and prefix >= min_prefix else 0
        c_text = min(cached, system) if can_cache["text"] else 0
        c_audio = min(cached - c_text, h) if can_cache["audio"] else 0
        if odds != 1.0:  # per-response: a hit's split, times the chance of a hit
            c_text, c_audio = _r(odds * c_text), _r(odds * c_audio)
        new = u if k > 1 else u_first
        out_t, out_a, _ = in_force(k)
        tokens = {"text.input": system - c_text, "text.cached": c_text,
                  "audio.input": h + new - c_audio, "audio.cached": c_audio,
                  "text.output": out_t, "audio.output": out_a}
        return usage_of(tokens)

    return Component("realtime", entry.id, response, _none_call, variant=changes)


def _reconnecting(comp: Component, entry: ModelEntry, sc: Scenario) -> Component:
    """A token-billed realtime model past its session limit: the call reconnects, and each
    new session starts a fresh context (the system prompt again, no history), so answer k of
    the call is answer ((k - 1) mod n) + 1 of its session, n the answers a session holds.
    Pricing one endless session instead would bill a context no provider keeps."""
    facts = entry.facts
    cap = facts.max_session_seconds
    if cap is None or (facts.compression_lifts_session_limit
                       and facts.truncation_threshold_tokens is not None):
        return comp  # (a compressing session, as the estimator prices it, goes on)
    per_session = sc.responses_per_call(cap)
    first = comp.response_usage

    def response(k: int) -> Usage | None:
        return first((k - 1) % per_session + 1)
    return Component(comp.role, comp.model, response, comp.call_usage, comp.reads,
                     reconnects=True, variant=comp.variant)


def _stt(entry: ModelEntry, sc: Scenario, period: PricePeriod, role: str) -> Component:
    t = sc.turns
    if period.connection is not None:
        return _time_component(role, entry)  # billed on session time, idle included
    if period.audio is not None:
        if entry.facts.bills_silence:
            return _time_component(role, entry, "audio_seconds")

        def call(seconds: int, n: int) -> Usage:
            speech = to_decimal(t.user_speech_s, "user_speech_s")
            return Usage(entry.id, audio_seconds=speech * n, label=role)
        return Component(role, entry.id, _none_response, call, reads=("turns",))
    if period.tokens:
        tps = float(_need(entry, "audio_tokens_per_second_in", "transcription by tokens"))
        tokens = {"audio.input": _r(t.user_speech_s * tps),
                  "text.output": _r(t.user_speech_s * t.user_tokens_per_s)}
        usage = Usage(entry.id, {k: v for k, v in tokens.items() if v}, label=role)
        return Component(role, entry.id, lambda k: usage, _none_call, reads=("turns",))
    raise SimulationError(f"{entry.id} has no rate the simulator can use for {role}")


def _llm(entry: ModelEntry, sc: Scenario, period: PricePeriod) -> Component:
    t = sc.turns
    rates = period.token_rates_per_mtok()
    system = sc.system_tokens()
    user = _r(t.user_speech_s * t.user_tokens_per_s)
    out = _r(t.agent_speech_s * t.agent_text_tokens_per_s)
    hit = sc.cache.hit_ratio
    covered, odds = _cache_mode(sc.cache.hits, hit)
    rules = entry.facts.cache
    write_key = f"text.cache_write_{sc.cache.write_ttl}"
    explicit = rules is not None and not rules.automatic and write_key in rates
    automatic = rules is not None and rules.automatic and "text.cached" in rates
    min_prefix = (rules.min_prefix_tokens or 0) if rules else 0
    step = (rules.increment_tokens or 1) if rules else 1
    ttl = rules.ttl_seconds if rules else None
    if explicit and sc.cache.write_ttl == "1h":
        ttl = 3600
    # A gap between requests longer than the TTL means the cache is gone by the next turn.
    expired = ttl is not None and t.seconds_per_turn > ttl

    window = entry.facts.context_window_tokens
    usage_of = _token_usages(entry.id, "llm")

    def prompt_of(j: int) -> int:
        """Tokens request j sends: the whole text history, capped at the context window
        (a framework drops the oldest turns; the system prompt stays)."""
        full = system + (j - 1) * (user + out) + user
        return full if window is None else min(full, max(system + user, window - out))

    def response(k: int) -> Usage:
        prompt = prompt_of(k)
        # What the previous request sent (and so could have cached) is its whole prompt; the
        # reply it produced is new input now. Past the window the history slides, so the
        # cached prefix is only the system prompt.
        prev = prompt_of(k - 1) if k > 1 else 0
        sliding = window is not None and prompt < system + (k - 1) * (user + out) + user
        prefix = 0 if k == 1 or expired else (system if sliding else prev)
        tokens = {"text.output": out}
        if explicit and hit > 0:
            # A breakpoint at the end of each prompt writes it (when long enough to cache);
            # the next request reads the part that was written (hit ratio) and writes the rest.
            # Per response: a hit reads the whole previous prompt, a miss writes all again.
            if prompt >= min_prefix:
                read = int(covered * prefix) if prev >= min_prefix else 0
                if odds != 1.0:
                    read = _r(odds * read)
                tokens["text.cached"] = read
                tokens[write_key] = prompt - read
            else:
                tokens["text.input"] = prompt
        elif automatic:
            read = int(covered * prefix) // step * step if prefix >= min_prefix else 0
            if odds != 1.0:
                read = _r(odds * read)
            tokens["text.cached"] = read
            tokens["text.input"] = prompt - read
        else:
            tokens["text.input"] = prompt
        return usage_of(tokens)

    return Component("llm", entry.id, response, _none_call, reads=("turns", "prompt", "cache"))


def _tts(entry: ModelEntry, sc: Scenario, period: PricePeriod) -> Component:
    t = sc.turns
    if period.characters is not None:
        usage = Usage(entry.id, characters=_r(t.agent_speech_s * t.characters_per_s), label="tts")
    elif period.audio is not None:
        usage = Usage(entry.id, audio_seconds=to_decimal(t.agent_speech_s, "agent_speech_s"),
                      label="tts")
    elif period.tokens:
        tps = float(_need(entry, "audio_tokens_per_second_out", "speech synthesis by tokens"))
        tokens = {"text.input": _r(t.agent_speech_s * t.agent_text_tokens_per_s),
                  "audio.output": _r(t.agent_speech_s * tps)}
        usage = Usage(entry.id, {k: v for k, v in tokens.items() if v}, label="tts")
    else:
        raise SimulationError(f"{entry.id} has no rate the simulator can use for TTS")
    return Component("tts", entry.id, lambda k: usage, _none_call, reads=("turns",))


def _single(entry: ModelEntry, sc: Scenario, day: date) -> Component:
    """A realtime, time-billed or self-hosted model that is a whole stack by itself."""
    if entry.selfhost is not None:
        return _time_component("selfhost", entry)
    if entry.kind == "platform":  # a platform whose per-minute fee bundles the models (Bland)
        if (period := _period(entry, day)) is None or period.connection is None:
            raise SimulationError(f"{entry.id} has no per-minute fee: it cannot be a stack "
                                  "by itself; name it as a stack's platform:")
        return _time_component("platform", entry)
    if entry.kind != "realtime":
        raise SimulationError(f"{entry.id} ({entry.kind}) cannot be a stack by itself: use "
                              "{stt:, llm:, tts:} for a chained pipeline")
    period = _period(entry, day)
    if period is None:
        raise SimulationError(f"{entry.id} has no prices")
    if period.tokens:
        return _reconnecting(_realtime_tokens(entry, sc, period), entry, sc)
    if period.connection is not None:
        return _time_component(entry.kind, entry)
    raise SimulationError(f"{entry.id} ({entry.kind}) cannot be a stack by itself: use "
                          "{stt:, llm:, tts:} for a chained pipeline")


def _of_kind(entry: ModelEntry, kind: str, role: str) -> ModelEntry:
    if entry.kind != kind:
        raise SimulationError(f"{entry.id} is a {entry.kind} entry; the {role} of a stack must "
                              f"be a {kind} entry")
    return entry


def _priced(entry: ModelEntry, day: date) -> PricePeriod:
    period = _period(entry, day)
    if period is None:
        raise SimulationError(f"{entry.id} has no prices")
    return period


def build_stack(stack: str | ChainedStack, sc: Scenario, catalog: Catalog,
                day: date) -> StackModel:
    """The components of a stack, resolved against the catalog."""
    comps: list[Component] = []
    if isinstance(stack, str):
        comps.append(_single(catalog.get(stack), sc, day))
    elif stack.realtime is not None:
        comps.append(_single(catalog.get(stack.realtime), sc, day))
        if stack.transcription:
            e = _of_kind(catalog.get(stack.transcription), "stt", "transcription")
            comps.append(_stt(e, sc, _priced(e, day), "transcription"))
    else:
        for role, model in stack.chain():
            e = _of_kind(catalog.get(model), role, role)
            period = _period(e, day)
            if period is None:
                raise SimulationError(f"{e.id} has no prices")
            if role == "stt":
                comps.append(_stt(e, sc, period, "stt"))
            elif role == "llm":
                if not period.tokens:
                    raise SimulationError(f"{e.id} has no token rates; it cannot be the LLM")
                comps.append(_llm(e, sc, period))
            else:
                comps.append(_tts(e, sc, period))
    if not isinstance(stack, str) and stack.telephony:
        e = _of_kind(catalog.get(stack.telephony), "telephony", "telephony")
        comps.append(_time_component("telephony", e))
    for pid in stack_platforms(stack, sc):
        e = _of_kind(catalog.get(pid), "platform", "platform")
        if any(c.model == e.id for c in comps):
            continue  # a platform stack that is also the scenario's platform: billed once
        comps.append(platform_component(e, day))
    return StackModel(stack_id(stack), tuple(comps), sc)


def with_reply_changes(model: StackModel, changes: tuple[ReplyChange, ...], catalog: Catalog,
                       day: date) -> StackModel:
    """`model` with its token-billed realtime component built again with `changes` (the
    rest as it is); `model` itself when it has none. With reconnects, each session applies
    the changes from the same answer on."""
    comps = list(model.components)
    for i, comp in enumerate(comps):
        entry = catalog.get(comp.model)
        period = _period(entry, day)
        if comp.role == "realtime" and period is not None and period.tokens:
            comps[i] = _reconnecting(_realtime_tokens(entry, model.scenario, period, changes),
                                     entry, model.scenario)
            return StackModel(model.id, tuple(comps), model.scenario)
    return model


def platform_component(entry: ModelEntry, day: date) -> Component:
    """A platform's per-minute fee as connection time on every call, priced by `price` like
    any connection rate. A platform with no per-minute fee (only monthly or per-number
    fees) bills nothing per call: its fees are monthly (`costmodel.estimation.monthly`)."""
    period = _priced(entry, day)
    if period.connection is None:
        return Component("platform", entry.id, _none_response, _none_call, reads=())
    return _time_component("platform", entry)
