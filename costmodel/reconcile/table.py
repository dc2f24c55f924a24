"""The reconciliation table: recorded, billed and estimated spend per UTC day and model, how
far apart they are, and which rows are over the threshold or the tolerance.

Two pairs are compared, each against the **recorded** spend (the guard's ledger or spend
log), and percentages are of the recorded amount:

- **recorded vs billed**: what the provider billed (a Costs export, a Twilio or generic
  bill) or, without a bill, the usage it reported priced with the catalog. A day an export
  covers with nothing for a model is billed $0 there; a day no export covers is unknown and
  not compared.
- **recorded vs estimate**: the plan's cost for the calls recorded that day
  (`costmodel.reconcile.plan`). Calls vary in length, so this pair is only over a limit when
  the recorded spend is also outside the plan's 95% range for that many calls.

A difference smaller than ``min_usd`` (default one cent) is never over a limit: rounding on a
bill is not a discrepancy. A row recorded at $0 with spend on the other side is over every
limit (its percentage is undefined, shown as such).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from ..money import exact_sum, tidy
from .exports import Export, ExportLine
from .recorded import Recorded, RecordedDay
from .window import EVERY_DAY, Window

if TYPE_CHECKING:
    from .plan import Plan  # (numpy and the estimator: loaded only with a plan)

_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class Gap:
    """Another figure less the recorded spend: ``usd``, and ``pct`` of the recorded spend
    (None when nothing was recorded).

    >>> gap(Decimal("10"), Decimal("10.60"))
    Gap(usd=Decimal('0.6'), pct=Decimal('6'))
    """

    usd: Decimal
    pct: Decimal | None

    def over(self, limit_pct: Decimal, min_usd: Decimal) -> bool:
        """Whether the difference passes ``limit_pct`` percent (and is at least ``min_usd``)."""
        if abs(self.usd) < min_usd or self.usd == 0:
            return False
        return self.pct is None or abs(self.pct) > limit_pct


def gap(recorded: Decimal, other: Decimal) -> Gap:
    diff = tidy(other - recorded)
    if recorded == 0:
        return Gap(diff, Decimal(0) if diff == 0 else None)
    return Gap(diff, tidy(diff * _HUNDRED / recorded))


@dataclass(frozen=True)
class Row:
    """One UTC day and model. ``recorded_usd`` is None without a recorded source,
    ``billed_usd`` when no export covers the day (or one could not be priced: a note says
    why), ``estimated_usd`` without a plan for the model or calls to multiply.
    ``billed_basis`` is ``billed`` (the provider's dollars) or ``priced`` (its usage, priced
    by costmodel). ``flagged``/``failed`` list the pairs (``billed``, ``estimate``) over the
    threshold / the tolerance."""

    day: date
    model: str
    recorded_usd: Decimal | None
    calls: int | None
    billed_usd: Decimal | None
    billed_basis: str
    estimated_usd: Decimal | None
    band: tuple[Decimal, Decimal] | None
    vs_billed: Gap | None
    vs_estimate: Gap | None
    flagged: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Totals:
    """Sums over the rows; each gap over the rows where both sides are known."""

    recorded_usd: Decimal | None
    billed_usd: Decimal | None
    estimated_usd: Decimal | None
    vs_billed: Gap | None
    vs_estimate: Gap | None


@dataclass
class Reconciliation:
    """Rows sorted by day and model, totals, the limits used, and what was read."""

    window: Window
    rows: list[Row]
    totals: Totals
    tolerance_pct: Decimal
    threshold_pct: Decimal
    min_usd: Decimal
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def by_model(self) -> dict[str, tuple[list[Row], Totals]]:
        """Each model's rows (by day) and their totals, models in order."""
        models: dict[str, list[Row]] = {}
        for row in self.rows:
            models.setdefault(row.model, []).append(row)
        return {m: (rows, _totals(rows)) for m, rows in sorted(models.items())}

    @property
    def failed(self) -> list[Row]:
        """The rows with a difference over the tolerance (the command exits 1 if any)."""
        return [r for r in self.rows if r.failed]


