"""Sessions from what the user gives: event files, spend logs, directories of either.

A path is a file or a directory (searched recursively for ``*.jsonl`` and ``*.json``). A
file is a spend log when its first line is a spend-log record (`is_spend_log_line`: it has
``session_id``, ``spent_usd`` and ``started_at``), else one recorded session of provider
events (`costmodel.fit.events`). A spend log holds many sessions, one a line
(`costmodel.guard.spendlog`).

>>> list(session_files([]))
[]
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .._files import EVENT_LINE_LIMIT
from ..errors import InputError
from ..guard.spendlog import SessionRecord, is_spend_log_line, read_spend_log
from .events import read_event_file
from .observation import SessionObservation, SessionUnusable

SUFFIXES = (".jsonl", ".json")
_SNIFF_LINES = 3  # non-blank lines that may show a spend log
#: Files a directory may hold: past it the fit stops with an error, not a stall.
MAX_FILES = 1_000_000


def session_files(sources: Iterable[str | Path | SessionRecord]
                  ) -> Iterator[str | SessionRecord]:
    """Each file (directories expanded, sorted, recursively) or record, in order; a path
    that does not exist is an `InputError`."""
    count = 0
    for src in sources:
        if isinstance(src, SessionRecord):
            yield src
            continue
        path = Path(src)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*")
                           if p.suffix in SUFFIXES and p.is_file())
            count += len(found)
            if count > MAX_FILES:
                raise InputError(f"{src}: more than {MAX_FILES:,} session files")
            yield from (str(p) for p in found)
        elif path.exists():
            count += 1
            yield str(path)
        else:
            raise InputError(f"{src}: no such file or directory")


def is_spend_log(path: str) -> bool:
    """Whether one of the file's first few non-blank lines is a spend-log record (a log
    whose first line was cut short by a crash is still one)."""
    seen = 0
    try:
        with open(path, "rb") as fh:
            for _ in range(100):
                line = fh.readline(EVENT_LINE_LIMIT)
                if not line:
                    return False
                if not line.strip():
                    continue
                # (the cheap test first: provider events never carry both)
                if b"spent_usd" in line and b"session_id" in line:
                    try:
                        if is_spend_log_line(json.loads(line)):
                            return True
                    except (ValueError, RecursionError):
                        pass
                seen += 1
                if seen == _SNIFF_LINES:
                    return False
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return False


def record_observation(rec: SessionRecord, where: str) -> SessionObservation:
    """A spend-log record as an observation; `SessionUnusable` when its trail cannot be
    fitted (none written, or cut short)."""
    if not rec.usage:
        raise SessionUnusable(f"{where}: no usage trail (a spend-log line written before "
                              "the trail existed, or a session that used nothing)")
    if rec.usage_truncated:
        raise SessionUnusable(f"{where}: the usage trail was cut short (usage_truncated)")
    return SessionObservation(source=where, format="spend-log", model=rec.model,
                              usages=rec.usage, seconds=rec.seconds,
                              day=rec.started_at.date())


@dataclass
class FileObservations:
    """The sessions one file holds, and those it could not give (``unusable``: why, naming
    file and line or session)."""

    observations: list[SessionObservation] = field(default_factory=list)
    unusable: list[str] = field(default_factory=list)


def observe_file(path: str, *, model: str | None = None) -> FileObservations:
    """Every session of one file (a spend log's many, or an event file's one)."""
    out = FileObservations()
    if is_spend_log(path):
        log = read_spend_log(path)
        for line, message in log.problems:
            out.unusable.append(f"{path}:{line}: {message}")
        if log.skipped > len(log.problems):
            out.unusable.append(f"{path}: {log.skipped - len(log.problems):,} more lines "
                                "skipped")
        for rec in log.records:
            try:
                out.observations.append(
                    record_observation(rec, f"{path}: session {rec.session_id}"))
            except SessionUnusable as exc:
                out.unusable.append(str(exc))
        return out
    try:
        out.observations.append(read_event_file(path, model=model))
    except SessionUnusable as exc:
        out.unusable.append(str(exc))
    return out

