"""Each tenant's daily usage as billing events, one JSON object a line: Stripe meter events,
OpenMeter CloudEvents or Lago events.

One event per tenant, UTC day and metric: the metric its card prices by (`Card.metric`:
``minutes`` for a per-minute card, each call counted in the card's whole increments when it
has one; ``calls`` per call; ``cost_usd`` for cost x markup), named as the cards file's
``meters:`` say. The billing system prices the usage (its own included minutes, minimums and
markup: a per-call minimum is not in a day's minutes); the events carry the quantity, as a
decimal string rounded half-even to 6 places (minutes to 60 µs, dollars to the
micro-dollar; Stripe takes at most 15 significant digits). A day with nothing to bill (0)
has no event.

Every event carries the same deterministic key, `usage_key` (tenant, day, metric, card): a
re-export of the same days writes the same keys, so the billing system takes each once. Its
time is the day's first instant (UTC), deterministic too (Lago deduplicates on the key
together with the timestamp). A day is exported once it is over: an event for a day still
running would be dropped, as a duplicate, when the whole day is exported later.

The shapes, and what each system deduplicates on:

- **Stripe** (``POST /v1/billing/meter_events``; one line = its parameters): ``event_name``,
  ``payload`` (``stripe_customer_id``, ``value``: the meter's default payload keys),
  ``identifier`` (the key; Stripe enforces its uniqueness for at least 24 hours, so days
  exported twice a day apart are counted twice: export each day once), ``timestamp`` (unix
  seconds; within the past 35 days: older days are not exported).
  https://docs.stripe.com/api/billing/meter-event/create,
  https://docs.stripe.com/billing/subscriptions/usage-based/recording-usage-api
- **OpenMeter** (``POST /api/v1/events``, ``application/cloudevents+json``): a CloudEvents 1.0
  event: ``specversion``, ``id`` (the key), ``source`` (the file's ``event_source``),
  ``type`` (the meter's event type), ``subject`` (``openmeter_subject``, else the tenant),
  ``time`` (RFC 3339), ``data`` (``{metric: value}``, for a meter's ``$.minutes`` JSONPath).
  OpenMeter deduplicates on (namespace, source, id).
  https://openmeter.io/docs/concepts/usage-events,
  https://github.com/openmeterio/openmeter/blob/main/openmeter/dedupe/dedupe.go
- **Lago** (``POST /api/v1/events``: send ``{"event": line}``; or up to 100 lines as
  ``{"events": [...]}`` to ``/api/v1/events/batch``): ``transaction_id`` (the key),
  ``external_subscription_id`` (and ``external_customer_id`` when the file gives it),
  ``code`` (the billable metric's), ``timestamp`` (unix seconds), ``properties``
  (``{metric: value}``). https://getlago.com/docs/api-reference/events/usage,
  https://getlago.com/docs/api-reference/events/event-object; deduplication on
  transaction_id and timestamp: https://github.com/getlago/lago-api/pull/4437

>>> usage_key("acme", date(2026, 11, 25), "minutes", "plan:starter")
'cm_1df461f5c657b2a8cbb9fc3f1f165642'
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal, TextIO

from ..errors import UsageError
from ..money import exact_sum
from .cards import Card, Metric, RateCards
from .usage import MeteredUsage, TenantDay

Target = Literal["stripe", "openmeter", "lago"]
TARGETS: tuple[Target, ...] = ("stripe", "openmeter", "lago")
STRIPE_MAX_AGE_DAYS = 35   # Stripe takes meter events of the past 35 calendar days
_PLACES = Decimal("0.000001")
_SIXTY = Decimal(60)


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """One tenant's day of one metric: its exact ``value`` (before rounding for the
    event), the card that prices it, its idempotency ``key`` and the event's JSON ``body``."""

    tenant: str
    day: date
    metric: Metric
    value: Decimal
    card: str
    key: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Skipped:
    """A tenant's day with usage that no event carries, and why."""

    tenant: str
    day: date
    reason: str


@dataclass
class UsageExport:
    """The events for one billing system, and the days with usage left out (and why)."""

    target: Target
    events: list[UsageEvent] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def write(self, out: TextIO) -> int:
        """Write the events as JSON lines; return how many."""
        for e in self.events:
            out.write(json.dumps(e.body, separators=(",", ":")) + "\n")
        return len(self.events)