def _billed(lines: list[ExportLine]) -> tuple[Decimal | None, str, list[str]]:
    """A day and model's billed amount: the bills if any, else the priced usage."""
    bills = [ln for ln in lines if ln.basis == "billed"]
    chosen = bills or lines
    basis = "billed" if bills else "priced"
    notes = [f"{ln.where}: {ln.note}" for ln in chosen if ln.note]
    if bills and len(bills) < len(lines):
        notes.append("usage priced by costmodel was given too: the bill is compared")
    unknown = [ln for ln in chosen if ln.usd is None]
    if unknown:
        return None, basis, notes
    return exact_sum(ln.usd for ln in chosen if ln.usd is not None), basis, notes


def _provider(model: str) -> str:
    head, sep, _ = model.partition("/")
    return head if sep else ""


def reconcile(recorded: Recorded | None, exports: Sequence[Export] = (), plan: Plan | None = None,
              *, window: Window = EVERY_DAY, tolerance_pct: Decimal = Decimal(5),
              threshold_pct: Decimal = Decimal(5), min_usd: Decimal = Decimal("0.01")
              ) -> Reconciliation:
    """Line up recorded, billed and estimated spend per UTC day and model (module doc).

    >>> from costmodel.reconcile.recorded import RecordedDay
    >>> day = date(2026, 11, 29)
    >>> rec = Recorded("ledger", [RecordedDay(day, "openai/gpt-realtime-1.5", Decimal("10"), 40)])
    >>> bill = Export("costs.json", "openai-costs", "", "openai", covers={(day, "openai")},
    ...     lines=[ExportLine(day, "openai/gpt-realtime-1.5", Decimal("10.60"), "billed", "x:3")])
    >>> r = reconcile(rec, [bill])
    >>> row = r.rows[0]
    >>> row.vs_billed.usd, row.vs_billed.pct, row.failed       # +6% > the 5% tolerance
    (Decimal('0.6'), Decimal('6'), ('billed',))
    """
    by_key: dict[tuple[date, str], list[ExportLine]] = {}
    covered: dict[tuple[date, str], str] = {}
    for ex in exports:
        bill = any(ln.basis == "billed" for ln in ex.lines) or "usage" not in ex.kind
        for day, provider in ex.covers:
            if day in window and covered.get((day, provider)) != "billed":
                covered[(day, provider)] = "billed" if bill else "priced"
        for line in ex.lines:
            if line.day in window:
                by_key.setdefault((line.day, line.model), []).append(line)
    recorded_by = {(d.day, d.model): d for d in (recorded.days if recorded else ())
                   if d.day in window}
    rows = [_row(day, model, recorded, recorded_by.get((day, model)), by_key.get((day, model)),
                 covered.get((day, _provider(model))), plan, tolerance_pct, threshold_pct,
                 min_usd)
            for day, model in sorted(recorded_by.keys() | by_key.keys())]
    out = Reconciliation(window, rows, _totals(rows), tolerance_pct, threshold_pct, min_usd)
    out.sources = ([recorded.source] if recorded else []) + [
        f"{ex.kind} {ex.path}" for ex in exports] + ([f"plan {plan.name}"] if plan else [])
    out.notes = [*(recorded.notes if recorded else []), *(n for ex in exports for n in ex.notes)]
    if plan is not None:
        out.notes += list(plan.notes)
        unplanned = sorted({r.model for r in rows if r.recorded_usd and plan.stack_for(r.model)
                            is None})
        if unplanned:
            out.notes.append(f"no stack of {plan.name} uses {', '.join(unplanned)}: not "
                             "estimated")
    return out


