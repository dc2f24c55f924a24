"""Chained STT -> LLM -> TTS sessions (a spend log's usage trail): their parameters.

Each usage's model is looked up in the catalog and its kind says its role. The LLM request k
sends the whole text history: P_k = S + sum_{j<k}(user_j + out_j) + user_k. So

- user text per turn = P_k - P_(k-1) - out_(k-1) (a request smaller than that lost history:
  the framework slid its context window, and the turn is not measured);
- the system prompt S = P_1 less one turn of user text (the pooled mean);
- cache hits per request as for realtime models (`costmodel.fit.cache`);
- TTS: characters (or audio seconds, or tokens) per response; STT: audio seconds (or tokens).

Speech seconds are read where the bill shows them: user speech from an STT billed on the
audio it transcribes (one that streams silence too, or bills session time, shows the call,
not the speech), agent speech from a TTS billed per second of audio or per token. A TTS
billed per character shows characters, not seconds: the agent speaks them at the scenario's
15 characters per second (~150 words a minute), an assumption, said. The LLM's tokens per
second follow from the same seconds, so what is billed (tokens, characters) is reproduced
whichever way the seconds are split.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from ..core.usage import Usage
from .cache import count_response, fit_cache
from .costs import session_usd
from .facts import (
    FittedValue,
    MechanicFit,
    SessionFacts,
    StackKey,
    assumed,
    mean_of,
    nonzero,
    ratio,
)
from .models import ModelBook, ModelFacts
from .observation import SessionObservation, SessionUnusable
from .turns import seconds_per_turn

ROLES = ("stt", "llm", "tts")
CHARACTERS_PER_S = 15.0  # the scenario's default speaking rate (~150 words a minute)
DEFAULT_USER_SPEECH_S = 5.0


def is_chained(obs: SessionObservation, book: ModelBook) -> bool:
    """Whether the session's usages include an LLM (else it is a realtime session)."""
    return any(book.model(u.model).kind == "llm" for u in obs.usages)


def chained_facts(obs: SessionObservation, book: ModelBook) -> SessionFacts:
    """Read one chained session into the sums `fit_chained` pools."""
    by_role: dict[str, Counter[str]] = defaultdict(Counter)
    for u in obs.usages:
        m = book.model(u.model)
        by_role[m.kind][m.id] += 1
    missing = [r for r in ROLES if r not in by_role]
    if missing:
        raise SessionUnusable(f"{obs.source}: a chained session with no {', '.join(missing)} "
                              "usage: the scenario's chained stack needs stt, llm and tts")
    chosen = {role: by_role[role].most_common(1)[0][0] for role in (*ROLES, "telephony")
              if role in by_role}
    llm = book.model(chosen["llm"])
    sums: defaultdict[str, float] = defaultdict(float)
    prev_prompt = prev_out = 0
    system = 0
    for u in obs.usages:
        m = book.model(u.model)
        if m.id == llm.id:
            k = int(sums["n"]) + 1
            sums["n"] = k
            t = u.tokens
            prompt = sum(v for key, v in t.items() if not key.endswith(".output"))
            out = sum(v for key, v in t.items() if key.endswith(".output"))
            cached = sum(v for key, v in t.items() if key.endswith(".cached"))
            sums["llm_out"] += out
            sums["writes"] += sum(v for key, v in t.items() if ".cache_write_" in key)
            if k == 1:
                system = prompt
                sums["p1"] = prompt
            elif prompt < prev_prompt + prev_out:
                sums["slid"] += 1
                count_response(sums, llm, prefix=system, cached=cached, measure=False)
            else:
                sums["user_tok"] += prompt - prev_prompt - prev_out
                sums["user_n"] += 1
                count_response(sums, llm, prefix=prev_prompt, cached=cached)
            prev_prompt, prev_out = prompt, out
        elif m.id == chosen["stt"]:
            _add(sums, "stt", u)
        elif m.id == chosen["tts"]:
            _add(sums, "tts", u)
    if obs.seconds is not None:
        seconds, how = obs.seconds, "the spend log's seconds"
    else:
        seconds, how = None, "no recorded length (chained sessions are read from spend logs)"
    stack: StackKey = tuple((r, chosen[r]) for r in (*ROLES, "telephony") if r in chosen)
    usd, why = session_usd(obs.usages, book, seconds)
    return SessionFacts(obs.source, stack, seconds, how, nonzero(sums), "chained", usd, why,
                        day=obs.day.isoformat() if obs.day else None)


def _add(sums: defaultdict[str, float], role: str, u: Usage) -> None:
    sums[f"{role}_n"] += 1
    sums[f"{role}_audio_s"] += float(u.audio_seconds)
    sums[f"{role}_conn_s"] += float(u.connection_seconds)
    sums[f"{role}_chars"] += u.characters
    sums[f"{role}_audio_in"] += u.tokens.get("audio.input", 0)
    sums[f"{role}_audio_out"] += u.tokens.get("audio.output", 0)


