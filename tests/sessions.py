"""Recorded-shape OpenAI Realtime sessions of any length, for guard tests.

The usage numbers come from the simulator (billing-model.md section 1: the context is re-billed
every response), written out the way OpenAI's `response.done` reports them.
"""

from __future__ import annotations

import base64
from datetime import date

from costmodel.core.catalog import Catalog
from costmodel.core.usage import Usage
from costmodel.estimation.scenario import Scenario
from costmodel.estimation.simulate import build_stack

DAY = date(2026, 11, 25)


def realtime_usage(u: Usage) -> dict:
    """A `Usage` as the `response.usage` object of an OpenAI `response.done` event."""
    t = u.tokens
    per = {m: t.get(f"{m}.input", 0) + t.get(f"{m}.cached", 0) for m in ("text", "audio", "image")}
    cached = {m: t.get(f"{m}.cached", 0) for m in ("text", "audio", "image")}
    out = {m: t.get(f"{m}.output", 0) for m in ("text", "audio")}
    return {
        "total_tokens": sum(per.values()) + sum(out.values()),
        "input_tokens": sum(per.values()),
        "output_tokens": sum(out.values()),
        "input_token_details": {"text_tokens": per["text"], "audio_tokens": per["audio"],
                                "image_tokens": per["image"],
                                "cached_tokens": sum(cached.values()),
                                "cached_tokens_details": {
                                    "text_tokens": cached["text"],
                                    "audio_tokens": cached["audio"],
                                    "image_tokens": cached["image"]}},
        "output_token_details": {"text_tokens": out["text"], "audio_tokens": out["audio"]},
    }


def openai_session(catalog: Catalog, *, turns: int, model: str = "openai/gpt-realtime-1.5",
                   system_tokens: int = 3000, hit_ratio: float = 0.0, user_s: float = 5,
                   agent_s: float = 7, seconds_per_turn: float = 15,
                   with_usage: bool = True) -> list[dict]:
    """Events of a `turns`-response session, as the server (and client) sent them."""
    sc = Scenario.model_validate({
        "name": "t", "volume": {"calls_per_month": 1}, "duration_min": {"fixed": 1},
        "turns": {"seconds_per_turn": seconds_per_turn, "user_speech_s": user_s,
                  "agent_speech_s": agent_s},
        "prompt": {"system_tokens": system_tokens}, "cache": {"hit_ratio": hit_ratio},
        "stacks": [model]})
    stack = build_stack(model, sc, catalog, DAY)
    name = model.split("/", 1)[1]
    events: list[dict] = [{"type": "session.created", "session": {"model": name}}]
    chunk = base64.b64encode(bytes(4800)).decode()  # 100 ms of pcm16 at 24 kHz
    t_ms = 0
    for k in range(1, turns + 1):
        (usage,) = stack.response_usages(k)
        events += [
            {"type": "input_audio_buffer.speech_started", "audio_start_ms": t_ms},
            {"type": "input_audio_buffer.speech_stopped", "audio_start_ms": t_ms,
             "audio_end_ms": t_ms + int(user_s * 1000)},
            {"type": "input_audio_buffer.committed", "item_id": f"item_{k}"},
            {"type": "response.created", "response": {"id": f"resp_{k}"}},
        ]
        events += [{"type": "response.output_audio.delta", "delta": chunk}
                   for _ in range(int(agent_s * 10))]
        events.append({"type": "response.done", "response": {
            "id": f"resp_{k}", "status": "completed",
            "usage": realtime_usage(usage) if with_usage else None}})
        t_ms += int(seconds_per_turn * 1000)
    return events
