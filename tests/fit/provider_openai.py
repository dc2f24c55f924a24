"""A `Call` as OpenAI Realtime (GA) reports it: the server events of one session, in order.

Provider behaviour, from OpenAI's documentation (not from costmodel's estimator):

- Audio is tokenised at "1 token per 100 ms" of user audio and "1 token per 50ms" of
  assistant audio, and "the entire conversation is sent to the model for each Response", so
  response k's input is the instructions (text) + every earlier user and assistant audio item
  + the new user item (https://developers.openai.com/api/docs/guides/realtime-costs). VAD
  "will effectively filter out empty input audio": only committed turns are input.
- A committed user item spans ``audio_start_ms`` (which "includes the prefix_padding_ms") to
  ``audio_end_ms`` (which "includes the min_silence_duration_ms"), positions in the input
  audio the client streams continuously from the start of the session (Realtime server
  events reference, ``input_audio_buffer.speech_started`` / ``speech_stopped``).
- Prompt caching "works automatically for prompts containing 1024 tokens or more, with cache
  hits occurring in increments of 128 tokens" and needs "an exact, repeated prefix match"
  (OpenAI cookbook, Prompt Caching 201,
  https://developers.openai.com/cookbook/examples/prompt_caching_201). A request either hits,
  and then the previous request's whole input (its longest shared prefix) rounded down to 128
  is cached, or misses entirely; ``cached_tokens_details`` splits it text first, because the
  instructions open the prompt.
- Truncation: "A 32k context model with 4,096 max output tokens can only include 28,224
  tokens in the context before truncation occurs"; messages are dropped "starting from the
  oldest", which busts the cache past the instructions; ``retention_ratio`` is the
  "fraction of post-instruction conversation tokens to retain" (openai-python
  ``types/realtime/realtime_truncation.py`` and ``realtime_truncation_retention_ratio.py``).
  Whole items are dropped until the conversation after the instructions is at most
  ``retention_ratio`` x (28,224 - instructions).

>>> from tests.fit.timeline import TrueParams, simulate_call
>>> events, truth = realtime_events(simulate_call(TrueParams(seed=3), 0))
>>> events[0]["type"], events[0]["session"]["model"]
('session.created', 'gpt-realtime-1.5')
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from .timeline import Call, Turn

MODEL = "gpt-realtime-1.5"
AUDIO_IN_PER_S = 10
AUDIO_OUT_PER_S = 20
TRUNCATION_THRESHOLD = 28_224
CACHE_MIN_PREFIX = 1024
CACHE_INCREMENT = 128
PAYLOAD = "UklGRiQAAABXQVZF"  # a short base64 audio chunk: the bench reads events, not audio
WORDS = "Sure, let me check that for you."


@dataclass(frozen=True)
class SessionTruth:
    """What the provider did in one session, for tests to compare a fit with."""

    responses: int
    hits: int                # responses served from the cache (cached_tokens > 0)
    truncations: int         # responses whose context was truncated first
    input_tokens: int        # summed over responses
    cached_tokens: int


def _audio_in(turn: Turn, padding_ms: int, silence_ms: int) -> tuple[int, int, int]:
    """(audio_start_ms, audio_end_ms, tokens) of a committed user turn."""
    start = max(0, round(turn.speech_start_s * 1000) - padding_ms)
    end = round(turn.speech_end_s * 1000) + silence_ms
    return start, end, round((end - start) / 1000 * AUDIO_IN_PER_S)


class _Conversation:
    """The server's conversation as the model sees it: instructions + audio items."""

    def __init__(self, instructions: int, retention: float) -> None:
        self.instructions = instructions
        self.retention = retention
        self.items: deque[int] = deque()
        self.tokens = 0                 # post-instruction tokens
        self.previous_input = 0

    def request(self, user_tokens: int) -> tuple[int, bool]:
        """Add the new user item; (the prefix this request shares with the previous one,
        truncated?)."""
        self.items.append(user_tokens)
        self.tokens += user_tokens
        truncated = self.instructions + self.tokens > TRUNCATION_THRESHOLD
        if truncated:
            keep = self.retention * (TRUNCATION_THRESHOLD - self.instructions)
            while self.tokens > keep and len(self.items) > 1:
                self.tokens -= self.items.popleft()
        shared = self.instructions if truncated else self.previous_input
        self.previous_input = self.instructions + self.tokens
        return shared, truncated

    def answer(self, audio_tokens: int) -> None:
        self.items.append(audio_tokens)
        self.tokens += audio_tokens


