"""Speech-to-speech sessions (OpenAI Realtime, Gemini Live, Nova Sonic): their parameters.

A re-billing model (catalog ``rebills_context``) bills response k's whole context as input:
system text S, every earlier user audio U_j and agent audio A_j, and the new user audio U_k.
So, reading response k's usage (input per modality, cached or not) against response k-1's:

- U_k = audio input_k - audio input_(k-1) - A_(k-1): the user audio added since (all of it
  streamed audio for a model that bills silence: the listening time);
- S = response 1's text input (nothing but the instructions is in the context yet);
- a *truncation* is an input smaller than the previous input plus the agent's audio since (a
  context only grows otherwise); its input / the catalog's truncation threshold is the
  retention ratio it implies (the estimator truncates to retention x threshold);
- text input that grows from response to response is something the scenario cannot say (it
  keeps a realtime model's text input at the system prompt): reported, never folded in.

A model that does not re-bill (Nova Sonic) reports what each event adds: summed as they come.
Speech seconds are tokens over the catalog's tokens per second (in for the user, out for the
agent); agent text tokens per second are text output over agent speech.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from ..errors import SimulationError
from .cache import count_response, fit_cache
from .costs import session_usd
from .facts import (
    FittedValue,
    MechanicFit,
    SessionFacts,
    StackKey,
    assumed,
    count_of,
    mean_of,
    nonzero,
    ratio,
)
from .models import ModelBook, ModelFacts
from .observation import SessionObservation, SessionUnusable
from .turns import DEFAULTS, seconds_per_turn

#: Text input growth per response (tokens) past which it is reported as not modelled.
TEXT_GROWTH_TOKENS = 5
DEFAULT_USER_SPEECH_S = 5.0  # the scenario's default, for a value no session shows


def main_model(obs: SessionObservation, book: ModelBook) -> ModelFacts:
    """The session's realtime model: the one it names, else its most used realtime one."""
    if obs.model:
        m = book.model(obs.model)
        if m.kind == "realtime":
            return m
    seen = Counter(book.model(u.model).id for u in obs.usages
                   if book.model(u.model).kind == "realtime")
    if not seen:
        raise SessionUnusable(f"{obs.source}: no usage of a realtime model")
    return book.model(seen.most_common(1)[0][0])


def realtime_facts(obs: SessionObservation, book: ModelBook) -> SessionFacts:
    """Read one realtime session into the sums `fit_realtime` pools."""
    main = main_model(obs, book)
    sums: defaultdict[str, float] = defaultdict(float)
    extra: dict[str, str] = {}
    responses = []
    for u in obs.usages:
        m = book.model(u.model)
        if m.id == main.id:
            responses.append(u.tokens)
        elif m.kind == "stt":
            extra.setdefault("transcription", m.id)
            t = u.tokens
            sums["tr_n"] += 1
            sums["tr_audio_tokens"] += t.get("audio.input", 0)
            sums["tr_text_out"] += t.get("text.output", 0)
            sums["tr_seconds"] += float(u.audio_seconds)
        elif m.kind == "telephony":
            extra.setdefault("telephony", m.id)
    if main.rebills:
        _rebilled(sums, main, responses)
    else:
        _additive(sums, responses)
    seconds, how = _length(obs, main, sums)
    first = _first_answer(obs, main, sums)
    if first is not None:
        sums["first_s"], sums["has_first"] = first, 1
    limit = main.max_session_seconds
    if limit is not None and seconds is not None and seconds > limit and not sums["resets"]:
        sums["kept_past_limit"] = 1
    tps_in = main.tps_in or 0.0
    if sums["u_n"] and tps_in:
        sums["user_s"] = sums["u_tok"] / sums["u_n"] * sums["n"] / tps_in
    if obs.timing is not None:
        sums["vad_s"] = obs.timing.speech_seconds
        sums["vad_n"] = obs.timing.segments
        if obs.timing.vad_padding_seconds is not None:
            sums["vad_pad_s"] = obs.timing.vad_padding_seconds * obs.timing.segments
    stack: StackKey = (("realtime", main.id), *((r, extra[r]) for r in
                                                ("transcription", "telephony") if r in extra))
    usd, why = session_usd(obs.usages, book, seconds, main)
    return SessionFacts(obs.source, stack, seconds, how, nonzero(sums), "realtime", usd, why,
                        day=obs.day.isoformat() if obs.day else None)


