"""One recorded provider session (a JSONL file of events) as a `SessionObservation`.

Usage is read by the same readers `costmodel price-events` uses
(`costmodel.adapters.recorded.READERS`), never re-parsed here. What this module adds is
speed and the stream's own timing:

- Most lines of a recording are audio deltas that carry neither usage nor timing. A line is
  decoded only if it holds one of a few byte strings (``usage``, ``session``, ``speech_st``,
  ``setup``): every usage event (``response.done``, transcription ``usage``,
  ``usageMetadata``, ``usageEvent``), every event that names a model (``session.created``,
  Gemini's ``setup``) and the voice-activity events. They are found with `bytes.find` over
  blocks of the file (C speed), not by looking at every line in Python.
- OpenAI Realtime's ``input_audio_buffer.speech_started`` / ``speech_stopped`` carry
  ``audio_start_ms`` / ``audio_end_ms``: "milliseconds from the start of all audio written to
  the buffer during the session" (https://platform.openai.com/docs/api-reference/realtime-server-events/input_audio_buffer/speech_started),
  a position in the input stream, which a client streams continuously: the stream's clock.
  The last such position, plus the output audio of the responses that came after it, is the
  session's length (`StreamTiming`; the model's output tokens per second turn tokens into
  seconds in `costmodel.fit.realtime`).

A line that is not JSON among those decoded, or a usage event a reader refuses, leaves the
session out (`SessionUnusable`, naming file and line): a response missing from the middle of a
re-billing session would make every later one look wrong.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .._files import EVENT_FILE_LIMIT, EVENT_LINE_LIMIT, MB, clip
from ..adapters.recorded import READERS, EventReader, detect_format
from ..core.usage import Usage
from ..errors import InputError, UsageError
from .observation import SessionObservation, SessionUnusable, StreamTiming

#: Byte strings of the lines worth decoding (see the module docstring).
WANTED = (b"usage", b"session", b"speech_st", b"setup")
_BLOCK = 4 * MB
_SPEECH = ("input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


_decode = json.JSONDecoder(parse_constant=_no_constant).decode


def wanted_lines(path: str) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of each line of the file holding a `WANTED` byte string, read in
    bounded blocks (a line past `EVENT_LINE_LIMIT`, or a file past `EVENT_FILE_LIMIT`, is an
    `InputError`)."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with fh:
        size = os.fstat(fh.fileno()).st_size
        if size > EVENT_FILE_LIMIT:
            raise InputError(f"{path}: file too large ({size // MB} MB > "
                             f"{EVENT_FILE_LIMIT // MB} MB limit for a recorded session)")
        carry = b""
        base = 0   # lines before the block
        total = 0
        while True:
            block = fh.read(_BLOCK)
            total += len(block)
            if total > EVENT_FILE_LIMIT:
                raise InputError(f"{path}: file too large (more than "
                                 f"{EVENT_FILE_LIMIT // MB} MB)")
            if not block:
                if carry:
                    yield from _spans(carry, base)
                return
            buf = carry + block
            end = buf.rfind(b"\n") + 1
            if not end:
                if len(buf) > EVENT_LINE_LIMIT:
                    raise InputError(f"{path}: line {base + 1} is longer than "
                                     f"{EVENT_LINE_LIMIT // MB} MB: not a file of JSON lines")
                carry = buf
                continue
            yield from _spans(buf[:end], base)
            base += buf.count(b"\n", 0, end)
            carry = buf[end:]


def _spans(buf: bytes, base: int) -> Iterator[tuple[int, bytes]]:
    """The wanted lines of a block of whole lines, in order."""
    starts: dict[int, int] = {}
    for key in WANTED:
        i = buf.find(key)
        while i >= 0:
            start = buf.rfind(b"\n", 0, i) + 1
            end = buf.find(b"\n", i)
            if end < 0:
                end = len(buf)
            starts[start] = end
            i = buf.find(key, end)
    line, at = base, 0
    for start in sorted(starts):
        line += buf.count(b"\n", at, start)
        at = start
        yield line + 1, buf[start:starts[start]]


def _ms(event: Mapping[str, Any], key: str) -> float | None:
    value = event.get(key)
    if type(value) is int or type(value) is float:  # (not a bool)
        x = float(value)
        if math.isfinite(x) and 0 <= x <= 1e11:
            return x
    return None


def _padding_ms(event: Mapping[str, Any]) -> float | None:
    """prefix_padding_ms + silence_duration_ms of a session event's server VAD (GA
    ``session.audio.input.turn_detection``, beta ``session.turn_detection``), if given."""
    session = event.get("session")
    if not isinstance(session, dict):
        return None
    audio = session.get("audio")
    inp = audio.get("input") if isinstance(audio, dict) else None
    td = inp.get("turn_detection") if isinstance(inp, dict) else None
    if not isinstance(td, dict):
        td = session.get("turn_detection")
    if not isinstance(td, dict):
        return None
    parts = [_ms(td, "prefix_padding_ms"), _ms(td, "silence_duration_ms")]
    return None if None in parts else float(sum(p for p in parts if p is not None))


@dataclass
class _Clock:
    """The input stream's position and the output audio since (OpenAI Realtime)."""

    position_ms: float | None = None
    tail_audio_tokens: int = 0
    speech_ms: float = 0.0
    segments: int = 0
    started_ms: float | None = None
    padding_ms: float | None = None

    def speech(self, event: Mapping[str, Any], kind: str) -> None:
        if kind == _SPEECH[0]:
            at = _ms(event, "audio_start_ms")
            self.started_ms = at
        else:
            at = _ms(event, "audio_end_ms")
            if at is not None and self.started_ms is not None and at >= self.started_ms:
                self.speech_ms += at - self.started_ms
                self.segments += 1
            self.started_ms = None
        if at is not None and (self.position_ms is None or at >= self.position_ms):
            self.position_ms = at
            self.tail_audio_tokens = 0

    def timing(self) -> StreamTiming | None:
        if self.position_ms is None:
            return None
        return StreamTiming(self.position_ms / 1000, self.tail_audio_tokens,
                            self.speech_ms / 1000, self.segments,
                            None if self.padding_ms is None else self.padding_ms / 1000)


