"""A local stand-in for the OpenAI Realtime websocket, for relay tests (real sockets, loopback).

It records what each connection received (path, query, headers, offered subprotocols, every
frame), sends a GA-shaped ``session.created``, and answers each client ``response.create``
(or ``input_audio_buffer.commit``) with ``response.created``, a few
``response.output_audio.delta`` frames and a ``response.done`` whose usage follows the
billing model's context re-billing (billing-model.md §1):

    input_k  = S + sum_{j<k} (U + A) + U     (text part S, the rest audio)
    cached_k = int(h * input_{k-1})           (text first, then audio; 0 on the first turn)
    output_k = A audio + T text

A ``response.cancel`` stops the response in flight (``status: "cancelled"``); a second
``response.create`` while one is active gets OpenAI's ``conversation_already_has_active_response``
error.
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field
from typing import Self
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

MODEL = "gpt-realtime-1.5"


@dataclass
class Turns:
    """Token sizes of the replayed conversation."""

    system: int = 1180        # S: instructions + tools (text)
    user: int = 80            # U: user audio tokens per turn (8 s)
    agent_audio: int = 150    # A: assistant audio tokens per response (7.5 s)
    agent_text: int = 30      # T: assistant transcript tokens
    cache_hit: float = 0.9    # h

    def usage(self, k: int) -> dict:
        """`response.done.response.usage` of response k (1-based)."""
        s, u, a, t = self.system, self.user, self.agent_audio, self.agent_text
        audio_in = (k - 1) * (u + a) + u
        total_in = s + audio_in
        prev_in = s + (k - 2) * (u + a) + u if k > 1 else 0
        cached = int(self.cache_hit * prev_in)
        cached_text, cached_audio = min(cached, s), max(0, cached - s)
        return {
            "total_tokens": total_in + a + t, "input_tokens": total_in, "output_tokens": a + t,
            "input_token_details": {
                "text_tokens": s, "audio_tokens": audio_in, "image_tokens": 0,
                "cached_tokens": cached,
                "cached_tokens_details": {"text_tokens": cached_text,
                                          "audio_tokens": cached_audio, "image_tokens": 0}},
            "output_token_details": {"text_tokens": t, "audio_tokens": a},
        }


@dataclass
class Conn:
    """What one upstream connection received."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    subprotocols: list[str]
    frames: list[str | bytes] = field(default_factory=list)
    responses: int = 0
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    close_code: int | None = None

    def events(self) -> list[dict]:
        out = []
        for f in self.frames:
            if isinstance(f, str):
                try:
                    event = json.loads(f)
                except ValueError:
                    continue
                if isinstance(event, dict):
                    out.append(event)
        return out

    def types(self) -> list[str]:
        return [e.get("type") for e in self.events()]


