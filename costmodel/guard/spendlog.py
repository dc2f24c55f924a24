"""The spend log: one JSON line per finished session, written by the relay and the hooks.

A line says what the session was (``session_id``, ``scope``, ``model``, ``limit_usd``), what
it cost (``spent_usd``, ``responses``, ``estimated``, ``unsaved_usd``), what the guard decided
(``decisions``), when and how it ended (``started_at``, ``ended_at``, ``end``), how long it
lasted (``seconds``, on a monotonic clock) and every usage the guard priced, in order
(``usage``: `costmodel.core.usage.usage_to_json` each; past `MAX_USAGES` the rest is left out
and ``usage_truncated`` is true), and once its first response is priced, its set-up
(``setup``: the instructions and tools billed per call, `costmodel.guard.setup`); a relay with
a ladder adds the steps it took (``ladder``: `costmodel.guard.ladder.StepDecision.json`).
Re-pricing ``usage`` gives ``spent_usd``; `costmodel fit` learns scenarios from it and
`costmodel reconcile` lines it up with what providers billed.

`session_record` builds a line from a finished `SessionGuard`, `append_record` appends it,
`read_spend_log` reads a log back (lines written before ``usage`` and ``seconds`` existed
are read too: no usage, seconds from the timestamps)::

    log = read_spend_log("spend.jsonl")
    for rec in log.records:
        print(rec.session_id, rec.seconds, rec.spent_usd, len(rec.usage))
    for line, message in log.problems:
        print(f"spend.jsonl:{line}: {message}")
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeGuard

from .._files import EVENT_FILE_LIMIT, EVENT_LINE_LIMIT, clip, read_lines
from ..core.usage import Usage, usage_from_json, usage_to_json
from ..errors import CostModelError, InputError, UsageError
from ..money import to_usd
from .policy import Decision
from .session import SessionGuard
from .setup import setup_cost

log = logging.getLogger("costmodel.guard")

#: Usages written per session: ~100 bytes each, so a line stays under ~2 MB (a session of
#: 20,000 responses is a day on the phone).
MAX_USAGES = 20_000
#: Problems a `SpendLog` lists one by one; past it, only counted (`SpendLog.skipped`).
MAX_PROBLEMS = 1_000
#: A spend log's size: ~10 KB a session with its usage trail, so ~100,000 sessions.
SPEND_LOG_LIMIT = EVENT_FILE_LIMIT


def now_iso() -> str:
    """The current UTC time, ISO 8601, as the spend log writes it."""
    return datetime.now(UTC).isoformat()


# -- writing -------------------------------------------------------------------------------------
def decision_json(d: Decision, at: str | None = None) -> dict[str, Any]:
    """One of a line's ``decisions`` (``at``: when it was made, if known)."""
    out = {"action": d.action, "spent_usd": str(d.spent_usd),
           "projected_next_usd": str(d.projected_next_usd), "pending_responses": d.pending,
           "reason": d.reason}
    if at is not None:
        out["at"] = at
    return out