def _row(day: date, model: str, recorded: Recorded | None, rec: RecordedDay | None,
         lines: list[ExportLine] | None,
         covered: str | None, plan: Plan | None, tolerance: Decimal, threshold: Decimal,
         min_usd: Decimal) -> Row:
    recorded_usd = None if recorded is None else (rec.usd if rec else Decimal(0))
    calls = rec.calls if rec else (0 if recorded is not None else None)
    notes: list[str] = []
    if lines:
        billed, basis, notes = _billed(lines)
    elif covered:
        billed, basis = Decimal(0), covered
    else:
        billed, basis = None, ""
    estimated = band = None
    cost = plan.cost(model, day) if plan is not None and calls is not None else None
    if cost is not None and calls is not None:
        estimated, band = cost.usd(calls), cost.band(calls)
    vs_billed = gap(recorded_usd, billed) if recorded_usd is not None and billed is not None \
        else None
    vs_estimate = gap(recorded_usd, estimated) if recorded_usd is not None \
        and estimated is not None else None
    outside = band is not None and recorded_usd is not None and not (
        band[0] <= recorded_usd <= band[1])
    flagged, failed = [], []
    for name, g, extra in (("billed", vs_billed, True), ("estimate", vs_estimate, outside)):
        if g is not None and extra:
            if g.over(threshold, min_usd):
                flagged.append(name)
            if g.over(tolerance, min_usd):
                failed.append(name)
    return Row(day, model, recorded_usd, calls, billed, basis, estimated, band, vs_billed,
               vs_estimate, tuple(flagged), tuple(failed), tuple(notes))


def _totals(rows: list[Row]) -> Totals:
    def total(values: list[Decimal | None]) -> Decimal | None:
        known = [v for v in values if v is not None]
        return exact_sum(known) if known else None

    def pair(attr: str) -> Gap | None:
        both = [r for r in rows if r.recorded_usd is not None and getattr(r, attr) is not None]
        if not both:
            return None
        return gap(exact_sum(r.recorded_usd for r in both if r.recorded_usd is not None),
                   exact_sum(getattr(r, attr) for r in both))

    return Totals(total([r.recorded_usd for r in rows]), total([r.billed_usd for r in rows]),
                  total([r.estimated_usd for r in rows]), pair("billed_usd"),
                  pair("estimated_usd"))


def default_window(exports: Sequence[Export]) -> Window:
    """The days the exports cover (first to last), or every day when there are none: what
    a reconciliation without ``--since``/``--until`` looks at."""
    days = [day for ex in exports for day, _ in ex.covers]
    return Window(min(days), max(days)) if days else EVERY_DAY


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _pct(g: Gap | None) -> float | None:
    return None if g is None or g.pct is None else round(float(g.pct), 6)


def _gap_json(g: Gap | None) -> dict[str, object] | None:
    return None if g is None else {"usd": _money(g.usd), "pct": _pct(g)}


def to_json(result: Reconciliation) -> dict[str, object]:
    """The reconciliation as JSON-ready data: money as exact decimal strings, percentages
    (of the recorded spend) as numbers; None where a figure is unknown."""
    t = result.totals
    return {
        "since": result.window.since.isoformat() if result.window.since else None,
        "until": result.window.until.isoformat() if result.window.until else None,
        "compared": ["recorded vs billed", "recorded vs estimate"],
        "tolerance_pct": float(result.tolerance_pct), "threshold_pct": float(result.threshold_pct),
        "min_usd": _money(result.min_usd), "sources": result.sources,
        "rows": [{"day": r.day.isoformat(), "model": r.model, "calls": r.calls,
                  "recorded_usd": _money(r.recorded_usd), "billed_usd": _money(r.billed_usd),
                  "billed_basis": r.billed_basis or None,
                  "estimated_usd": _money(r.estimated_usd),
                  "estimate_band_usd": None if r.band is None else [_money(v) for v in r.band],
                  "vs_billed": _gap_json(r.vs_billed), "vs_estimate": _gap_json(r.vs_estimate),
                  "over_threshold": list(r.flagged), "over_tolerance": list(r.failed),
                  "notes": list(r.notes)} for r in result.rows],
        "totals": {"recorded_usd": _money(t.recorded_usd), "billed_usd": _money(t.billed_usd),
                   "estimated_usd": _money(t.estimated_usd),
                   "vs_billed": _gap_json(t.vs_billed), "vs_estimate": _gap_json(t.vs_estimate)},
        "rows_over_tolerance": len(result.failed),
        "notes": result.notes,
    }
