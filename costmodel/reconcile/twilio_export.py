"""Twilio Usage Records as CSV: the billed side for the telephony leg.

The Usage Records resource (https://www.twilio.com/docs/usage/api/usage-record) lists, per
usage ``category``, what an account used from ``start_date`` to ``end_date`` (GMT days):
``usage`` in ``usage_unit`` (billed minutes for calls), ``count`` in ``count_unit`` (calls)
and ``price`` in ``price_unit`` (the total price of the usage). The 2010 API returns any
resource as CSV with a header row when ``.csv`` is appended to its URL
(https://www.twilio.com/docs/usage/troubleshooting/data-types, "Alternate Representations"):
``GET /2010-04-01/Accounts/{AccountSid}/Usage/Records/Daily.csv`` gives one record per
category per day, which is what this reads. Header names are matched ignoring case, spaces,
dashes and underscores (``start_date`` and ``StartDate`` alike).

Categories nest (``calls`` is the sum of ``calls-inbound``, ``calls-outbound``...; ``totalprice``
the sum of everything), so only the leaf categories that a catalog model prices are taken
(`CATEGORIES`); every other category is left out, and the notes say how much that was.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from .._files import clip
from ..money import exact_sum, format_usd
from .exports import Export, ExportLine, ModelNames, Problems, csv_rows, decimal

SOURCE_URL = "https://www.twilio.com/docs/usage/api/usage-record"
#: Usage categories (https://www.twilio.com/docs/usage/api/usage-record#usage-categories)
#: -> the catalog entry that prices them (pricing/twilio.yaml: US list prices per leg).
CATEGORIES = {
    "calls-inbound-local": "twilio/us-inbound",
    "calls-inbound-tollfree": "twilio/us-toll-free-inbound",
    "calls-outbound": "twilio/us-outbound",
}


def read_twilio_csv(name: str, text: str, names: ModelNames) -> Export:
    """Daily usage records (one GMT day each): billed dollars per telephony model."""
    out = Export(name, "twilio-usage-records", SOURCE_URL, "twilio")
    problems = Problems(name)
    left_out: dict[str, list[Decimal]] = {}
    for lineno, row in csv_rows(text):
        category = (row.get("category") or "").strip().lower()
        try:
            start = _day(row, "startdate")
            end = _day(row, "enddate")
            usd = decimal(row.get("price") or "", "price")
        except ValueError as exc:
            problems.add(lineno, str(exc))
            continue
        if start != end:
            problems.add(lineno, f"covers {start} to {end}: export the daily records "
                         "(Usage/Records/Daily.csv), one day per record")
            continue
        unit = (row.get("priceunit") or "usd").strip().lower()
        if unit != "usd":
            problems.add(lineno, f"price_unit: {clip(repr(unit))}: only USD bills are compared")
            continue
        if not category:
            problems.add(lineno, "category: missing")
            continue
        out.covers.add((start, "twilio"))
        model = CATEGORIES.get(category)
        if model is None or names.resolve(model) is None:
            left_out.setdefault(category, []).append(usd)
            continue
        out.lines.append(ExportLine(start, model, usd, "billed", f"{name}:{lineno}"))
    problems.check()
    if left_out:
        totals = sorted(((exact_sum(v), k) for k, v in left_out.items()), reverse=True)
        shown = ", ".join(f"{k} {format_usd(v, 2)}" for v, k in totals[:8])
        out.notes.append(f"{name}: categories no catalog model prices (or totals of others), "
                         f"left out: {shown}{' ...' if len(totals) > 8 else ''}")
    return out


def _day(row: dict[str, str], key: str) -> date:
    text = (row.get(key) or "").strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        what = {"startdate": "start_date", "enddate": "end_date"}[key]
        raise ValueError(f"{what}: expected YYYY-MM-DD, got {clip(repr(text))}") from None