def session_record(guard: SessionGuard, *, end: str, started_at: str | None = None,
                   ended_at: str | None = None, session_id: str | None = None,
                   upstream_session_id: str | None = None, path: str | None = None,
                   decisions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The spend-log line of a session whose guard has been finalized.

    ``seconds`` is the guard's clock from its start to `SessionGuard.finalize`; ``started_at``
    defaults to ``ended_at`` (default: now) less those seconds; ``decisions`` to the guard's
    `history`; ``session_id`` to the guard's. The usage trail is serialised here, once,
    never while the session runs.

    >>> guard = SessionGuard("1", model="openai/gpt-realtime-1.5")
    >>> d = guard.observe(Usage("openai/gpt-realtime-1.5", {"audio.input": 1000}))
    >>> d = guard.finalize()
    >>> rec = session_record(guard, end="closed")   # 1000 x $32/1M = $0.032
    >>> rec["spent_usd"], rec["usage"]
    ('0.032000000000', [{'model': 'openai/gpt-realtime-1.5', 'tokens': {'audio.input': 1000}}])
    """
    model = guard.model
    with contextlib.suppress(CostModelError):  # the catalog id, as in the ledger's records
        model = guard.catalog.resolve(model) if model else None
    seconds = round(guard.seconds, 3)
    ended = ended_at or now_iso()
    if started_at is None:
        started_at = (_datetime(ended, "ended_at") - timedelta(seconds=seconds)).isoformat()
    costs = guard.costs
    record: dict[str, Any] = {
        "session_id": session_id or guard.session_id, "upstream_session_id": upstream_session_id,
        "worker": os.getpid(), "path": path, "scope": guard.scope, "model": model,
        "limit_usd": str(guard.limit_usd), "spent_usd": str(guard.spent_usd),
        "responses": guard.responses, "estimated": guard.estimated,
        "unsaved_usd": str(guard.unsaved_usd),
        "decisions": decisions if decisions is not None else
        [decision_json(d) for d in guard.history],
        "started_at": started_at, "ended_at": ended, "end": end, "seconds": seconds,
        "usage": [usage_to_json(c.usage) for c in costs[:MAX_USAGES]]}
    if len(costs) > MAX_USAGES:
        record["usage_truncated"] = True
    setup = setup_cost(guard)
    if setup is not None:   # the per-call fixed cost: instructions and tools
        record["setup"] = setup.json()
    return record


def append_record(path: str | os.PathLike[str], record: Mapping[str, Any]) -> bool:
    """Append `record` as one line and fsync it. A failure is logged loudly with the record
    (the spend must not vanish) and returns False: it never ends a session."""
    line = json.dumps(record, separators=(",", ":")) + "\n"
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        log.error("SPEND LOG ERROR: cannot append to %s: %s; record: %s", path, exc,
                  line.strip())
        return False
    return True


# -- reading -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One session as the spend log recorded it.

    ``seconds`` is the session's length (None when an older line's timestamps do not give
    one); ``usage`` is every usage the guard priced, in order (empty in lines written before
    the trail existed; cut short when ``usage_truncated``).
    """

    session_id: str
    scope: str
    model: str | None
    started_at: datetime
    ended_at: datetime
    seconds: float | None
    spent_usd: Decimal
    responses: int
    usage: tuple[Usage, ...]
    usage_truncated: bool
    end: str
    estimated: bool = False
    limit_usd: Decimal | None = None


@dataclass
class SpendLog:
    """What `read_spend_log` found: the records, and the lines it skipped with why
    (1-based line numbers; at most `MAX_PROBLEMS` listed, `skipped` counts them all)."""

    path: str
    records: list[SessionRecord] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)
    skipped: int = 0


def is_spend_log_line(obj: object) -> TypeGuard[Mapping[str, Any]]:
    """Whether a parsed JSON line is a spend-log record rather than a provider event."""
    return (isinstance(obj, Mapping) and "session_id" in obj and "spent_usd" in obj
            and "started_at" in obj)


def read_spend_log(path: str | os.PathLike[str]) -> SpendLog:
    """Read a spend log (at most `SPEND_LOG_LIMIT` bytes; else `InputError`). A line that is
    not a valid record is skipped and listed in `SpendLog.problems` with why; the rest count.

    >>> read_spend_log("/nonexistent/spend.jsonl")
    Traceback (most recent call last):
    costmodel.errors.InputError: /nonexistent/spend.jsonl: cannot read: No such file or directory
    """
    name = os.fspath(path)
    out = SpendLog(name)

    def fail(message: str) -> InputError:
        return InputError(f"{name}: {message}")

    try:
        fh = open(path, "rb")  # noqa: SIM115 (closed below; read_lines streams it)
    except OSError as exc:
        raise fail(f"cannot read: {exc.strerror or exc}") from None
    with fh:
        size = os.fstat(fh.fileno()).st_size
        if size > SPEND_LOG_LIMIT:  # (a regular file says its size: refuse it unread)
            raise fail(f"file too large ({size >> 20} MB > {SPEND_LOG_LIMIT >> 20} MB limit)")
        lines = read_lines(fh, fail=fail, limit=EVENT_LINE_LIMIT, total_limit=SPEND_LOG_LIMIT)
        # Millions of small objects that all live on, none in a cycle: the cyclic GC would
        # walk them again and again for nothing (a third of the time on 500,000 usages).
        collecting = gc.isenabled()
        gc.disable()
        try:
            _read(lines, out)
        finally:
            if collecting:
                gc.enable()
    return out


