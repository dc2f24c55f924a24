"""What the framework hooks share: building the guard, naming its session model, logging."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..core.catalog import Catalog
from ..errors import CostModelError, UsageError
from ..guard.policy import Decision
from ..guard.session import SessionGuard
from ..guard.spendlog import append_record, session_record

#: Catalog kinds whose responses shape the next one (the guard's "session model").
_SESSION_KINDS = frozenset({"llm", "realtime"})


def session_model(ids: Iterable[str], catalog: Catalog) -> str | None:
    """The one LLM / realtime model among catalog `ids` (None when there are none or several)."""
    found = set()
    for model_id in ids:
        try:
            entry = catalog.get(model_id)
        except CostModelError:
            continue
        if entry.kind in _SESSION_KINDS:
            found.add(entry.id)
    return found.pop() if len(found) == 1 else None


def build_guard(guard: SessionGuard | None, limit_usd: Decimal | str | float | None,
                llm_model: str | None, guard_kwargs: Mapping[str, Any],
                log: logging.Logger) -> SessionGuard:
    """`guard` itself, or a new one for `limit_usd` whose session model is `llm_model`."""
    if guard is not None:
        if limit_usd is not None or llm_model is not None or guard_kwargs:
            raise UsageError("pass either guard= or limit_usd= (with llm_model= and guard "
                             "options), not both")
        return guard
    if limit_usd is None:
        raise UsageError("pass guard= (a SessionGuard) or limit_usd=")
    if llm_model is None:
        log.warning("no LLM model known for the guard: it cannot project the next response, "
                    "so it cuts only once the spend has passed the limit; pass llm_model=")
    return SessionGuard(limit_usd, model=llm_model, **guard_kwargs)


def unpriced_decision(guard: SessionGuard, reason: str) -> Decision:
    """A cut for usage the hook could not price under a fail-closed policy."""
    last = guard.last
    return Decision("cut", guard.spent_usd, last.projected_next_usd, guard.limit_usd,
                    guard.responses, f"cannot meter this session: {reason}", guard.estimated,
                    last.pending)


def log_decision(log: logging.Logger, name: str, decision: Decision) -> None:
    level = {"ok": logging.INFO, "warn": logging.WARNING, "wrap_up": logging.WARNING,
             "cut": logging.ERROR}[decision.action]
    log.log(level, "%s: budget %s: spent $%s of $%s, next ~$%s%s", name, decision.action,
            decision.spent_usd, decision.limit_usd, decision.projected_next_usd,
            f" ({decision.reason})" if decision.reason else "")


class MeteredHook:
    """What the framework hooks share: feed priced usages to the guard, apply the
    ``on_unpriced`` policy to what cannot be priced, and log each change of decision.

    Subclasses set `name`, `guard` (attribute or property), `_last` and `_stop_words`.
    """

    name: str
    if TYPE_CHECKING:  # an attribute in one subclass, a property in another
        @property
        def guard(self) -> SessionGuard: ...

    _last: Decision | None = None
    _stop_words = "stopping"
    _log = logging.getLogger("costmodel.hooks")
    ended = False        # the hook cut the session
    spend_log: str | os.PathLike[str] | None = None
    _recorded = False

    @property
    def last(self) -> Decision:
        return self._last if self._last is not None else self.guard.last

    def _feed(self, usages: Iterable[Any]) -> Decision | None:
        """Observe each usage; the last decision (None when there was nothing to price)."""
        decision = None
        for usage in usages:
            try:
                decision = self.guard.observe(usage)
            except CostModelError as exc:
                return self._unpriced(str(exc))
            self._log.debug("%s: %s priced; spent $%s", self.name, usage.model,
                            decision.spent_usd)
        if decision is not None:
            self._note(decision)
        return decision

    def _unpriced(self, reason: str) -> Decision | None:
        if self.guard.on_unpriced == "fail_open":
            self._log.error("%s: CANNOT METER (fail_open, going on): %s", self.name, reason)
            return None
        self._log.error("%s: CANNOT METER (fail_closed, %s): %s", self.name, self._stop_words,
                        reason)
        decision = unpriced_decision(self.guard, reason)
        self._note(decision)
        return decision

    def _note(self, decision: Decision) -> None:
        if decision.action != self.last.action:
            log_decision(self._log, self.name, decision)
        self._last = decision

    def _finalize(self, end: str | None) -> Decision:
        """End the guard's accounting and append the session's spend-log line, once."""
        decision = self.guard.finalize()
        if self.spend_log is not None and not self._recorded:
            self._recorded = True
            append_record(self.spend_log, session_record(
                self.guard, end="cut" if self.ended else end or "ended"))
        return decision
