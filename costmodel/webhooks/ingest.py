"""End-of-call reports into the ledger: one `SpendRecord` per cost line, each exactly once.

A `CallReport` (Vapi's ``end-of-call-report``, Retell's ``call_ended`` / ``call_analyzed``)
becomes one record per cost line, in USD as the platform reported it (the bill), in the
call's tenant scope, at the time the call ended. A record's id is the platform, the call id,
the line's place in the report and its key: a report delivered twice (Vapi says to expect
duplicates; Retell sends its cost with ``call_ended`` and again with ``call_analyzed``)
is stored once. The first record pays the hold the admission made for the call; a report
without lines releases it.

The platform's own fee is also priced from the catalog (``vapi/platform``,
``retell/voice-infra``: per minute of the call's duration) and kept beside what the platform
reported, in the detail of its line (or of the first record, when the platform does not
say which line it is). A total beyond the lines is recorded as an ``unitemized`` line, so
the ledger holds the whole bill; a report with no cost at all is recorded as an
``estimate`` at the call's hold (never as $0). What the ledger cannot take goes to the
spool (`costmodel.ledger.Spool`) and reaches it when it answers again.

>>> from decimal import Decimal
>>> from costmodel.webhooks.report import CallReport, CostLine
>>> report = CallReport(platform="vapi", event="end-of-call-report", call_id="c-1",
...     lines=(CostLine("vapi", "vapi/platform", Decimal("0.05")),
...            CostLine("transport", "vapi/transport:twilio", Decimal("0.0085"))),
...     total_usd=Decimal("0.0585"), duration_seconds=Decimal(60),
...     platform_fee_id="vapi/platform", platform_line="vapi")
>>> fee = platform_fee(report)          # 1 minute at the catalog's $0.05/min
>>> fee.catalog_usd, fee.reported_usd
(Decimal('0.05'), Decimal('0.05'))
>>> for r in records_for(report, "acme", fee=fee):
...     print(r.id, r.model, r.usd)
vapi:c-1:0:vapi vapi/platform 0.05
vapi:c-1:1:transport vapi/transport:twilio 0.0085
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..errors import CostModelError, LedgerConflictError, LedgerError
from ..ledger import DEFAULT_SCOPE, Reservation, SpendRecord
from ..ledger.base import record_to_json
from ..money import exact_sum, plain
from .admission import Admission, Hold
from .report import CallReport

if TYPE_CHECKING:
    from ..core.catalog import Catalog

log = logging.getLogger("costmodel.webhooks")

KIND = "call-report"       # the records' kind: a line of a platform's end-of-call report


@dataclass(frozen=True, slots=True)
class PlatformFee:
    """The platform's own fee for one call: priced from the catalog (``catalog_usd``; None,
    with ``unknown_because``, when it cannot be) and as the platform reported it
    (``reported_usd``; None when the report has no line for it)."""

    catalog_id: str
    catalog_usd: Decimal | None
    reported_usd: Decimal | None
    unknown_because: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"catalog_id": self.catalog_id,
                "catalog_usd": None if self.catalog_usd is None else plain(self.catalog_usd),
                "reported_usd": None if self.reported_usd is None else plain(self.reported_usd),
                **({"unknown_because": self.unknown_because} if self.unknown_because else {})}


def platform_fee(report: CallReport, catalog: Catalog | None = None) -> PlatformFee | None:
    """The platform fee of `report`'s call: its duration priced under the catalog entry the
    platform names (`CallReport.platform_fee_id`) on the day the call started."""
    if report.platform_fee_id is None:
        return None
    from ..core import Usage, price

    mine = [line.usd for line in report.lines if line.key == report.platform_line]
    reported = exact_sum(mine) if mine else None
    if report.duration_seconds is None:
        return PlatformFee(report.platform_fee_id, None, reported,
                           "the report gives no call duration")
    when = report.started_at or report.ended_at or datetime.now(UTC)
    try:
        cost = price(Usage(report.platform_fee_id, connection_seconds=report.duration_seconds),
                     catalog, on=when.date())
    except CostModelError as exc:   # no entry, no price in force that day: unknown, not $0
        return PlatformFee(report.platform_fee_id, None, reported, str(exc))
    return PlatformFee(report.platform_fee_id, cost.total_usd, reported)


def _record_id(report: CallReport, n: int, key: str) -> str:
    rid = f"{report.platform}:{report.call_id}:{n}:{key}"
    if len(rid) <= 128:
        return rid
    return f"{report.platform}:sha256:{hashlib.sha256(rid.encode()).hexdigest()}"


def records_for(report: CallReport, scope: str, *, fee: PlatformFee | None = None,
                estimate_usd: Decimal | None = None) -> list[SpendRecord]:
    """The records of `report` in `scope` (see the module docstring). A report with no cost
    at all gives one ``estimate`` record at `estimate_usd`, or none without one."""
    at = report.ended_at
    if at is None and report.started_at is not None and report.duration_seconds is not None:
        at = report.started_at + timedelta(seconds=float(report.duration_seconds))
    # (a report that says neither is stamped when it arrives: a re-delivery then differs in
    # time only, and the first delivery's records are kept)
    at = at or report.started_at or datetime.now(UTC)
    # (not the event: Retell reports one call's cost with call_ended and call_analyzed alike)
    base = {"platform": report.platform, "call_id": report.call_id}
    call = {k: v for k, v in (
        ("reported_total_usd", None if report.total_usd is None else plain(report.total_usd)),
        ("duration_seconds", None if report.duration_seconds is None
         else plain(report.duration_seconds))) if v is not None}
    rows: list[tuple[str, str, Decimal, str, dict[str, Any]]] = [
        (line.key, line.model, line.usd, KIND, {**base, "line": line.key, **line.detail})
        for line in report.lines]
    if report.unitemized_usd:
        rows.append(("unitemized", f"{report.platform}/unitemized", report.unitemized_usd, KIND,
                     {**base, "line": "unitemized", "lines_usd": plain(report.lines_usd)}))
    if not rows and estimate_usd is not None:
        rows.append(("estimate", f"{report.platform}/call", estimate_usd, "estimate",
                     {**base, "line": "estimate", "why": "the report carries no cost: "
                      "recorded at the call's forecast"}))
    if rows:
        rows[0][4].update(call)
        at_fee = next((r for r in rows if r[0] == report.platform_line), rows[0])
        if fee is not None:
            at_fee[4]["platform_fee"] = fee.to_json()
    return [SpendRecord(id=_record_id(report, n, key), session_id=report.call_id, scope=scope,
                        model=model, usd=usd, at=at, kind=kind, detail=detail)
            for n, (key, model, usd, kind, detail) in enumerate(rows)]


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What one report did to the ledger: ``stored`` new records, ``already`` held ones (a
    re-delivery), ``spooled`` ones kept for later, ``conflicts`` ids held with a different
    amount (the first report wins; logged), ``unsaved`` ones neither could take."""

    call_id: str
    scope: str
    records: int
    stored: int = 0
    already: int = 0
    spooled: int = 0
    conflicts: int = 0
    unsaved: int = 0
    usd: Decimal = Decimal(0)
    reported_total_usd: Decimal | None = None
    platform_fee: PlatformFee | None = None
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"call_id": self.call_id, "scope": self.scope, "records": self.records,
                "stored": self.stored, "already": self.already, "spooled": self.spooled,
                "conflicts": self.conflicts, "unsaved": self.unsaved, "usd": plain(self.usd),
                "reported_total_usd": None if self.reported_total_usd is None
                else plain(self.reported_total_usd),
                "platform_fee": None if self.platform_fee is None
                else self.platform_fee.to_json(), "notes": list(self.notes)}


