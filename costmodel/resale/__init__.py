"""Resale: rate cards per tenant, margins per tenant and day, usage exported for billing.

- `load_cards` (`cards`): per-minute, per-call or cost x markup cards, per plan or tenant,
  with included minutes, minimums and effective dates, from YAML.
"""

from .cards import Card, RateCards, Terms, load_cards, parse_cards

__all__ = ["Card", "RateCards", "Terms", "load_cards", "parse_cards"]
