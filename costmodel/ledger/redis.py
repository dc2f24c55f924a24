"""A ledger in Redis: per-tenant budgets shared by every worker process.

``open_ledger("redis://host:6379/0")`` returns a `RedisLedger`. Each write is one Lua script run
with ``EVALSHA`` (loaded on first use), so Redis executes it atomically: no other client's
command runs between a reservation's check and its hold, or between a commit's record and the
release of its reservation.

Money stays exact without floats: amounts travel and are stored as plain decimal strings, and
the scripts add, subtract and compare them digit by digit (a small fixed-point library in Lua,
in `costmodel.ledger.redis_lua`). Redis integers would hold nano-dollars only, and Lua numbers
are doubles, exact only up to 2**53; decimal strings have neither limit, so one code path
serves every amount, including ones finer than a nano-dollar, where the SQLite backend falls
back to summing text in Python.

Keys (``P`` is ``{prefix}``; the braces are a hash tag, so every key shares one cluster slot;
``S`` a scope, ``D`` a UTC day ``YYYY-MM-DD``, ``M`` a month ``YYYY-MM``)::

    P:held              ZSET  reservation id -> expires_at (unix s); expired ones are purged
    P:hold              HASH  reservation id -> "usd scope"
    P:heldsum           HASH  scope -> sum of its reservations (kept in step with P:hold)
    P:scopes            SET   the scopes with committed spend
    P:sums:S            HASH  committed spend of scope S: "all" (all time), M, D -> total
    P:months:S P:days:S ZSET  M -> yyyymm, D -> yyyymmdd: the periods with spend, in order
    P:dayrec:S:D        LIST  "at_us usd" per record, for a ``since`` inside a day
    P:seq  P:rec        the last record number; HASH number -> record JSON (commit order)
    P:log:S             LIST  record numbers of scope S
    P:paid              HASH  reservation id -> the record number it paid for (idempotent commit)
    P:ids               HASH  record id -> its record number (a record is stored once)

``spent(scope=S, since=...)`` reads the period totals: a month start costs one month entry per
month from then on, a day start also the later days of that month, any other instant adds one
scan of that day's list. Reservation expiry uses the callers' clocks (``now``), so workers need
synchronised clocks (NTP), as a TTL of minutes tolerates.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from json.encoder import encode_basestring_ascii as _quote
from typing import Any, cast

import redis
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError
from redis.retry import Retry

from .._redact import mask_url
from ..errors import LedgerError
from ..money import exact_sum, plain, tidy
from . import redis_lua as lua
from .base import (
    EPOCH,
    MICRO,
    DaySpend,
    Ledger,
    Reservation,
    SpendRecord,
    conflict,
    day_totals,
    record_from_json,
    refuse,
    same_record,
)

__all__ = ["RedisLedger"]

def ledger_key(url: str, prefix: str = "costmodel") -> str:
    """The store a URL names, however it is spelled (``localhost`` = ``127.0.0.1``, default
    port and db, ``/0`` or ``?db=0``, a socket's real path), without credentials: the spool of
    one Redis database is never flushed into another. Raises ValueError for a bad URL.

    >>> ledger_key("redis://user:pw@localhost:6379?db=2") == ledger_key("redis://127.0.0.1/2")
    True
    """
    kw = redis.connection.parse_url(url)
    if "path" in kw:
        where = f"unix:{os.path.realpath(kw['path'])}"
    else:
        host = str(kw.get("host") or "localhost").lower()
        where = f"{'127.0.0.1' if host == 'localhost' else host}:{kw.get('port') or 6379}"
    return f"redis://{where}/{kw.get('db') or 0}#{prefix}"


def _plain(amount: Decimal) -> str:
    """Canonical plain notation, as the scripts expect: ``1E+3`` -> ``1000``, ``0.50`` ->
    ``0.5``, ``-0`` -> ``0``."""
    return plain(amount.copy_abs())


@lru_cache(maxsize=64)
def _since_args(at: datetime | None) -> tuple[tuple[str, ...], str]:
    """The scripts' six arguments for "at or after ``at``" (UTC), and that day's ``D``.
    Cached: a period budget passes the same start with every reservation."""
    if at is None:
        return ("", "", "", "", "", ""), ""
    day = at.date()
    midnight = at.hour == at.minute == at.second == at.microsecond == 0
    mode = ("month" if day.day == 1 else "day") if midnight else "exact"
    month = day.year * 100 + day.month
    return (mode, str(month), str(month * 100 + 99), str(month * 100 + day.day),
            day.isoformat(), str((at - EPOCH) // MICRO)), day.isoformat()


@lru_cache(maxsize=64)
def _day_args(day: date) -> tuple[str, str, str, str]:
    """The commit script's ``M yyyymm D yyyymmdd`` for a record's UTC day."""
    month = day.year * 100 + day.month
    return (f"{day.year:04d}-{day.month:02d}", str(month), day.isoformat(),
            str(month * 100 + day.day))


_to_json = json.JSONEncoder(separators=(",", ":")).encode  # json.dumps builds one per call


def _record_text(record: SpendRecord) -> tuple[str, str, int]:
    """``_to_json(record_to_json(record))``, its ``usd`` and ``at_us``, the same text built
    directly: walking a fresh dict through json's encoder cost a third of costmodel's own
    time per commit. Strings are quoted by the encoder's own (C) quoting function."""
    at_us = (record.at - EPOCH) // MICRO
    usd = plain(record.usd)
    detail = _to_json(dict(record.detail)) if record.detail else "{}"
    return (f'{{"id":{_quote(record.id)},"session_id":{_quote(record.session_id)},'
            f'"scope":{_quote(record.scope)},"model":{_quote(record.model)},'
            f'"kind":{_quote(record.kind)},"usd":"{usd}","at_us":{at_us},"detail":{detail}}}',
            usd, at_us)


class RedisLedger(Ledger):
    """A ledger in one Redis database, shared by any number of threads and processes.

    ``url`` is a redis-py URL (``redis://[user:password@]host:port/db``, ``rediss://`` for
    TLS; query options such as ``?socket_timeout=1`` win over the defaults here). ``prefix``
    namespaces the keys. Commands are never retried automatically: a failure raises
    `LedgerError` naming the URL (password hidden) and the operation. Retrying `commit` with
    its reservation is safe (idempotent); retrying a bare `record` after a timeout may count
    it twice. Opening checks that the server answers.
    """

    def __init__(self, url: str, *, prefix: str = "costmodel", socket_timeout: float = 5.0,
                 connect_timeout: float = 2.0) -> None:
        self.url, self._shown, self._closed = url, mask_url(url), False
        self._p = "{" + prefix + "}:"
        self._key_lists: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
        self._limit: tuple[Decimal | None, str] = (None, "")
        try:
            self._key = ledger_key(url, prefix)
            self._r = redis.Redis.from_url(
                url, decode_responses=True, socket_timeout=socket_timeout,
                socket_connect_timeout=connect_timeout, retry=Retry(NoBackoff(), 0))
        except (ValueError, redis.RedisError) as exc:
            raise LedgerError(f"{type(exc).__name__}: {exc}", path=self._shown,
                              operation="open") from exc
        self._scripts = {name: self._r.register_script(src) for name, src in (
            ("reserve", lua.RESERVE), ("commit", lua.COMMIT), ("release", lua.RELEASE),
            ("spent", lua.SPENT), ("live", lua.LIVE))}
        with self._redis("open") as r:
            r.ping()
            pipe = r.pipeline(transaction=False)
            for script in self._scripts.values():
                pipe.script_load(script.script)
            for script, sha in zip(self._scripts.values(), pipe.execute(), strict=True):
                script.sha = sha

    @contextmanager
    def _redis(self, operation: str) -> Iterator[redis.Redis]:
        if self._closed:
            raise LedgerError("the ledger is closed", path=self._shown, operation=operation)
        try:
            yield self._r
        except redis.RedisError as exc:
            raise LedgerError(f"{type(exc).__name__}: {exc}", path=self._shown,
                              operation=operation) from exc

    def _run(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        # EVALSHA itself, not through `Script.__call__` and `_redis`: this is the hot path.
        if self._closed:
            raise LedgerError("the ledger is closed", path=self._shown, operation=name)
        script, r = self._scripts[name], self._r
        try:
            try:
                return r.evalsha(script.sha, len(keys), *keys, *args)
            except NoScriptError:   # a restarted (or flushed) server forgot the scripts
                script.sha = r.script_load(script.script)
                return r.evalsha(script.sha, len(keys), *keys, *args)
        except redis.RedisError as exc:
            raise LedgerError(f"{type(exc).__name__}: {exc}", path=self._shown,
                              operation=name) from exc

    def _keys(self, scope: str, day: str) -> tuple[list[str], list[str]]:
        """The reserve script's keys and the commit script's, for a scope and UTC day."""
        found = self._key_lists.get((scope, day))
        if found is None:
            if len(self._key_lists) >= 1024:   # scopes x days seen: bounded all the same
                self._key_lists.clear()
            p = self._p
            reserve = self._held_keys() + self._scope_keys(scope, day)
            found = self._key_lists[(scope, day)] = (reserve, reserve + [
                f"{p}seq", f"{p}rec", f"{p}log:{scope}", f"{p}paid", f"{p}scopes", f"{p}ids"])
        return found

    def _scope_keys(self, scope: str, day: str) -> list[str]:
        p = self._p
        return [f"{p}sums:{scope}", f"{p}months:{scope}", f"{p}days:{scope}",
                f"{p}dayrec:{scope}:{day}"]

    def _held_keys(self) -> list[str]:
        return [f"{self._p}held", f"{self._p}hold", f"{self._p}heldsum"]

    # -- writes -------------------------------------------------------------------------------
    def _reserve(self, hold: Reservation, now: float, limit: Decimal | None,
                 since: datetime | None) -> None:
        args, day = _since_args(since)
        last = self._limit   # read once: another thread may replace it
        if limit is None:
            limit_text = ""
        elif limit is last[0]:   # a budget's limit comes again with every reservation
            limit_text = last[1]
        else:
            limit_text = _plain(limit)
            self._limit = (limit, limit_text)
        out = self._run("reserve", self._keys(hold.scope, day)[0], [
            hold.id, hold.scope, _plain(hold.usd), repr(hold.expires_at), repr(now),
            limit_text, *args])
        if out[0] == "refused":
            assert limit is not None
            refuse(hold.scope, hold.usd, limit, Decimal(out[1]), Decimal(out[2]))
            raise LedgerError("the reservation script refused what the limit allows",
                              path=self._shown, operation="reserve")

    def _commit(self, reservation_id: str | None, record: SpendRecord) -> bool:
        day = _day_args(record.at.date())
        text, usd, at_us = _record_text(record)
        out = self._run("commit", self._keys(record.scope, day[2])[1], [
            reservation_id or "", record.scope, usd.removeprefix("-"), text, *day, str(at_us),
            record.id])
        if out[0] == "paid":
            earlier = self._decode(out[1])
            if not same_record(earlier, record):
                raise conflict(f"record {record.id} / reservation {reservation_id}",
                               self._shown, earlier)
            return False
        return True

    def _release(self, reservation_id: str) -> None:
        self._run("release", self._held_keys(), [reservation_id])

    # -- reads --------------------------------------------------------------------------------
    def _spent(self, scope: str | None, session_id: str | None, since: datetime | None,
               until: datetime | None) -> Decimal:
        if session_id is not None:
            return exact_sum(r.usd for r in self._select(scope, session_id)
                              if (since is None or r.at >= since)
                              and (until is None or r.at < until))
        if scope is None:     # every scope: each one exactly, not one snapshot of them all
            with self._redis("spent") as r:
                scopes = cast("set[str]", r.smembers(f"{self._p}scopes"))  # (decoded replies)
            return exact_sum(self._spent(s, None, since, until) for s in scopes)
        since_args, since_day = _since_args(since)
        until_args, until_day = _since_args(until)
        keys = self._scope_keys(scope, since_day) + [f"{self._p}dayrec:{scope}:{until_day}"]
        return tidy(Decimal(self._run("spent", keys, [*since_args, *until_args])))

    def _spent_by_day(self, scope: str | None, since: datetime | None,
                      until: datetime | None, sessions: bool) -> list[DaySpend]:
        """The day totals kept per scope have no model in them: this reads every record of
        the scope (or of all scopes), a thousand per round trip, streamed, not held."""
        return day_totals((r for r in self._select(scope, None)
                           if (since is None or r.at >= since) and (until is None or r.at < until)),
                          sessions)

    def _reserved(self, scope: str | None, now: float) -> Decimal:
        held = self._run("live", self._held_keys()[:2], [repr(now)])
        return exact_sum(Decimal(usd) for usd, _, s in (v.partition(" ") for v in held)
                          if scope is None or s == scope)

    @staticmethod
    def _decode(payload: str) -> SpendRecord:
        # Records stored before ids existed are named by their content.
        return record_from_json(json.loads(payload), default_id="redis-" + hashlib.sha256(
            payload.encode()).hexdigest()[:24])

    def _seqs(self, scope: str | None, last: int | None) -> list[str]:
        """Record numbers in commit order (the last ``last`` of them, if given)."""
        with self._redis("records") as r:
            if scope is not None:
                return cast("list[str]", r.lrange(f"{self._p}log:{scope}", -last if last else 0,
                                                  -1))
            n = int(r.get(f"{self._p}seq") or 0)
        return [str(i) for i in range(max(1, n - last + 1) if last else 1, n + 1)]

    def _select(self, scope: str | None, session_id: str | None,
                last: int | None = None) -> Iterator[SpendRecord]:
        seqs = self._seqs(scope, last)
        for i in range(0, len(seqs), 1000):
            with self._redis("records") as r:
                payloads = cast("list[str | None]", r.hmget(f"{self._p}rec", seqs[i:i + 1000]))
            for seq, payload in zip(seqs[i:i + 1000], payloads, strict=True):
                if payload is None:  # records are never deleted: a damaged store
                    raise LedgerError(f"record {seq} is listed but missing", path=self._shown,
                                      operation="records")
                record = self._decode(payload)
                if session_id is None or record.session_id == session_id:
                    yield record

    def _records(self, scope: str | None, session_id: str | None,
                 limit: int | None) -> list[SpendRecord]:
        found = list(self._select(scope, session_id, limit if session_id is None else None))
        return found if limit is None else found[-limit:]

    def _scopes(self, now: float) -> list[str]:
        with self._redis("scopes") as r:
            spent = cast("set[str]", r.smembers(f"{self._p}scopes"))
        live = self._run("live", self._held_keys()[:2], [repr(now)])
        return sorted(set(spent) | {v.partition(" ")[2] for v in live})

    @property
    def key(self) -> str:
        return self._key

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._r.close()

    def __repr__(self) -> str:
        return f"RedisLedger({self._shown!r})"
