"""OpenAI Realtime: `response.done` usage, input-audio transcription usage, session models.

Shapes (openai-python ``types/realtime/realtime_response_usage*.py``, OpenAI's realtime-costs
guide)::

    response.done -> response.usage = {
      input_tokens, output_tokens, total_tokens,
      input_token_details: {text_tokens, audio_tokens, image_tokens, cached_tokens,
                            cached_tokens_details: {text_tokens, audio_tokens, image_tokens}},
      output_token_details: {text_tokens, audio_tokens}}

``cached_tokens`` is a *subset* of ``input_tokens``, per modality: the adapter splits each
modality once into uncached and cached buckets. Reasoning tokens of gpt-realtime-2 are inside
``output_token_details.text_tokens``.

Input-audio transcription is billed separately, under the transcription model named in the
session config (GA ``session.audio.input.transcription.model``, beta
``session.input_audio_transcription.model``), with usage ``{"type": "tokens", ...}`` or
``{"type": "duration", "seconds": ...}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from .._files import clip
from ..core.usage import Usage, quantity
from ..errors import MissingModelError, UsageError
from ._common import MAX_COUNT, count, mapping, put, require_counts, split_cached

_MODALITIES = ("text", "audio", "image")
_RESPONSE_COUNTS = ("input_tokens", "output_tokens", "input_token_details",
                    "output_token_details")


def tokens_from_realtime_usage(usage: Mapping[str, Any], where: str = "usage") -> dict[str, int]:
    """Disjoint token buckets from a Realtime ``response.usage`` object.

    >>> tokens_from_realtime_usage({"input_tokens": 132, "output_tokens": 121,
    ...   "input_token_details": {"text_tokens": 119, "audio_tokens": 13, "cached_tokens": 64,
    ...     "cached_tokens_details": {"text_tokens": 64}},
    ...   "output_token_details": {"text_tokens": 30, "audio_tokens": 91}})
    {'text.input': 55, 'text.cached': 64, 'audio.input': 13, 'text.output': 30, 'audio.output': 91}
    """
    # Fast path for the well-formed payloads the API sends (this runs once per response in
    # the guard); anything unusual goes through the careful path, which names the problem.
    try:
        itd = usage["input_token_details"]
        otd = usage["output_token_details"]
        ctd = itd["cached_tokens_details"]
        ti = itd.get("text_tokens", 0)
        ai = itd.get("audio_tokens", 0)
        ii = itd.get("image_tokens", 0) or 0
        ct = ctd.get("text_tokens", 0)
        ca = ctd.get("audio_tokens", 0)
        ci = ctd.get("image_tokens", 0) or 0
        to = otd.get("text_tokens", 0)
        ao = otd.get("audio_tokens", 0)
        if (type(ti) is type(ai) is type(ii) is type(ct) is type(ca) is type(ci) is type(to)
                is type(ao) is int
                and 0 <= ct <= ti and 0 <= ca <= ai and 0 <= ci <= ii and to >= 0 and ao >= 0
                and ti + ai + ii == usage.get("input_tokens", ti + ai + ii)
                and ct + ca + ci == itd.get("cached_tokens", ct + ca + ci)
                and to + ao == usage.get("output_tokens", to + ao)
                and ti + ai + ii + to + ao <= MAX_COUNT):  # (else: the careful path's bounds)
            tokens = {}
            if ti - ct:
                tokens["text.input"] = ti - ct
            if ct:
                tokens["text.cached"] = ct
            if ai - ca:
                tokens["audio.input"] = ai - ca
            if ca:
                tokens["audio.cached"] = ca
            if ii - ci:
                tokens["image.input"] = ii - ci
            if ci:
                tokens["image.cached"] = ci
            if to:
                tokens["text.output"] = to
            if ao:
                tokens["audio.output"] = ao
            return tokens
    except (KeyError, TypeError, AttributeError):
        pass
    return _tokens_careful(usage, where)


def _tokens_careful(usage: Mapping[str, Any], where: str) -> dict[str, int]:
    """Like `tokens_from_realtime_usage`, checking every field to name what is wrong."""
    require_counts(usage, _RESPONSE_COUNTS, where)
    tokens: dict[str, int] = {}
    itd = mapping(usage, "input_token_details", where)
    input_total = count(usage, "input_tokens", where)
    where_in = f"{where}.input_token_details"
    if itd is None:
        # No modality split reported: all input counted as text would under-price audio, so
        # refuse rather than guess.
        if input_total:
            raise UsageError(f"{where} has input_tokens but no input_token_details; cannot tell "
                             "text from audio")
    else:
        per = {m: count(itd, f"{m}_tokens", where_in) for m in _MODALITIES}
        cached_total = count(itd, "cached_tokens", where_in)
        ctd = mapping(itd, "cached_tokens_details", where_in)
        if ctd is not None:
            cached = {m: count(ctd, f"{m}_tokens", f"{where_in}.cached_tokens_details")
                      for m in _MODALITIES}
            # (a missing total is the details' sum, as on the fast path)
            if sum(cached.values()) != cached_total and itd.get("cached_tokens") is not None:
                raise UsageError(f"{where_in}: cached_tokens ({cached_total}) is not the sum of "
                                 f"cached_tokens_details ({sum(cached.values())})")
        else:
            # Early payloads gave only a total; caches hold the (text) prefix first.
            cached = {m: 0 for m in _MODALITIES}
            rest = cached_total
            for m in _MODALITIES:
                cached[m] = min(rest, per[m])
                rest -= cached[m]
            if rest:
                raise UsageError(f"{where_in}: cached_tokens ({cached_total}) exceed the input")
        for m in _MODALITIES:
            split_cached(tokens, m, per[m], cached[m], where_in)
        if input_total and sum(per.values()) != input_total:
            raise UsageError(f"{where}: input_tokens ({input_total}) is not the sum of its "
                             f"modalities ({sum(per.values())})")
    otd = mapping(usage, "output_token_details", where)
    output_total = count(usage, "output_tokens", where)
    if otd is None:
        if output_total:
            raise UsageError(f"{where} has output_tokens but no output_token_details")
    else:
        out_text = count(otd, "text_tokens", f"{where}.output_token_details")
        out_audio = count(otd, "audio_tokens", f"{where}.output_token_details")
        if output_total and out_text + out_audio != output_total:
            raise UsageError(f"{where}: output_tokens ({output_total}) is not text + audio "
                             f"({out_text} + {out_audio})")
        put(tokens, "text.output", out_text)
        put(tokens, "audio.output", out_audio)
    return tokens


def usage_from_response_done(event: Mapping[str, Any], model: str, *, at: date | None = None,
                             label: str = "") -> Usage | None:
    """The `Usage` of a ``response.done`` event, or None when it carries no usage.

    >>> ev = {"type": "response.done", "response": {"usage": {"input_tokens": 10,
    ...   "output_tokens": 20, "input_token_details": {"audio_tokens": 10},
    ...   "output_token_details": {"audio_tokens": 20}}}}
    >>> usage_from_response_done(ev, "openai/gpt-realtime-1.5").tokens
    {'audio.input': 10, 'audio.output': 20}
    """
    response = event.get("response")
    if type(response) is dict and type(usage := response.get("usage")) is dict:
        pass  # the common case, checked without the generic helpers
    else:
        response = mapping(event, "response", "response.done")
        usage = mapping(response, "usage", "response.done.response")
    if usage is None:
        return None
    tokens = tokens_from_realtime_usage(usage, "response.usage")  # validated buckets
    if at is None:
        return Usage._unchecked(model, tokens, label)
    return Usage(model, tokens, at=at, label=label)


def usage_from_transcription(event: Mapping[str, Any], model: str, *, at: date | None = None,
                             label: str = "") -> Usage | None:
    """The `Usage` of ``conversation.item.input_audio_transcription.completed`` (or None).

    Token usage: input split into text (prompt) and audio; duration usage: audio seconds.
    """
    where = "transcription.usage"
    usage = mapping(event, "usage", "transcription")
    if usage is None:
        return None
    kind = usage.get("type")
    if kind == "duration":
        seconds = quantity(usage.get("seconds"), f"{where}.seconds")
        return Usage(model, audio_seconds=seconds, at=at, label=label)
    if kind == "tokens":
        require_counts(usage, ("input_tokens", "output_tokens", "input_token_details"), where)
        tokens: dict[str, int] = {}
        total_in = count(usage, "input_tokens", where)
        itd = mapping(usage, "input_token_details", where)
        if itd is None:
            put(tokens, "audio.input", total_in)  # the input of a transcription is the audio
        else:
            text_in = count(itd, "text_tokens", f"{where}.input_token_details")
            audio_in = count(itd, "audio_tokens", f"{where}.input_token_details")
            if total_in and text_in + audio_in != total_in:
                raise UsageError(f"{where}: input_tokens ({total_in}) is not text + audio")
            put(tokens, "text.input", text_in)
            put(tokens, "audio.input", audio_in)
        put(tokens, "text.output", count(usage, "output_tokens", where))
        return Usage(model, tokens, at=at, label=label)
    raise UsageError(f"{where}.type must be 'tokens' or 'duration', got {clip(repr(kind))}")


def session_models(event: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(model, transcription model) named by a ``session.created`` / ``session.updated`` event.

    Reads the GA shape (``session.audio.input.transcription``) and the beta shape
    (``session.input_audio_transcription``).
    """
    session = mapping(event, "session", "session")
    if session is None:
        return None, None
    model = session.get("model") if isinstance(session.get("model"), str) else None
    audio = mapping(session, "audio", "session")
    inp = mapping(audio, "input", "session.audio")
    tr = mapping(inp, "transcription", "session.audio.input")
    if tr is None:
        tr = mapping(session, "input_audio_transcription", "session")
    tmodel = tr.get("model") if tr is not None and isinstance(tr.get("model"), str) else None
    return model, tmodel