class Ingestor:
    """Records end-of-call reports in the admission's ledger (see the module docstring)."""

    def __init__(self, admission: Admission, catalog: Catalog | None = None) -> None:
        self.admission = admission
        self.catalog = catalog

    def _hold(self, report: CallReport) -> tuple[Hold | None, list[str]]:
        """The call's hold and tenant: the note it carries, else this process's hold for
        its id, else its tenant from the budgets (no hold)."""
        if report.hold is not None:
            self.admission.settle(report.call_id)
            return self.admission.hold_of(report.hold, report.call_id), []
        hold = self.admission.settle(report.call_id)
        if hold is not None:
            return hold, []
        tenant = self.admission.budgets.tenant_for(*report.numbers, agents=[report.agent_id])
        if tenant is not None:
            return Hold(tenant.name, None), []
        return None, [f"no tenant for this call (numbers {list(report.numbers)}, agent "
                      f"{report.agent_id!r}): recorded under {DEFAULT_SCOPE!r}"]

    def _estimate(self, hold: Hold | None) -> Decimal | None:
        if hold is not None and hold.reservation is not None:
            return hold.reservation.usd
        tenant = self.admission.budgets.tenant_named(hold.tenant) if hold is not None else None
        forecast = self.admission.forecast_for(tenant) if tenant is not None else None
        return forecast.p95_usd if forecast is not None else None

    def ingest(self, report: CallReport) -> IngestResult:
        """Record `report` (see the module docstring); never raises for a ledger outage."""
        hold, notes = self._hold(report)
        scope = hold.tenant if hold is not None else DEFAULT_SCOPE
        fee = platform_fee(report, self.catalog)
        records = records_for(report, scope, fee=fee,
                              estimate_usd=None if report.cost_known else self._estimate(hold))
        if not report.cost_known:
            notes.append("the report carries no cost: " + (
                "recorded at the call's forecast" if records else
                "nothing recorded (no forecast applies)"))
        if report.total_usd is not None and report.lines_usd > report.total_usd:
            notes.append(f"the lines add up to ${report.lines_usd}, more than the reported "
                         f"total ${report.total_usd}: the ledger holds the lines")
        held = hold.reservation if hold is not None else None
        counts = self._commit(records, held)
        if held is not None and not records:
            self._release(held)
        if counts["conflicts"]:
            notes.append("some lines were recorded before with other amounts: the first "
                         "report's are kept")
        return IngestResult(report.call_id, scope, len(records), counts["stored"],
                            counts["already"], counts["spooled"], counts["conflicts"],
                            counts["unsaved"], exact_sum(r.usd for r in records),
                            report.total_usd, fee, tuple(notes))

    def _commit(self, records: list[SpendRecord], held: Reservation | None) -> dict[str, int]:
        counts = dict.fromkeys(("stored", "already", "spooled", "conflicts", "unsaved"), 0)
        ledger, spool = self.admission.ledger, self.admission.spool
        for i, record in enumerate(records):
            pays = held if i == 0 else None
            try:
                counts["stored" if ledger.commit(pays, record) else "already"] += 1
                continue
            except LedgerConflictError as exc:
                counts["conflicts"] += 1
                log.error("call %s: %s", record.session_id, exc)
                continue
            except LedgerError as exc:
                log.error("call %s: LEDGER ERROR, spooling $%s: %s", record.session_id,
                          record.usd, exc)
            try:
                spool.append(record, pays)
                counts["spooled"] += 1
            except LedgerError as exc:
                counts["unsaved"] += 1
                log.critical("call %s: SPEND NOT SAVED: the ledger and the spool both failed "
                             "(%s): %s", record.session_id, exc,
                             json.dumps(record_to_json(record)))
        if counts["stored"] and spool.may_have_records():
            self.admission.flush_spool()   # the ledger answers again
        return counts

    def _release(self, held: Reservation) -> None:
        try:
            self.admission.ledger.release(held)
        except LedgerError as exc:   # it lapses anyway
            log.error("cannot release hold %s: %s", held.id, exc)