def usage_key(tenant: str, day: date, metric: str, card: str) -> str:
    """The idempotency key of a tenant's day of a metric under a card: 128 bits of
    SHA-256 over the four (unambiguously joined), so the same usage always has the same key
    and any other usage another. The card is named by its id (plan and version, never its
    prices): a price corrected in the file keeps the keys of the days already exported."""
    text = "\x1f".join(("costmodel-usage-v1", tenant, day.isoformat(), metric, card))
    return "cm_" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _value(day: TenantDay, card: Card) -> Decimal | None:
    if card.metric == "calls":
        return Decimal(day.calls)
    if card.metric == "cost_usd":
        return day.cost_usd
    if day.call_seconds is None:
        return None
    # (as the card counts them: each call in whole increments, when it has one)
    return exact_sum(card.terms.billed_seconds(s) for s in day.call_seconds) / _SIXTY


def _text(value: Decimal) -> str:
    return format(value.quantize(_PLACES, rounding=ROUND_HALF_EVEN).normalize(), "f")


def _body(target: Target, cards: RateCards, day: TenantDay, card: Card, value: str,
          key: str, customer: str, subscription_customer: str | None) -> dict[str, Any]:
    name = getattr(cards.meters, card.metric)
    midnight = datetime.combine(day.day, time(), UTC)
    if target == "stripe":
        return {"event_name": name,
                "payload": {"stripe_customer_id": customer, "value": value},
                "identifier": key, "timestamp": int(midnight.timestamp())}
    if target == "openmeter":
        return {"specversion": "1.0", "id": key, "source": cards.event_source, "type": name,
                "subject": customer, "time": midnight.isoformat().replace("+00:00", "Z"),
                "data": {card.metric: value}}
    body: dict[str, Any] = {"transaction_id": key, "external_subscription_id": customer}
    if subscription_customer:
        body["external_customer_id"] = subscription_customer
    body.update(code=name, timestamp=int(midnight.timestamp()),
                properties={card.metric: value})
    return body


def _customer(target: Target, cards: RateCards, tenant: str) -> tuple[str | None, str | None]:
    """(the id the target bills, Lago's customer id too) from the cards file."""
    entry = cards.tenant(tenant)
    if entry is None:
        return None, None
    if target == "stripe":
        return entry.stripe_customer_id, None
    if target == "openmeter":
        return entry.openmeter_subject or tenant, None
    return entry.lago_external_subscription_id, entry.lago_external_customer_id


_ID_KEY = {"stripe": "stripe_customer_id", "lago": "lago_external_subscription_id"}


def export_usage(usage: MeteredUsage, cards: RateCards, target: Target, *,
                 today: date | None = None) -> UsageExport:
    """The billing events of ``usage``'s days in its window that are over (before
    ``today``, UTC), for ``target`` (see the module doc). Days that cannot be exported are
    in `UsageExport.skipped` with why: no card, no id for the target in the cards file, no
    minutes for a per-minute card, or (Stripe) too old."""
    if target not in TARGETS:
        raise UsageError(f"target must be one of {', '.join(TARGETS)}, not {target!r}")
    today = today or datetime.now(UTC).date()
    out = UsageExport(target)
    for day in usage.days:
        if not day.in_window or day.day >= today:
            continue
        reason = None
        card = cards.card_for(day.tenant, day.day)
        customer, also = _customer(target, cards, day.tenant)
        value = None if card is None else _value(day, card)
        if card is None:
            reason = "no rate card"
        elif value is None:
            reason = f"a per-minute card: {day.minutes_note or 'no call minutes'}"
        elif customer is None:
            reason = f"no {_ID_KEY[target]} in the cards file"
        elif target == "stripe" and (today - day.day).days >= STRIPE_MAX_AGE_DAYS:
            reason = f"older than Stripe's {STRIPE_MAX_AGE_DAYS} days for meter events"
        if reason is not None:
            if day.cost_usd or day.calls:
                out.skipped.append(Skipped(day.tenant, day.day, reason))
            continue
        assert card is not None and value is not None and customer is not None
        text = _text(value)
        if text == "0":
            continue
        key = usage_key(day.tenant, day.day, card.metric, card.id)
        out.events.append(UsageEvent(day.tenant, day.day, card.metric, value, card.id, key,
                                     _body(target, cards, day, card, text, key, customer,
                                           also)))
    return out
