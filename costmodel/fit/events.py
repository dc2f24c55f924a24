"""One recorded provider session (a JSONL file of events) as a `SessionObservation`.

Usage is read by the same readers `costmodel price-events` uses
(`costmodel.adapters.recorded.READERS`), never re-parsed here. What this module adds is
speed and the stream's own timing:

- Most lines of a recording are audio deltas, transcript deltas and acknowledgements that
  carry neither usage nor timing. A line is read only if it holds one of `WANTED`: every
  event a reader takes usage or a model from (OpenAI ``response.done``, transcription
  ``...transcription.completed``, ``session.*``; Gemini ``setup`` and ``usageMetadata``;
  Nova ``usageEvent``) and the voice-activity events. They are found with `bytes.find` over
  blocks of the file (C speed), not by looking at every line in Python; a voice-activity
  event's position is read off its line with a regular expression, and only the rest are
  decoded as JSON.
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
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .._files import EVENT_FILE_LIMIT, EVENT_LINE_LIMIT, MB, clip
from ..adapters.recorded import READERS, EventReader, detect_format
from ..core.usage import Usage
from ..errors import InputError, UsageError
from .observation import SessionObservation, SessionUnusable, StreamTiming

#: Byte strings of the lines worth reading, by format (see the module docstring).
FORMAT_KEYS = {
    "openai-realtime": (b"response.done", b"speech_st", b"session.",
                        b"transcription.completed"),
    "gemini-live": (b"usageMetadata", b"usage_metadata", b"setup"),
    "nova-sonic": (b"usageEvent",),
}
#: All of them, for a file whose first lines do not show its format.
WANTED = tuple(k for keys in FORMAT_KEYS.values() for k in keys)
_SNIFF = 20  # lines at the start of a file that may show its format
_BLOCK = 4 * MB
_SPEECH = ("input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped")
# A voice-activity event, by its own (top-level) type: inside a JSON string the quotes would
# be escaped, so these bytes are the event's structure. Its position is the key it names.
_SPEECH_TYPE = re.compile(rb'"type"\s*:\s*"input_audio_buffer\.speech_(started|stopped)"')
_SPEECH_MS = {b"started": re.compile(rb'"audio_start_ms"\s*:\s*(\d{1,11})\s*[,}]'),
              b"stopped": re.compile(rb'"audio_end_ms"\s*:\s*(\d{1,11})\s*[,}]')}


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


_decode = json.JSONDecoder(parse_constant=_no_constant).decode


def wanted_lines(path: str) -> Iterator[tuple[int, bytes, bytes]]:
    """(line number, line, the key it holds) of each line of the file holding one of its format's
    `FORMAT_KEYS` (`WANTED` until its first lines show the format: a key that is absent costs
    a scan of the whole file), read in bounded blocks (a line past `EVENT_LINE_LIMIT`, or a
    file past `EVENT_FILE_LIMIT`, is an `InputError`)."""
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
        keys: tuple[bytes, ...] | None = None
        while True:
            block = fh.read(_BLOCK)
            total += len(block)
            if total > EVENT_FILE_LIMIT:
                raise InputError(f"{path}: file too large (more than "
                                 f"{EVENT_FILE_LIMIT // MB} MB)")
            if not block:
                if carry:
                    yield from _spans(carry, base, keys or WANTED)
                return
            buf = carry + block
            end = buf.rfind(b"\n") + 1
            if not end:
                if len(buf) > EVENT_LINE_LIMIT:
                    raise InputError(f"{path}: line {base + 1} is longer than "
                                     f"{EVENT_LINE_LIMIT // MB} MB: not a file of JSON lines")
                carry = buf
                continue
            if keys is None:
                keys = _sniff(buf[:end])
            yield from _spans(buf[:end], base, keys)
            base += buf.count(b"\n", 0, end)
            carry = buf[end:]


def _sniff(buf: bytes) -> tuple[bytes, ...]:
    """The keys of the format the first lines show (every key if they show none)."""
    for line in buf.split(b"\n", _SNIFF)[:_SNIFF]:
        try:
            event = _decode(line.decode("utf-8", errors="replace"))
        except (ValueError, RecursionError):
            continue
        fmt = detect_format(event) if type(event) is dict else None
        if fmt is not None:
            return FORMAT_KEYS.get(fmt, WANTED)
    return WANTED


def _spans(buf: bytes, base: int, keys: tuple[bytes, ...]
           ) -> Iterator[tuple[int, bytes, bytes]]:
    """The lines of a block of whole lines that hold one of `keys` (with the first key
    found in it), in order."""
    starts: dict[int, tuple[int, bytes]] = {}
    for key in keys:
        i = buf.find(key)
        while i >= 0:
            start = buf.rfind(b"\n", 0, i) + 1
            end = buf.find(b"\n", i)
            if end < 0:
                end = len(buf)
            starts.setdefault(start, (end, key))
            i = buf.find(key, end)
    line, at = base, 0
    for start in sorted(starts):
        line += buf.count(b"\n", at, start)
        at = start
        end, key = starts[start]
        yield line + 1, buf[start:end], key


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
    first_stop_ms: float | None = None

    def speech(self, event: Mapping[str, Any], kind: str) -> None:
        started = kind == _SPEECH[0]
        self.speech_at(started, _ms(event, "audio_start_ms" if started else "audio_end_ms"))

    def speech_at(self, started: bool, at: float | None) -> None:
        if started:
            self.started_ms = at
        else:
            if self.first_stop_ms is None:
                self.first_stop_ms = at
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
                            None if self.padding_ms is None else self.padding_ms / 1000,
                            None if self.first_stop_ms is None else self.first_stop_ms / 1000)


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
    for lineno, raw, key in wanted_lines(path):
        if key == b"speech_st" and reader is not None and \
                (kind := _SPEECH_TYPE.search(raw)) is not None:
            found = _SPEECH_MS[kind.group(1)].search(raw)
            if found is not None:  # (else decoded below, and a bad line said so)
                clock.speech_at(kind.group(1) == b"started", float(found.group(1)))
                continue
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