def _rebilled(sums: defaultdict[str, float], main: ModelFacts, responses: list) -> None:
    # (Locals, not the sums' dict, in the loop: it runs for every response of every session.)
    prev_inp = prev_audio = prev_text = prev_out_audio = system = 0
    a_tok = t_out = image = u_tok = u_n = neg = growth = growth_n = trunc = trunc_inp = 0
    max_inp = max_user = resets = first_audio = 0
    for k, t in enumerate(responses, 1):
        g = t.get
        text_cached, audio_cached = g("text.cached", 0), g("audio.cached", 0)
        text_in = g("text.input", 0) + text_cached
        audio_in = g("audio.input", 0) + audio_cached
        image_in = g("image.input", 0) + g("image.cached", 0)
        cached = text_cached + audio_cached + g("image.cached", 0)
        inp = text_in + audio_in + image_in
        out_audio = g("audio.output", 0)
        a_tok += out_audio
        t_out += g("text.output", 0)
        image += image_in
        if k == 1:
            system = text_in
            u_tok += audio_in
            u_n += 1
            max_user = audio_in
        elif inp < prev_inp + prev_out_audio and text_in <= system \
                and audio_in <= 2 * max_user and 4 * audio_in < prev_audio:
            # Nothing but the instructions and about one turn's audio, a fraction of what
            # the context held: a fresh session (the call reconnected), not a truncation
            # (which keeps most of the context: 80% on OpenAI's default, half on Gemini's).
            resets += 1
            u_tok += audio_in
            u_n += 1
            count_response(sums, main, prefix=system, cached=cached, measure=False)
        elif inp < prev_inp + prev_out_audio:  # something was dropped: a truncation
            trunc += 1
            trunc_inp += inp
            count_response(sums, main, prefix=system, cached=cached, measure=False)
        else:
            user = audio_in - prev_audio - prev_out_audio
            u_tok += user
            u_n += 1
            neg += user < 0
            growth += text_in - prev_text
            growth_n += 1
            if user > max_user:
                max_user = user
            count_response(sums, main, prefix=prev_inp, cached=cached)
        if inp > max_inp:
            max_inp = inp
        prev_inp, prev_audio, prev_text, prev_out_audio = inp, audio_in, text_in, out_audio
    n = len(responses)
    if n:
        sums["sys"] = system
        first_audio = responses[0].get("audio.input", 0) + responses[0].get("audio.cached", 0)
    sums.update(n=n, a_tok=a_tok, t_out=t_out, image_in=image, u_tok=u_tok, u_n=u_n,
                neg_u=neg, growth=growth, growth_n=growth_n, trunc=trunc,
                trunc_inp=trunc_inp, max_inp=max_inp, last_out_audio=prev_out_audio,
                resets=resets, first_audio=first_audio)


def _additive(sums: defaultdict[str, float], responses: list) -> None:
    """Each usage is what one event adds (billed once): a response is one with output."""
    for t in responses:
        g = t.get
        out = g("audio.output", 0) + g("text.output", 0)
        sums["n"] += out > 0
        sums["sys"] += g("text.input", 0) + g("text.cached", 0)
        sums["u_tok"] += g("audio.input", 0) + g("audio.cached", 0)
        sums["a_tok"] += g("audio.output", 0)
        sums["t_out"] += g("text.output", 0)
    sums["u_n"] = sums["n"]


def _length(obs: SessionObservation, main: ModelFacts, sums: defaultdict[str, float]
            ) -> tuple[float | None, str]:
    """(the session's seconds, how they were derived), or (None, why not)."""
    if obs.seconds is not None:
        return obs.seconds, "the spend log's seconds"
    if main.bills_silence and main.tps_in and main.tps_out and sums["u_n"]:
        # The stream is billed up to the start of each answer; the last answer then plays.
        streamed = sums["u_tok"] / sums["u_n"] * sums["n"]
        return (streamed / main.tps_in + sums["last_out_audio"] / main.tps_out,
                f"streamed input audio tokens / {main.tps_in:g} per second (the model bills "
                f"silence: all input audio is streamed) + the last answer's output audio at "
                f"{main.tps_out:g} tokens/s")
    t = obs.timing
    if t is not None and main.tps_out:
        return (t.input_seconds + t.tail_output_audio_tokens / main.tps_out,
                f"input audio position at the last speech event + the output audio after "
                f"it at {main.tps_out:g} tokens/s")
    return None, ("no timing in the events (no input_audio_buffer speech events, and the "
                  "model does not stream silence)")


