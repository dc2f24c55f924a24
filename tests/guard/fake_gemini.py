"""A local stand-in for the Gemini Live websocket (``BidiGenerateContent``), for relay tests.

Real sockets on loopback. Like the service: the client's first message is ``setup`` (naming
the model); the server answers ``setupComplete``; each client turn (``clientContent`` with
``turnComplete``) gets a model turn: a few ``serverContent.modelTurn`` messages carrying
inline 24 kHz pcm audio, then ``serverContent.turnComplete`` with the turn's
``usageMetadata``. The server sends its messages as *binary* frames of UTF-8 JSON, as the
Live API does (browsers see Blobs). Usage follows Gemini's context re-billing: every turn's
prompt holds the system instruction, all earlier turns and the new user turn.
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field
from typing import Self

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

MODEL = "gemini-3.1-flash-live-preview"


@dataclass
class GeminiTurns:
    """Token sizes of the conversation (a turn = one user turn and the model's answer)."""

    system: int = 400          # S: system instruction (text)
    user_text: int = 20        # U: the user's turn, text
    agent_audio: int = 250     # A: the model's audio reply (10 s at 25 tokens/s)

    def usage(self, k: int) -> dict:
        """``usageMetadata`` of turn k (1-based): the prompt re-sends every earlier turn."""
        s, u, a = self.system, self.user_text, self.agent_audio
        text_in = s + k * u
        audio_in = (k - 1) * a
        return {"promptTokenCount": text_in + audio_in, "responseTokenCount": a,
                "totalTokenCount": text_in + audio_in + a,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": text_in}]
                + ([{"modality": "AUDIO", "tokenCount": audio_in}] if audio_in else []),
                "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": a}]}


@dataclass
class GeminiConn:
    """What one upstream connection received."""

    frames: list[str | bytes] = field(default_factory=list)
    turns: int = 0
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    close_code: int | None = None

    def messages(self) -> list[dict]:
        out = []
        for f in self.frames:
            try:
                out.append(json.loads(f))
            except ValueError:
                continue
        return out


class FakeGemini:
    """``async with FakeGemini() as up:`` then connect to ``up.url`` (its path is ignored)."""

    def __init__(self, *, turns: GeminiTurns | None = None, chunks: int = 3,
                 chunk_bytes: int = 4800) -> None:
        self.turns = turns or GeminiTurns()
        self.chunks = chunks
        self.audio = base64.b64encode(bytes(chunk_bytes)).decode()
        self.conns: list[GeminiConn] = []
        self._server = None

    async def __aenter__(self) -> Self:
        self._server = await serve(self._handle, "127.0.0.1", 0, max_size=None)
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = (f"ws://127.0.0.1:{port}/ws/google.ai.generativelanguage.v1beta."
                    "GenerativeService.BidiGenerateContent")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    @staticmethod
    async def _send(ws: ServerConnection, message: dict) -> None:
        await ws.send(json.dumps(message).encode())   # binary, as the service does

    async def _handle(self, ws: ServerConnection) -> None:
        conn = GeminiConn()
        self.conns.append(conn)
        try:
            async for frame in ws:
                conn.frames.append(frame)
                try:
                    message = json.loads(frame)
                except ValueError:
                    continue
                if not isinstance(message, dict):
                    continue
                if "setup" in message:
                    await self._send(ws, {"setupComplete": {}})
                content = message.get("clientContent")
                if isinstance(content, dict) and content.get("turnComplete"):
                    conn.turns += 1
                    await self._answer(ws, conn.turns)
        except ConnectionClosed:
            pass
        finally:
            conn.close_code = ws.close_code
            conn.closed.set()

    async def _answer(self, ws: ServerConnection, k: int) -> None:
        for _ in range(self.chunks):
            await self._send(ws, {"serverContent": {"modelTurn": {"parts": [{"inlineData": {
                "mimeType": "audio/pcm;rate=24000", "data": self.audio}}]}}})
        await self._send(ws, {"serverContent": {"generationComplete": True}})
        await self._send(ws, {"serverContent": {"turnComplete": True},
                              "usageMetadata": self.turns.usage(k)})
