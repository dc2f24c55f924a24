"""Rate cards: which card prices a tenant on a day, and bad files named by file, line and key."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from costmodel.errors import InputError, RateCardError
from costmodel.resale import load_cards, parse_cards
from costmodel.resale.cards import describe

from .pilot import CARDS

VERSIONED = """\
plans:
  starter: {per_minute_usd: 0.12, included_minutes_per_month: 100}
  growth:
    - {per_minute_usd: 0.10, minimum_per_month_usd: 50}
    - {from: 2026-11-15, per_minute_usd: 0.09, minimum_per_month_usd: 50}
tenants:
  acme: {plan: starter}
  bob:
    plan: [{plan: starter}, {plan: growth, from: 2026-11-01}]
  carl: {card: {markup: 1.4}, until: 2026-11-20}
  dora: {card: [{per_call_usd: 0.5, from: 2026-11-10}]}
"""


def card_id(cards, tenant: str, day: str) -> str | None:
    card = cards.card_for(tenant, date.fromisoformat(day))
    return None if card is None else card.id


def test_a_plan_prices_its_tenants_and_a_tenant_without_a_card_has_none():
    cards = parse_cards(CARDS)
    acme = cards.card_for("acme", date(2026, 10, 1))
    assert (acme.id, acme.kind, acme.metric) == ("plan:starter", "per_minute", "minutes")
    assert acme.terms.per_minute_usd == Decimal("0.12")   # YAML's 0.12, as written
    assert acme.terms.included_minutes_per_month == 100
    globex = cards.card_for("globex", date(2026, 10, 1))
    assert (globex.id, globex.kind, globex.terms.markup) == ("tenant:globex", "markup",
                                                             Decimal("1.4"))
    assert cards.card_for("umbrella", date(2026, 10, 1)) is None
    assert cards.tenants == ["acme", "globex", "initech"]
    assert cards.tenant("acme").stripe_customer_id == "cus_acme"
    assert describe(cards.card_for("initech", date(2026, 10, 1))) == \
        "$0.25/call, min $20/month"


def test_versions_and_plan_changes_take_effect_on_their_from_day():
    cards = parse_cards(VERSIONED)
    assert card_id(cards, "acme", "2020-01-01") == "plan:starter"       # no from: always
    # bob: starter until Oct 31, growth's first version from Nov 1, its second from Nov 15
    assert [card_id(cards, "bob", d) for d in ("2026-10-31", "2026-11-01", "2026-11-14",
                                               "2026-11-15")] == [
        "plan:starter", "plan:growth", "plan:growth", "plan:growth@2026-11-15"]
    assert cards.card_for("bob", date(2026, 11, 15)).terms.per_minute_usd == Decimal("0.09")
    # carl is billed until Nov 20, included; dora from Nov 10
    assert card_id(cards, "carl", "2026-11-20") == "tenant:carl"
    assert card_id(cards, "carl", "2026-11-21") is None
    assert card_id(cards, "dora", "2026-11-09") is None
    assert card_id(cards, "dora", "2026-11-10") == "tenant:dora@2026-11-10"


def test_a_months_allowances_are_the_card_in_force_on_its_first_day():
    cards = parse_cards(VERSIONED)
    # growth's Nov 15 version prices from Nov 15; November's minimum is Nov 1's card's
    assert cards.month_card("bob", date(2026, 11, 20)).id == "plan:growth"
    assert cards.month_card("bob", date(2026, 12, 5)).id == "plan:growth@2026-11-15"
    # dora starts mid-month: her first card holds for that month
    assert cards.month_card("dora", date(2026, 11, 1)).id == "tenant:dora@2026-11-10"
    assert cards.month_card("dora", date(2026, 10, 1)) is None


BAD = [
    # (the file, the line, the key, words of the message)
    ("plans:\n  s:\n    per_minute_usd: -1\n", 3, "plans.s.per_minute_usd",
     "expected an amount in USD"),
    ("plans:\n  s:\n    per_minute: 0.1\n", 3, "plans.s.per_minute", "Extra inputs"),
    ("plans:\n  s: {per_minute_usd: 0.1,\n      per_call_usd: 1}\n", 2, "plans.s",
     "give exactly one of per_minute_usd, per_call_usd or markup"),
    ("plans:\n  pro:\n    per_call_usd: 0.5\n    included_minutes_per_month: 10\n", 3,
     "plans.pro", "included_minutes_per_month: only a per-minute card"),
    ("plans:\n  m:\n    markup: 1.2\n    minimum_per_call_usd: 0.1\n", 3, "plans.m",
     "minimum_per_call_usd: only a per-minute card"),
    ("plans:\n  s:\n    - per_minute_usd: 1\n    - per_minute_usd: 2\n", 3, "plans.s",
     "version 2 needs from"),
    ("plans:\n  x: {markup: 2}\ntenants:\n  a:\n    plan: [{plan: x},\n"
     "           {plan: nope, from: 2026-01-01}]\n", 6, "tenants.a.plan[1].plan",
     "no plan named 'nope' (plans: x)"),
    ("tenants:\n  a:\n    plan: nope\n", 3, "tenants.a.plan", "no plan named 'nope'"),
    ("tenants:\n  a:\n    stripe_customer_id: cus_1\n", 3, "tenants.a",
     "give plan: NAME or card"),
    ("tenants:\n  a:\n    card: {markup: 1.2, from: 2026-13-01}\n", 3, "tenants.a.card.from",
     "valid date"),
    ("currency: EUR\n", 1, "currency", "the ledger's money is USD"),
    ("tenants:\n  a: {card: {markup: 2}}\n  a: {card: {markup: 3}}\n", 3, "a",
     "duplicate key"),
    ("tenants: {a: {card: {markup: true}}}\n", 1, "tenants.a.card.markup", "got True"),
    ("plans:\n  s: [\n", 3, None, "invalid YAML"),
]


@pytest.mark.parametrize(("text", "line", "key", "words"), BAD)
def test_a_bad_cards_file_is_named_by_file_line_and_key(tmp_path, text, line, key, words):
    path = tmp_path / "cards.yaml"
    path.write_text(text)
    with pytest.raises(RateCardError) as caught:
        load_cards(path)
    exc = caught.value
    assert (exc.path, exc.line, exc.key) == (str(path), line, key)
    assert words in str(exc)
    assert str(exc).startswith(f"{path}:{line}: " + (f"{key}: " if key else ""))
    assert isinstance(exc, InputError)   # the command line's exit 2


def test_an_unreadable_cards_file_says_so(tmp_path):
    with pytest.raises(RateCardError, match="cannot read"):
        load_cards(tmp_path / "missing.yaml")
    with pytest.raises(RateCardError, match="a YAML mapping"):
        parse_cards("- 1\n- 2\n", "list.yaml")
    assert parse_cards("", "empty.yaml").tenants == []    # no tenants: every one is reported


def test_the_example_cards_load():
    from pathlib import Path

    cards = load_cards(Path(__file__).parents[2] / "examples" / "resale" / "rate-cards.yaml")
    assert cards.tenants == ["acme", "globex", "hooli", "initech"]
    assert card_id(cards, "globex", "2026-10-31") == "plan:starter"
    assert card_id(cards, "globex", "2026-12-01") == "plan:pro@2026-12-01"
    assert card_id(cards, "hooli", "2027-01-01") is None   # until 2026-12-31
