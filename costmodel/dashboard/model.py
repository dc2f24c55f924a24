"""The dashboard's view model: what each view says about an estimate, as data and text.

>>> short_label("deepgram/nova-3+openai/gpt-5.4-mini+cartesia/sonic-3+twilio/us-inbound")
'nova-3 + gpt-5.4-mini + sonic-3 + us-inbound'
>>> colour_of("xai/grok-voice-agent") == colour_of("xai/grok-voice-agent")
True
>>> times(0.25), times(3.0), times(1.0)
('4.0× cheaper', '3.0× dearer', 'same cost')
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import zlib
from dataclasses import dataclass
from typing import Any

from ..core.catalog import Catalog
from ..errors import CostModelError
from ..estimation import Scenario, StackEstimate
from ..estimation.breakdown import COMPONENTS, per_minute
from ..money import format_usd_short

# 24 colours a reader can tell apart (Tableau 20 + 4 darker tones), stable per stack id.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#d62728", "#2ca02c", "#9467bd",
           "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#393b79", "#637939", "#8c6d31",
           "#843c39", "#7b4173", "#3182bd")


def short_label(stack: str) -> str:
    """A stack's ids without their providers: 'gpt-realtime-1.5', 'nova-3 + gpt-5.4-mini'."""
    return " + ".join(part.split("/", 1)[-1] for part in stack.split("+"))


def colour_of(stack: str) -> str:
    """The stack's colour, the same in every view and scenario (a hash of its id)."""
    digest = hashlib.sha256(stack.encode()).digest()
    return PALETTE[int.from_bytes(digest[:4], "big") % len(PALETTE)]


# Colours given so far in this process (a Streamlit server's lifetime), so a stack keeps the
# one it first got in every view and scenario, even when another stack shares its hash colour.
_GIVEN: dict[str, str] = {}
_GIVEN_LOCK = threading.Lock()
_GIVEN_MAX = 10_000   # stack ids come from users' scenarios: bounded all the same


def colours(stacks: list[str]) -> dict[str, str]:
    """A colour per stack, never two alike in one view (up to 24 stacks): the colour the
    stack was first given, else `colour_of`; when that is taken in this view, the next one
    free here, preferring one no other stack has been given. So a stack keeps its colour
    across views and scenarios, unless it is shown beside a stack that was given the same
    one elsewhere first."""
    with _GIVEN_LOCK:
        if len(_GIVEN) > _GIVEN_MAX:
            _GIVEN.clear()
        out: dict[str, str] = {}
        given = set(_GIVEN.values())
        for s in sorted(stacks, key=lambda s: (s not in _GIVEN, s)):
            want = _GIVEN.get(s) or colour_of(s)
            if want in out.values():
                start = PALETTE.index(want)
                free = [c for c in (PALETTE[(start + k) % len(PALETTE)]
                                    for k in range(len(PALETTE))) if c not in out.values()]
                fresh = [c for c in free if c not in given]
                want = (fresh or free or [want])[0]
            out[s] = want
            if s not in _GIVEN:
                _GIVEN[s] = want
                given.add(want)
        return {s: out[s] for s in stacks}


def times(ratio: float) -> str:
    """How a cost compares with a baseline's, in words."""
    if abs(ratio - 1) < 0.005:
        return "same cost"
    return f"{1 / ratio:.1f}× cheaper" if ratio < 1 else f"{ratio:.1f}× dearer"


def badges(result: StackEstimate) -> list[str]:
    """The caveats a result depends on, as short badges (the notes say them in full)."""
    out = []
    for note in result.notes:
        if "session limit" in note:
            share = note.split(": ", 1)[-1].split(" of calls", 1)[0]
            out.append(f"⚠ {share} of calls pass its session limit")
        elif "unconfirmed" in note:
            out.append("⚠ unconfirmed catalog facts")
        elif "promotional" in note or "promotion" in note:
            out.append("⏳ promotional price")
        elif "shut down" in note or "deprecated" in note or "legacy" in note:
            out.append("⚠ model retired or retiring")
    return list(dict.fromkeys(out))


@dataclass(frozen=True)
class Headline:
    cheapest: str
    monthly_usd: float
    per_minute_usd: float
    spread: str          # "$3,680 to $210,090 a month (57×)"
    baseline: str
    versus_baseline: str  # "17.6× cheaper than gpt-realtime-1.5"
    badges: list[str]

    def text(self) -> str:
        return (f"Cheapest: {short_label(self.cheapest)} at "
                f"{format_usd_short(self.monthly_usd)}/month "
                f"({format_usd_short(self.per_minute_usd)}/min), {self.versus_baseline}")