def _usage(text_in: int, audio_in: int, cached: int, text_out: int, audio_out: int) -> dict:
    c_text = min(cached, text_in)
    c_audio = cached - c_text
    return {
        "total_tokens": text_in + audio_in + text_out + audio_out,
        "input_tokens": text_in + audio_in, "output_tokens": text_out + audio_out,
        "input_token_details": {
            "text_tokens": text_in, "audio_tokens": audio_in, "image_tokens": 0,
            "cached_tokens": cached,
            "cached_tokens_details": {"text_tokens": c_text, "audio_tokens": c_audio,
                                      "image_tokens": 0}},
        "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out}}


def _session(call: Call) -> list[dict]:
    p = call.params
    sid = f"sess_{p.seed}_{call.index}"
    vad = {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": p.vad_prefix_padding_ms,
           "silence_duration_ms": p.vad_silence_ms, "create_response": True}
    session = {"type": "realtime", "object": "realtime.session", "id": sid, "model": MODEL,
               "output_modalities": ["audio"], "instructions": "You are a support agent...",
               "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000},
                                   "transcription": None, "turn_detection": vad},
                         "output": {"format": {"type": "audio/pcm", "rate": 24000},
                                    "voice": "marin"}},
               "tools": [], "tool_choice": "auto", "max_output_tokens": "inf",
               "truncation": "auto"}
    updated = dict(session, truncation={"type": "retention_ratio",
                                        "retention_ratio": p.retention_ratio})
    return [{"type": "session.created", "event_id": "event_0", "session": session},
            {"type": "session.updated", "event_id": "event_1", "session": updated}]


def realtime_events(call: Call, *, deltas: int = 1) -> tuple[list[dict], SessionTruth]:
    """The server events of `call`'s session and what the provider did. `deltas`: how many
    ``response.output_audio.delta`` (and transcript deltas) each response streams."""
    p = call.params
    events = _session(call)
    conv = _Conversation(p.system_tokens, p.retention_ratio)
    hits = truncations = total_in = total_cached = 0
    previous = None
    for k, turn in enumerate(call.turns):
        start_ms, end_ms, user_tokens = _audio_in(turn, p.vad_prefix_padding_ms,
                                                  p.vad_silence_ms)
        shared, truncated = conv.request(user_tokens)
        cached = 0
        if k and turn.hit and shared >= CACHE_MIN_PREFIX:
            cached = shared // CACHE_INCREMENT * CACHE_INCREMENT
        audio_out = round(turn.agent_s * AUDIO_OUT_PER_S)
        usage = _usage(p.system_tokens, conv.tokens, cached, turn.agent_text_tokens, audio_out)
        events += _turn_events(k, previous, start_ms, end_ms, usage, deltas)
        conv.answer(audio_out)
        previous = f"item_A{k}"
        hits += cached > 0
        truncations += truncated
        total_in += usage["input_tokens"]
        total_cached += cached
    if call.cut_speech_start_s is not None:  # the call ended while the user was speaking
        start = max(0, round(call.cut_speech_start_s * 1000) - p.vad_prefix_padding_ms)
        events.append({"type": "input_audio_buffer.speech_started", "event_id": "event_end",
                       "audio_start_ms": start, "item_id": f"item_U{len(call.turns)}"})
    return events, SessionTruth(len(call.turns), hits, truncations, total_in, total_cached)


def _turn_events(k: int, previous: str | None, start_ms: int, end_ms: int, usage: dict,
                 deltas: int) -> list[dict]:
    user, agent, resp = f"item_U{k}", f"item_A{k}", f"resp_{k}"

    def ev(kind: str, n: int | str = "", **fields: Any) -> dict:
        return {"type": kind, "event_id": f"event_{k}_{kind.rsplit('.', 1)[-1]}{n}", **fields}

    audio_item = {"id": user, "type": "message", "role": "user", "status": "completed",
                  "content": [{"type": "input_audio", "transcript": None}]}
    out = [ev("input_audio_buffer.speech_started", audio_start_ms=start_ms, item_id=user),
           ev("input_audio_buffer.speech_stopped", audio_end_ms=end_ms, item_id=user),
           ev("input_audio_buffer.committed", previous_item_id=previous, item_id=user),
           ev("conversation.item.added", previous_item_id=previous, item=audio_item),
           ev("response.created", response={"object": "realtime.response", "id": resp,
                                            "status": "in_progress", "output": [],
                                            "usage": None}),
           ev("rate_limits.updated", rate_limits=[{"name": "tokens", "limit": 800_000,
                                                  "remaining": 790_000,
                                                  "reset_seconds": 1.2}])]
    where = {"response_id": resp, "item_id": agent, "output_index": 0, "content_index": 0}
    for i in range(deltas):
        out.append(ev("response.output_audio_transcript.delta", f"t{i}", **where,
                      delta=WORDS[:8]))
        out.append(ev("response.output_audio.delta", f"a{i}", **where, delta=PAYLOAD))
    answer = {"id": agent, "type": "message", "role": "assistant", "status": "completed",
              "content": [{"type": "output_audio", "transcript": WORDS}]}
    out.append(ev("response.done", response={
        "object": "realtime.response", "id": resp, "status": "completed",
        "status_details": None, "output": [answer], "conversation_id": "conv_1",
        "output_modalities": ["audio"], "max_output_tokens": "inf", "usage": usage}))
    return out