def _user_speech(facts: Sequence[SessionFacts], stt: ModelFacts) -> FittedValue:
    if "audio" in stt.rates and not stt.bills_silence and "connection" not in stt.rates:
        return ratio(facts, "stt_audio_s", "n",
                     source=f"{stt.id} audio seconds per response (billed on speech)")
    if stt.tps_in and any(k.startswith("audio.") for k in stt.rates):
        return ratio(facts, "stt_audio_in", "n", scale=1 / stt.tps_in,
                     source=f"{stt.id} audio tokens per response / {stt.tps_in:g} per second")
    return assumed(DEFAULT_USER_SPEECH_S, (
        f"not observable: {stt.id} is billed on the whole stream (silence too) or on "
        "session time; the user's text tokens per second are fitted against this value, so "
        "the LLM's input is reproduced all the same"))


def _agent_speech(facts: Sequence[SessionFacts], tts: ModelFacts) -> FittedValue:
    if "audio" in tts.rates:
        return ratio(facts, "tts_audio_s", "n", source=f"{tts.id} audio seconds per response")
    if tts.tps_out and any(k.startswith("audio.") for k in tts.rates):
        return ratio(facts, "tts_audio_out", "n", scale=1 / tts.tps_out,
                     source=f"{tts.id} audio tokens per response / {tts.tps_out:g} per second")
    return ratio(facts, "tts_chars", "n", scale=1 / CHARACTERS_PER_S,
                 source=f"TTS characters per response / {CHARACTERS_PER_S:g} characters per "
                        "second (an assumed speaking rate, ~150 words a minute)")


def fit_chained(facts: Sequence[SessionFacts], book: ModelBook) -> MechanicFit:
    """Pool the sessions of one chained stack into scenario parameters."""
    stack = facts[0].stack
    role = dict(stack)
    stt, llm, tts = (book.model(role[r]) for r in ROLES)
    p: dict[str, FittedValue] = {}
    problems: list[str] = []
    p["turns.seconds_per_turn"] = seconds_per_turn(
        [(f.seconds, int(f.get("n"))) for f in facts if f.seconds is not None])
    user, agent = _user_speech(facts, stt), _agent_speech(facts, tts)
    p["turns.user_speech_s"], p["turns.agent_speech_s"] = user, agent
    p["observed.user_text_tokens_per_turn"] = ratio(
        facts, "user_tok", "user_n", source="LLM input added per request, less the previous "
        "reply")
    p["observed.llm_output_tokens_per_turn"] = ratio(facts, "llm_out", "n",
                                                     source="LLM output tokens per request")
    p["observed.tts_characters_per_turn"] = ratio(facts, "tts_chars", "n",
                                                  source="TTS characters per response")
    p["observed.stt_seconds_per_call"] = mean_of(facts, "stt_audio_s",
                                                 source="STT audio seconds per session")
    per_turn = p["observed.user_text_tokens_per_turn"]
    p["turns.user_text_tokens_per_s"] = _per_second(per_turn, user.value, "user")
    p["turns.agent_text_tokens_per_s"] = _per_second(
        p["observed.llm_output_tokens_per_turn"], agent.value, "agent")
    if "characters" in tts.rates and not agent.source.startswith("TTS characters"):
        p["turns.characters_per_s"] = _per_second(p["observed.tts_characters_per_turn"],
                                                  agent.value, "agent")
    user_tokens = per_turn.value if per_turn.sessions else 0.0
    sys = mean_of(facts, "p1", having="n", source="")
    p["prompt.system_tokens"] = FittedValue(
        max(0.0, sys.value - user_tokens), sys.spread, sys.sessions,
        "the first LLM request's input less one turn of user text")
    p["cache.hit_ratio"], mode, cache_problems = fit_cache(facts, llm)
    problems += cache_problems
    if sum(f.get("writes") for f in facts) and llm.cache_automatic:
        problems.append(f"{llm.id} sessions report cache writes the catalog's automatic cache "
                        "does not bill")
    slid = sum(f.get("slid") for f in facts)
    notes = [f"{slid:,.0f} LLM requests sent less history than the one before (a sliding "
             "context window)"] if slid else []
    return MechanicFit(stack, p, mode, problems, notes)


def _per_second(per_turn: FittedValue, seconds: float, who: str) -> FittedValue:
    if not per_turn.sessions or not seconds:
        return assumed(0.0, f"no {who} text observed")
    return FittedValue(per_turn.value / seconds, None if per_turn.spread is None
                       else per_turn.spread / seconds, per_turn.sessions,
                       f"{per_turn.source}, over {seconds:.2f} s of {who} speech")