class FakeUpstream:
    """``async with FakeUpstream() as up:`` then connect to ``up.url``.

    `drop_after_deltas`: abort the TCP connection (no close frame) after that many audio
    deltas of the session, to simulate a provider dropping mid-stream.
    """

    def __init__(self, *, turns: Turns | None = None, deltas: int = 3,
                 delta_bytes: int = 4800, delta_pause: float = 0.002,
                 subprotocol: str | None = "realtime",
                 drop_after_deltas: int | None = None, respond_after: float = 0) -> None:
        self.turns = turns or Turns()
        self.deltas, self.delta_pause, self.subprotocol = deltas, delta_pause, subprotocol
        self.delta = base64.b64encode(bytes(range(256)) * (delta_bytes // 256 + 1))[
            : delta_bytes * 4 // 3].decode()
        self.drop_after_deltas = drop_after_deltas
        self.respond_after = respond_after   # s before response.created (a busy provider)
        self.conns: list[Conn] = []
        self.connected = asyncio.Event()
        self._server = None

    async def __aenter__(self) -> Self:
        self._server = await serve(self._handle, "127.0.0.1", 0, max_size=None,
                                   select_subprotocol=self._select)
        self.port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    def _select(self, conn: ServerConnection, offered: list[str]) -> str | None:
        return self.subprotocol if self.subprotocol in offered else None

    async def _handle(self, ws: ServerConnection) -> None:
        req = ws.request
        parts = urlsplit(req.path)
        offered = [p.strip() for v in req.headers.get_all("Sec-WebSocket-Protocol")
                   for p in v.split(",")]
        conn = Conn(parts.path, parse_qs(parts.query), {k.lower(): v for k, v in
                                                        req.headers.raw_items()}, offered)
        self.conns.append(conn)
        self.connected.set()
        model = conn.query.get("model", [MODEL])[0]
        task: asyncio.Task | None = None
        sent = [0]
        created = [False]   # the response in progress was announced (response.created)
        await ws.send(json.dumps({
            "type": "session.created", "event_id": "event_fake_0",
            "session": {"type": "realtime", "object": "realtime.session", "id": "sess_fake",
                        "model": model, "output_modalities": ["audio"],
                        "instructions": "You are a support agent.",
                        "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000},
                                            "turn_detection": None},
                                  "output": {"format": {"type": "audio/pcm", "rate": 24000},
                                             "voice": "marin"}},
                        "tools": [], "truncation": "auto"}}))
        try:
            async for frame in ws:
                conn.frames.append(frame)
                if not isinstance(frame, str):
                    continue
                try:  # like the real API, a malformed frame is an error, not a crash
                    event = json.loads(frame)
                except ValueError:
                    continue
                t = event.get("type") if isinstance(event, dict) else None
                if t == "input_audio_buffer.commit":
                    await ws.send(json.dumps({"type": "input_audio_buffer.committed",
                                              "event_id": "event_c", "item_id": "item_u"}))
                if t in ("response.create", "input_audio_buffer.commit"):
                    if task is not None and not task.done():
                        await ws.send(json.dumps({"type": "error", "event_id": "event_err",
                                                  "error": {
                            "type": "invalid_request_error",
                            "code": "conversation_already_has_active_response",
                            "message": "Conversation already has an active response",
                            "event_id": event.get("event_id")}}))
                        continue
                    conn.responses += 1
                    created[0] = False
                    task = asyncio.create_task(self._respond(ws, conn.responses, sent,
                                                             created))
                elif t == "response.cancel" and task is not None and not task.done():
                    task.cancel()
                    if not created[0]:  # like the API: every response is created first
                        await ws.send(json.dumps(self._created(conn.responses)))
                    await ws.send(json.dumps(self._done(conn.responses, "cancelled")))
        except ConnectionClosed:
            pass
        finally:
            if task is not None:
                task.cancel()
            conn.close_code = ws.close_code
            conn.closed.set()

    def _done(self, k: int, status: str = "completed") -> dict:
        return {"type": "response.done", "event_id": f"event_done_{k}",
                "response": {"object": "realtime.response", "id": f"resp_{k}",
                             "status": status, "status_details": None, "output": [],
                             "conversation_id": "conv_1", "output_modalities": ["audio"],
                             "usage": self.turns.usage(k)}}

    @staticmethod
    def _created(k: int) -> dict:
        return {"type": "response.created", "event_id": f"event_rc_{k}",
                "response": {"object": "realtime.response", "id": f"resp_{k}",
                             "status": "in_progress", "output": [], "usage": None}}

    async def _respond(self, ws: ServerConnection, k: int, sent: list[int],
                       created: list[bool]) -> None:
        try:
            if self.respond_after:
                await asyncio.sleep(self.respond_after)
            await ws.send(json.dumps(self._created(k)))
            created[0] = True
            for i in range(self.deltas):
                await asyncio.sleep(self.delta_pause)
                await ws.send(json.dumps({
                    "type": "response.output_audio.delta", "event_id": f"event_d_{k}_{i}",
                    "response_id": f"resp_{k}", "item_id": f"item_a{k}", "output_index": 0,
                    "content_index": 0, "delta": self.delta}))
                sent[0] += 1
                if self.drop_after_deltas is not None and sent[0] >= self.drop_after_deltas:
                    ws.transport.abort()  # no close frame: a dropped connection
                    return
            await ws.send(json.dumps(self._done(k)))
        except ConnectionClosed:
            pass