def read_event_file(path: str, *, model: str | None = None) -> SessionObservation:
    """The usages (in order) and timing of one recorded session file.

    `model` overrides the model the events name (needed for Nova Sonic, whose events name
    none). Raises `SessionUnusable` (file:line: why) for a session that cannot be fitted,
    `InputError` for a file that cannot be read.
    """
    reader: EventReader | None = None
    pending: list[tuple[int, dict]] = []
    usages: list[Usage] = []
    clock = _Clock()
    for lineno, raw in wanted_lines(path):
        try:
            event = _decode(raw.decode("utf-8", errors="replace"))
        except (ValueError, RecursionError) as exc:
            raise SessionUnusable(f"{path}:{lineno}: not a JSON event "
                                  f"({clip(str(exc), 60)})") from None
        if type(event) is not dict:
            raise SessionUnusable(f"{path}:{lineno}: expected a JSON object")
        if reader is None:
            fmt = detect_format(event)
            if fmt is None:
                if len(pending) < 1000:
                    pending.append((lineno, event))
                continue
            reader = READERS[fmt](model=model)
            for n, held in pending:
                _feed(reader, held, n, path, usages, clock)
            pending.clear()
        _feed(reader, event, lineno, path, usages, clock)
    if reader is None:
        raise SessionUnusable(f"{path}: no event of a known format (OpenAI Realtime, "
                              "Gemini Live, Nova Sonic) carrying usage")
    return SessionObservation(source=path, format=reader.format, model=reader.model,
                              usages=tuple(usages), timing=clock.timing())


def _feed(reader: EventReader, event: dict, lineno: int, path: str, usages: list[Usage],
          clock: _Clock) -> None:
    try:
        got = reader.feed(event)
    except (UsageError, ArithmeticError, RecursionError) as exc:
        raise SessionUnusable(f"{path}:{lineno}: {exc}") from None
    kind = event.get("type")
    if got:
        usages.extend(got)
        if kind == "response.done":
            clock.tail_audio_tokens += sum(u.tokens.get("audio.output", 0) for u in got)
    elif kind in _SPEECH:
        clock.speech(event, kind)
    elif kind in ("session.created", "session.updated") and clock.padding_ms is None:
        clock.padding_ms = _padding_ms(event)