def headline(results: list[StackEstimate], baseline: str | None = None) -> Headline:
    """The cheapest stack, its cost, the spread, and how it compares with `baseline`
    (default: the dearest stack)."""
    ranked = sorted(results, key=lambda r: r.monthly_usd)
    best, worst = ranked[0], ranked[-1]
    base = next((r for r in ranked if r.stack == baseline), worst)
    spread = (f"{format_usd_short(best.monthly_usd)} to {format_usd_short(worst.monthly_usd)} "
              f"a month across {len(ranked)} stacks")
    if worst.monthly_usd > 0 and len(ranked) > 1:
        spread += f" ({worst.monthly_usd / max(best.monthly_usd, 1e-12):,.1f}×)"
    versus = ("it is your baseline" if base.stack == best.stack else
              f"{times(best.monthly_usd / base.monthly_usd)} than {short_label(base.stack)}")
    return Headline(best.stack, best.monthly_usd, best.per_minute_usd, spread, base.stack,
                    versus, badges(best))


def results_rows(results: list[StackEstimate], catalog: Catalog | None,
                 calls_per_month: float) -> list[dict[str, Any]]:
    """One row per stack, cheapest first, with human headers: the results table and CSV."""
    ranked = sorted(results, key=lambda r: r.monthly_usd)
    cheapest = ranked[0].monthly_usd
    rows = []
    for r in ranked:
        row: dict[str, Any] = {
            "Stack": short_label(r.stack), "Stack id": r.stack,
            "Monthly (USD)": r.monthly_usd, "× cheapest": r.monthly_usd / cheapest
            if cheapest > 0 else float("nan"),
            "$/min": r.per_minute_usd, "Mean per call": r.per_call_usd["mean"],
            "p50 per call": r.per_call_usd["p50"], "p95 per call": r.per_call_usd["p95"],
            "p99 per call": r.per_call_usd["p99"],
            "Month P5 (USD)": r.monthly_band_usd[0], "Month P95 (USD)": r.monthly_band_usd[1],
            "Mean call (min)": r.mean_minutes, "Caveats": " · ".join(badges(r))}
        rows.append(row)
    return rows


def breakdown_rows(results: list[StackEstimate], catalog: Catalog | None,
                   calls_per_month: float) -> list[dict[str, Any]]:
    """$/min per stack by component (`COMPONENTS`), cheapest first; zero where not billed."""
    out = []
    for r in sorted(results, key=lambda r: r.monthly_usd):
        split = per_minute(r, catalog, calls_per_month=calls_per_month)
        out.append({"Stack": short_label(r.stack), "Stack id": r.stack,
                    **{c: split.get(c, 0.0) for c in COMPONENTS},
                    "Total $/min": r.per_minute_usd})
    return out


def scenario_inputs(sc: Scenario) -> dict[str, Any]:
    """The scenario's inputs as flat 'input: key' columns (for the CSV)."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        elif prefix not in ("stacks", "assumptions", "description"):
            flat[f"input: {prefix}"] = value
    walk("", sc.model_dump(mode="json", exclude_none=True))
    return flat


def export_rows(sc: Scenario, results: list[StackEstimate], catalog: Catalog | None,
                calls_per_month: float) -> list[dict[str, Any]]:
    """The CSV: per stack its figures, $/min by component and line items (USD/month),
    with the scenario's inputs repeated on every row."""
    inputs = scenario_inputs(sc)
    split = {r["Stack id"]: r for r in breakdown_rows(results, catalog, calls_per_month)}
    rows = []
    for row, r in zip(results_rows(results, catalog, calls_per_month),
                      sorted(results, key=lambda r: r.monthly_usd), strict=True):
        comp = {f"$/min {c}": split[r.stack][c] for c in COMPONENTS}
        items = {f"line item: {name} (USD/month)": usd for name, usd in r.line_items}
        rows.append({**row, **comp, **items, **inputs})
    return rows


# ---- the scenario in the URL --------------------------------------------------------------

def to_query(sc: Scenario, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Query parameters that reproduce the view: the scenario (compressed JSON) and `extra`
    (view, baseline ...)."""
    data = json.dumps(sc.model_dump(mode="json", exclude_none=True), separators=(",", ":"))
    packed = base64.urlsafe_b64encode(zlib.compress(data.encode(), 9)).decode().rstrip("=")
    return {"s": packed, **(extra or {})}


def from_query(packed: str) -> Scenario:
    """The scenario of a `to_query` link; `CostModelError` when it cannot be read."""
    try:
        raw = zlib.decompress(base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4)),
                              bufsize=1 << 16)
        if len(raw) > 1 << 20:
            raise ValueError("too large")
        return Scenario.model_validate_json(raw)
    except Exception as exc:  # anything in a link is user input
        raise CostModelError("the link's scenario cannot be read; showing the example "
                             "instead") from exc