def _read(lines: Iterable[str], out: SpendLog) -> None:
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.records.append(record_from_line(line))
        except UsageError as exc:
            out.skipped += 1
            if len(out.problems) < MAX_PROBLEMS:
                out.problems.append((lineno, str(exc)))


def record_from_line(line: str) -> SessionRecord:
    """One spend-log line as a `SessionRecord`; `UsageError` says what is wrong with it."""
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"not JSON ({clip(str(exc), 80)})") from None
    return record_from_json(obj)


def record_from_json(obj: object) -> SessionRecord:
    """A parsed spend-log line as a `SessionRecord`, validated: a `UsageError` names the
    field (``spent_usd: ...``, ``usage[3].tokens: ...``)."""
    if not is_spend_log_line(obj):
        raise UsageError("not a spend-log record (it needs session_id, spent_usd and "
                         "started_at)")
    started = _datetime(obj["started_at"], "started_at")
    ended = _datetime(obj.get("ended_at", obj["started_at"]), "ended_at")
    seconds = obj.get("seconds")
    if seconds is None:  # written before seconds existed: the wall clock's say
        elapsed = (ended - started).total_seconds()
        seconds = elapsed if "ended_at" in obj and elapsed >= 0 else None
    elif type(seconds) not in (int, float) or not math.isfinite(seconds) or seconds < 0:
        raise UsageError(f"seconds: expected a number of seconds >= 0, got {clip(repr(seconds))}")
    trail = obj.get("usage", [])
    if type(trail) is not list:
        raise UsageError(f"usage: expected a list of usages, got {clip(repr(trail))}")
    limit = obj.get("limit_usd")
    return SessionRecord(
        session_id=_text(obj, "session_id"), scope=_text(obj, "scope", "default"),
        model=_text(obj, "model", None), started_at=started, ended_at=ended,
        seconds=float(seconds) if seconds is not None else None,
        spent_usd=to_usd(obj["spent_usd"], "spent_usd", allow_text=True),
        responses=_count(obj, "responses"),
        usage=tuple(usage_from_json(u, f"usage[{i}]") for i, u in enumerate(trail)),
        usage_truncated=_flag(obj, "usage_truncated"), end=_text(obj, "end", "unknown"),
        estimated=_flag(obj, "estimated"),
        limit_usd=None if limit is None else to_usd(limit, "limit_usd", allow_text=True))


def _text(obj: Mapping[str, Any], key: str, default: Any = ...) -> Any:
    value = obj.get(key, default)
    if value is ...:
        raise UsageError(f"{key}: missing")
    if value is not default and (type(value) is not str or not value):
        raise UsageError(f"{key}: expected a non-empty string, got {clip(repr(value))}")
    return value


def _count(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key, 0)
    if type(value) is not int or value < 0:
        raise UsageError(f"{key}: expected a whole number >= 0, got {clip(repr(value))}")
    return value


def _flag(obj: Mapping[str, Any], key: str) -> bool:
    value = obj.get(key, False)
    if type(value) is not bool:
        raise UsageError(f"{key}: expected true or false, got {clip(repr(value))}")
    return value


def _datetime(value: object, key: str) -> datetime:
    """An ISO 8601 time; one without a zone is UTC (as the relay writes them)."""
    try:
        if type(value) is not str:
            raise ValueError
        at = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{key}: expected an ISO 8601 time, got {clip(repr(value))}") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