# Transcription-only sessions (beta `transcription_session.*`) name their model here too.
_SESSION_EVENTS = frozenset({"session.created", "session.updated",
                             "transcription_session.created", "transcription_session.updated"})
# The client's own requests (recordings interleave them): they name a model only until a
# server event does, and never override one (the server's echo is what was applied).
_CLIENT_SESSION_EVENTS = frozenset({"session.update", "transcription_session.update"})


class OpenAIRealtimeReader:
    """Turns a recorded OpenAI Realtime event stream into `Usage`, one event at a time.

    The model comes from ``session.created`` / ``session.updated`` unless given; so does the
    input transcription model. A client ``session.update`` in the recording names them until
    a server event does (a transcription model the client set only there is still priced).

    >>> r = OpenAIRealtimeReader()
    >>> r.feed({"type": "session.created", "session": {"model": "gpt-realtime-1.5"}})
    []
    >>> r.model
    'gpt-realtime-1.5'
    """

    format = "openai-realtime"

    def __init__(self, model: str | None = None, transcription_model: str | None = None) -> None:
        self.model = model
        self.transcription_model = transcription_model
        self._fixed_model = model is not None
        self._fixed_tmodel = transcription_model is not None
        self._server_model = self._server_tmodel = False  # named by a server event?
        self.responses = 0
        self.transcriptions = 0

    @staticmethod
    def claims(event: Mapping[str, Any]) -> bool:
        t = event.get("type")
        return isinstance(t, str) and (t.startswith(("session.", "response.", "conversation.",
                                                      "input_audio_buffer.", "rate_limits.",
                                                      "transcription_session."))
                                       or t == "error")

    def feed(self, event: Mapping[str, Any]) -> list[Usage]:
        t = event.get("type")
        if t == "response.done":
            return self._response_done(event)
        if not isinstance(t, str):
            return []
        if t in _SESSION_EVENTS:
            model, tmodel = session_models(event)
            if model and not self._fixed_model:
                self.model = model
                self._server_model = True
            if tmodel and not self._fixed_tmodel:
                self.transcription_model = tmodel
                self._server_tmodel = True
            return []
        if t in _CLIENT_SESSION_EVENTS:
            model, tmodel = session_models(event)
            if model and not (self._fixed_model or self._server_model):
                self.model = model
            if tmodel and not (self._fixed_tmodel or self._server_tmodel):
                self.transcription_model = tmodel
            return []
        if t == "conversation.item.input_audio_transcription.completed":
            if self.transcription_model is None:
                raise MissingModelError("transcription event but no session event named the "
                                        "transcription model; pass it explicitly "
                                        "(--transcription-model)")
            usage = usage_from_transcription(event, self.transcription_model,
                                             label=f"transcription {self.transcriptions + 1}")
            if usage is None:
                raise UsageError("transcription completed without usage; cannot price it")
            self.transcriptions += 1
            return [usage]
        return []

    def _response_done(self, event: Mapping[str, Any]) -> list[Usage]:
        if self.model is None:
            raise MissingModelError("response.done before any session event named the "
                                    "model; pass the model explicitly (--model)")
        usage = usage_from_response_done(event, self.model,
                                         label=f"response {self.responses + 1}")
        if usage is None:
            raise UsageError("response.done without usage; it cannot be priced from the "
                             "event alone")
        self.responses += 1
        return [usage]
