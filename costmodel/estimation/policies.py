"""The scenario's policies in the estimate: what the budget guard does to calls, priced.

A scenario's ``policies:`` block says what a guarded call looks like, so an estimate shows
what the guard saves a month (the relay's own settings, `costmodel.guard.ladder` and
`costmodel.guard.idle`, in the estimator's terms)::

    policies:
      max_call_minutes: 20                    # calls end there (guard serve --max-call-minutes)
      ladder:                                 # past a call's realtime spend, from that answer on
        - {at_usd: 0.50, max_output_tokens: 300}
        - {at_usd: 0.80, retention_ratio: 0.5}

* ``max_call_minutes`` cuts the sampled call lengths (`costmodel.estimation.monthly`
  ``sample_seconds``): every figure, capacity and fleet sizing included, counts the shorter
  calls;
* each ``ladder`` step applies from the answer at which the call's spend on its realtime
  model reaches ``at_usd`` (the guard takes a step before the response that would reach its
  threshold): replies cut at ``max_output_tokens`` (text and audio in proportion), or
  truncation keeping ``retention_ratio`` of the model's threshold (the scenario's own
  ``truncation`` rule). Answers before it are priced as they were, and what follows from
  the history as it then stands (`costmodel.estimation.replies.ReplyChange`). The ladder
  applies to a realtime model billed by tokens; a stack without one is noted, unchanged.

`costmodel.estimation.estimate` prices a scenario with policies twice, with and without them,
on the same sampled calls' seeds, and notes on each stack what they save a month
(`StackEstimate.policy_saving_monthly_usd`).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from ..core.catalog import Catalog
from ..core.pricing import price
from ..core.usage import Usage
from .replies import ReplyChange
from .scenario import Policies, PolicyStep, Scenario
from .simulate import StackModel, with_reply_changes

if TYPE_CHECKING:
    from .monthly import StackEstimate


def in_force(sc: Scenario) -> bool:
    """Whether the scenario sets any policy."""
    p = sc.policies
    return p.max_call_minutes is not None or bool(p.ladder)


def without_policies(sc: Scenario) -> Scenario:
    """The same scenario with no policies (its file and directory kept)."""
    return sc.model_copy(update={"policies": Policies()})


def _what(step: PolicyStep) -> str:
    return (f"replies cut at {step.max_output_tokens:,} tokens" if step.max_output_tokens
            else f"truncation keeping {step.retention_ratio:g}")


def with_ladder(model: StackModel, sc: Scenario, catalog: Catalog, day: date,
                max_responses: int) -> tuple[StackModel, list[str]]:
    """`model` with the scenario's ladder applied (the answer each step starts at found by
    pricing the realtime model's answers in order with `price`), and a note per step."""
    steps = sorted(sc.policies.ladder, key=lambda s: s.at_usd)
    if not steps:
        return model, []
    if with_reply_changes(model, (), catalog, day) is model:
        return model, [f"policies: the ladder applies to realtime models billed by tokens; "
                       f"{model.id} has none"]
    changes: tuple[ReplyChange, ...] = ()
    current, notes = with_reply_changes(model, (), catalog, day), []
    for step in steps:
        k = _crossing(current, Decimal(str(step.at_usd)), max_responses, catalog, day)
        if k is None:
            notes.append(f"policies: no call reaches ${step.at_usd:,.2f} of realtime spend "
                         f"({_what(step)} never applies)")
            break
        changes += (ReplyChange(k, step.max_output_tokens, step.retention_ratio),)
        current = with_reply_changes(model, changes, catalog, day)
        notes.append(f"policies: {_what(step)} from answer {k} (realtime spend past "
                     f"${step.at_usd:,.2f})")
    return current, notes


def _crossing(model: StackModel, at_usd: Decimal, most: int, catalog: Catalog,
              day: date) -> int | None:
    """The first answer k whose realtime spend (answers 1..k) reaches `at_usd`."""
    comp = next(c for c in model.components if c.role == "realtime")
    priced: dict[int, Decimal] = {}   # by id: the component hands out one Usage per content
    kept: list[Usage] = []
    spent = Decimal(0)
    for k in range(1, most + 1):
        usage = comp.response_usage(k)
        if usage is None:
            continue
        cost = priced.get(id(usage))
        if cost is None:
            kept.append(usage)   # (its id stays its own while it is kept)
            cost = priced[id(usage)] = price(usage, catalog, on=day).total_usd
        spent += cost
        if spent >= at_usd:
            return k
    return None


def note_savings(results: list[StackEstimate], baseline: list[StackEstimate],
                 sc: Scenario) -> None:
    """Each result's monthly saving against the same stack without the policies, set and
    noted."""
    before = {r.stack: r for r in baseline}
    parts = []
    if sc.policies.max_call_minutes is not None:
        parts.append(f"calls ended at {sc.policies.max_call_minutes:g} minutes")
    if sc.policies.ladder:
        parts.append(f"{len(sc.policies.ladder)} ladder step(s)")
    for r in results:
        b = before.get(r.stack)
        if b is None:
            continue
        saving = b.monthly_usd - r.monthly_usd
        r.policy_saving_monthly_usd = saving
        share = saving / b.monthly_usd if b.monthly_usd else 0.0
        r.notes.append(f"policies ({', '.join(parts)}): ${saving:,.2f} a month less than "
                       f"without them ({share:.1%} of ${b.monthly_usd:,.2f})")