def _first_answer(obs: SessionObservation, main: ModelFacts,
                  sums: defaultdict[str, float]) -> float | None:
    """When the first answer came (seconds from the start), if the session shows it: the
    input a silence-billing model had streamed by then, or where the first speech stopped
    (OpenAI commits the turn there and answers it)."""
    if not sums["n"]:
        return None
    if main.bills_silence and main.rebills and main.tps_in:
        return sums["first_audio"] / main.tps_in
    t = obs.timing
    return t.first_stop_seconds if t is not None else None


def _tps(main: ModelFacts) -> tuple[float, float] | None:
    """The model's audio tokens per second (in, out); None for a model billed by connection
    time that the catalog gives none (its speech does not change its cost)."""
    if main.tps_in and main.tps_out:
        return main.tps_in, main.tps_out
    if not any("." in r for r in main.rates):
        return None
    raise SimulationError(f"{main.id} has no audio_tokens_per_second_in / _out in the "
                          "catalog, needed to turn its audio tokens into seconds; add them "
                          "with your own catalog file (--pricing DIR)")


def _time_billed(facts: Sequence[SessionFacts], main: ModelFacts) -> MechanicFit:
    """A model billed by connection time: only the call lengths (and turns) matter."""
    why = (f"{main.id} is billed by connection time and the catalog gives no audio tokens "
           "per second: speech does not change its cost (the scenario's default)")
    p = {"turns.seconds_per_turn": seconds_per_turn(
        [(f.seconds, int(f.get("n"))) for f in facts if f.seconds is not None])}
    for key in ("turns.user_speech_s", "turns.agent_speech_s",
                "turns.agent_text_tokens_per_s"):
        p[key] = assumed(DEFAULTS[key], why)
    return MechanicFit(facts[0].stack, p)


def fit_realtime(facts: Sequence[SessionFacts], book: ModelBook) -> MechanicFit:
    """Pool the sessions of one realtime stack into scenario parameters."""
    stack = facts[0].stack
    main = book.model(stack[0][1])
    tps = _tps(main)
    if tps is None:
        return _time_billed(facts, main)
    tps_in, tps_out = tps
    p: dict[str, FittedValue] = {}
    problems: list[str] = []
    notes: list[str] = []
    first = mean_of(facts, "first_s", having="has_first",
                    source=("input streamed before the first answer / "
                            f"{tps_in:g} tokens/s" if main.bills_silence else
                            "where the first speech stopped (the turn is committed and "
                            "answered there)"))
    if first.sessions:
        p["turns.first_response_s"] = first
    p["turns.seconds_per_turn"] = seconds_per_turn(
        [(f.seconds, int(f.get("n"))) for f in facts if f.seconds is not None],
        first=first.value if first.sessions else None)
    p["turns.agent_speech_s"] = ratio(
        facts, "a_tok", "n", scale=1 / tps_out,
        source=f"output audio tokens per response / {tps_out:g} tokens/s")
    p["turns.agent_text_tokens_per_s"] = ratio(
        facts, "t_out", "a_tok", scale=tps_out,
        source="text output tokens / seconds of output audio")
    if main.bills_silence:
        p["turns.user_speech_s"] = assumed(DEFAULT_USER_SPEECH_S, (
            f"not observable: {main.id} streams and bills all input audio, silence "
            "included, so speech cannot be told from it; the estimator bills "
            "seconds_per_turn of input audio per response for such a model and does not "
            "use this value"))
    else:
        p["turns.user_speech_s"] = ratio(
            facts, "u_tok", "u_n", scale=1 / tps_in,
            source=f"new input audio tokens per response / {tps_in:g} tokens/s",
            note=_vad_note(facts))
    p["prompt.system_tokens"] = mean_of(
        facts, "sys", having="n", source=("text input of each session's first response"
                                          if main.rebills else "text input of the session"))
    p["cache.hit_ratio"], mode, cache_problems = fit_cache(facts, main)
    problems += cache_problems
    p["truncation.retention_ratio"] = _retention(facts, main, problems)
    if stack_has(stack, "transcription"):
        p["turns.user_text_tokens_per_s"] = ratio(
            facts, "tr_text_out", "user_s",
            source="transcription text output tokens / seconds of user speech")
    problems += _unmodelled(facts, main)
    resets = sum(f.get("resets") for f in facts)
    if resets:
        notes.append(f"{count_of(resets, 'response')} started a fresh context (the call "
                     "reconnected); the estimator reconnects at the model's session limit")
    return MechanicFit(stack, p, mode, problems, notes)


