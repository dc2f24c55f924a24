"""A stand-in for OpenAI Realtime that takes session updates, item deletes and server VAD, for
the ladder and hang-up tests (real sockets, loopback; recorded-shape GA events).

What it bills follows OpenAI's re-billing (the context as input on every response), with no
cache, in round numbers: S = 1,000 text tokens of instructions, U = 100 audio tokens per user
turn, a reply of A = 400 audio tokens (no text), so with gpt-realtime-1.5 ($4 text in, $32
audio in, $64 audio out per 1M):

    response 1: 1,000 x $4 + 100 x $32 + 400 x $64            = $0.0328
    response k: 1,000 x $4 + (history + 100) x $32 + reply x $64

and it takes what a ``session.update`` sets: ``max_output_tokens`` caps the reply,
``truncation`` ({retention_ratio r, token_limits.post_instructions n}) keeps r x n audio
tokens once the history passes n. Each ``session.update`` is answered with the whole session
(``session.updated``), each ``conversation.item.delete`` with ``conversation.item.deleted``.

Server VAD (`vad=True`): an ``input_audio_buffer.append`` whose ``event_id`` starts with
``speech`` is speech (the first starts it: ``speech_started``), any other append is noise;
noise after speech stops it (``speech_stopped``), commits the turn and answers it.
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field
from typing import Self

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

MODEL = "gpt-realtime-1.5"
S, U, A = 1000, 100, 400


@dataclass
class Link:
    """What one upstream connection received, and the session as it stands."""

    frames: list[dict] = field(default_factory=list)
    session: dict = field(default_factory=dict)
    responses: int = 0
    history: int = 0          # audio tokens in the context after the instructions
    items: list[str] = field(default_factory=list)

    def types(self) -> list[str]:
        return [f.get("type", "") for f in self.frames]

    def of_type(self, t: str) -> list[dict]:
        return [f for f in self.frames if f.get("type") == t]


class FakeRealtime:
    """``async with FakeRealtime() as up:`` then connect to ``up.url``."""

    def __init__(self, *, vad: bool = False, deltas: int = 2) -> None:
        self.vad, self.deltas = vad, deltas
        self.links: list[Link] = []
        self._server = None
        self.delta = base64.b64encode(bytes(480)).decode()

    async def __aenter__(self) -> Self:
        self._server = await serve(self._handle, "127.0.0.1", 0, max_size=None)
        self.url = f"ws://127.0.0.1:{next(iter(self._server.sockets)).getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    def _usage(self, link: Link) -> dict:
        s = link.session
        inp = link.history + U
        t = s.get("truncation")
        if isinstance(t, dict):
            post = t.get("token_limits", {}).get("post_instructions")
            if post is not None and inp > post:
                inp = int(t["retention_ratio"] * post)
        cap = s.get("max_output_tokens")
        out = min(A, cap) if isinstance(cap, int) else A
        link.history = inp + out
        return {"total_tokens": S + inp + out, "input_tokens": S + inp, "output_tokens": out,
                "input_token_details": {"text_tokens": S, "audio_tokens": inp,
                                        "image_tokens": 0, "cached_tokens": 0},
                "output_token_details": {"text_tokens": 0, "audio_tokens": out}}

    async def _handle(self, ws: ServerConnection) -> None:
        link = Link(session={
            "type": "realtime", "object": "realtime.session", "id": "sess_fake",
            "model": MODEL, "output_modalities": ["audio"], "instructions": "Be brief.",
            "max_output_tokens": "inf", "truncation": "auto",
            "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000},
                                "turn_detection": {"type": "server_vad"} if self.vad
                                else None},
                      "output": {"format": {"type": "audio/pcm", "rate": 24000}}}})
        self.links.append(link)
        await ws.send(json.dumps({"type": "session.created", "event_id": "ev_0",
                                  "session": link.session}))
        task: asyncio.Task | None = None
        speaking, ms = False, 0
        try:
            async for frame in ws:
                event = json.loads(frame)
                link.frames.append(event)
                t = event.get("type")
                if t == "session.update":
                    link.session.update({k: v for k, v in event["session"].items()
                                         if k != "type"})
                    await ws.send(json.dumps({"type": "session.updated", "event_id": "ev_su",
                                              "session": link.session}))
                elif t == "conversation.item.delete":
                    if event["item_id"] in link.items:
                        link.items.remove(event["item_id"])
                    await ws.send(json.dumps({"type": "conversation.item.deleted",
                                              "event_id": "ev_del",
                                              "item_id": event["item_id"]}))
                elif t == "input_audio_buffer.append" and self.vad:
                    ms += 20
                    speech = str(event.get("event_id", "")).startswith("speech")
                    if speech and not speaking:
                        speaking = True
                        await ws.send(json.dumps({"type": "input_audio_buffer.speech_started",
                                                  "event_id": "ev_ss", "audio_start_ms": ms,
                                                  "item_id": "item_u"}))
                    elif not speech and speaking:
                        speaking = False
                        await ws.send(json.dumps({"type": "input_audio_buffer.speech_stopped",
                                                  "event_id": "ev_st", "audio_end_ms": ms,
                                                  "item_id": "item_u"}))
                        await ws.send(json.dumps({"type": "input_audio_buffer.committed",
                                                  "event_id": "ev_c", "item_id": "item_u"}))
                        task = await self._start(ws, link, task)
                elif t == "response.create":
                    task = await self._start(ws, link, task, event.get("event_id"))
                elif t == "response.cancel" and task is not None and not task.done():
                    task.cancel()
                    await ws.send(json.dumps(self._done(link, "cancelled")))
        except ConnectionClosed:
            pass
        finally:
            if task is not None:
                task.cancel()

    async def _start(self, ws: ServerConnection, link: Link, task: asyncio.Task | None,
                     ref: str | None = None) -> asyncio.Task | None:
        if task is not None and not task.done():
            await ws.send(json.dumps({"type": "error", "event_id": "ev_err", "error": {
                "type": "invalid_request_error",
                "code": "conversation_already_has_active_response",
                "message": "Conversation already has an active response", "event_id": ref}}))
            return task
        link.responses += 1
        return asyncio.create_task(self._respond(ws, link))

    def _done(self, link: Link, status: str = "completed") -> dict:
        k = link.responses
        return {"type": "response.done", "event_id": f"ev_done_{k}",
                "response": {"object": "realtime.response", "id": f"resp_{k}",
                             "status": status, "output": [], "usage": self._usage(link)}}

    async def _respond(self, ws: ServerConnection, link: Link) -> None:
        k = link.responses
        try:
            for role, iid in (("user", f"item_u{k}"), ("assistant", f"item_a{k}")):
                link.items.append(iid)
                await ws.send(json.dumps({
                    "type": "conversation.item.added", "event_id": f"ev_add_{iid}",
                    "item": {"id": iid, "type": "message", "role": role, "content": []}}))
            await ws.send(json.dumps({"type": "response.created", "event_id": f"ev_rc_{k}",
                                      "response": {"id": f"resp_{k}",
                                                   "status": "in_progress"}}))
            for i in range(self.deltas):
                await asyncio.sleep(0.002)
                await ws.send(json.dumps({"type": "response.output_audio.delta",
                                          "event_id": f"ev_d_{k}_{i}",
                                          "response_id": f"resp_{k}", "delta": self.delta}))
            await ws.send(json.dumps(self._done(link)))
        except ConnectionClosed:
            pass