def stack_has(stack: StackKey, role: str) -> bool:
    return any(r == role for r, _ in stack)


def _vad_note(facts: Sequence[SessionFacts]) -> str:
    vad = ratio(facts, "vad_s", "vad_n", source="")
    if not vad.sessions:
        return ""
    note = (f"the server's VAD timed {vad.value:.2f} s of speech per turn over "
            f"{count_of(vad.sessions, 'session')}")
    pad = ratio(facts, "vad_pad_s", "vad_n", source="")
    if pad.sessions:
        note += (f", {vad.value - pad.value:.2f} s without its {pad.value:.2f} s of prefix "
                 "padding and closing silence, which are billed")
    return note


def _retention(facts: Sequence[SessionFacts], main: ModelFacts,
               problems: list[str]) -> FittedValue:
    seen = int(sum(f.get("trunc") for f in facts))
    with_seen = sum(1 for f in facts if f.get("trunc"))
    limit = main.truncation_tokens
    if not seen:
        return assumed(1.0, "no truncation seen (the scenario's default)")
    if limit is None:
        problems.append(f"{seen} truncations seen, but the catalog gives {main.id} no "
                        "truncation_threshold_tokens, so the estimator never truncates")
        return assumed(1.0, "truncation seen but no threshold in the catalog")
    v = ratio(facts, "trunc_inp", "trunc", scale=1 / limit,
              source=f"input after a truncation / the catalog's {limit:,}-token threshold "
                     f"({count_of(seen, 'truncation')} in {count_of(with_seen, 'session')})")
    return FittedValue(min(1.0, v.value), v.spread, v.sessions, v.source, v.note)


def _unmodelled(facts: Sequence[SessionFacts], main: ModelFacts) -> list[str]:
    """What the sessions show that the scenario cannot say (the estimator's to fix)."""
    out = []
    growth = ratio(facts, "growth", "growth_n", source="")
    if growth.sessions and growth.value > TEXT_GROWTH_TOKENS:
        out.append(f"text input grows by {growth.value:.1f} tokens per response (text kept "
                   "in the context, e.g. transcripts or tool results); the scenario keeps a "
                   "realtime model's text input at the system prompt, so the estimate misses "
                   "that growth")
    neg = ratio(facts, "neg_u", "u_n", source="")
    if neg.sessions and neg.value > 0.05:
        out.append(f"in {neg.value:.0%} of responses the context grew by less than the "
                   "agent's audio since: the estimator re-bills every output audio token in "
                   "full")
    kept = sum(1 for f in facts if f.get("kept_past_limit"))
    if kept:
        out.append(f"{count_of(kept, 'session')} ran past {main.id}'s "
                   f"{main.max_session_seconds:,}-second session limit keeping their context "
                   "(context window compression or session resumption); the estimator starts "
                   "a fresh context at the limit (a reconnect), so it bills them less")
    if sum(f.get("image_in") for f in facts):
        out.append("image input is billed in these sessions; the scenario has no images")
    biggest = max((f.get("max_inp") for f in facts), default=0)
    if main.truncation_tokens and biggest > main.truncation_tokens:
        out.append(f"inputs reached {biggest:,.0f} tokens, past the catalog's truncation "
                   f"threshold of {main.truncation_tokens:,}, which the estimator truncates at")
    return out

