"""The ladder: steps between warn and cut that make a realtime session cheaper before it ends.

A `Ladder` is a list of steps, each taken once, when the session's spend plus its next
response's projected cost reaches the step's threshold (``at``: a share of the session limit,
or ``at_usd``: an amount). The steps, in the order a default ladder takes them:

* ``max_output_tokens: N``: cap every reply at N output tokens (text and audio together);
* ``truncation: {retention_ratio: r, post_instructions_tokens: n}``: truncate the context past
  n tokens after the instructions, keeping r of them (OpenAI Realtime's ``truncation``);
* ``drop_turns: {keep_items: k}``: delete all but the newest k conversation items;
* ``wrap_up: true``: ask the agent to close the call in a sentence or two;
* ``end: true``: end the call once the response in flight is done.

The policy's own ``wrap_up`` (room for one more response) and ``cut`` stay the backstop.
A `Climb` walks one session up a ladder: `Climb.check` takes each decision of the session's
`SessionGuard` and returns the steps now due, each a `StepDecision` that says what the step is
expected to save: the rest of the call (the responses that fit the limit without the step)
priced by the projector with and without it (`Projector.rest_of_call`), and how many more
responses fit in the limit with it. What a step sends the provider is the relay's
(`costmodel.guard.relay`); a step the provider cannot take mid-session (Gemini Live takes its
config only at setup) is recorded as not applied, with why.

A guard policy file holds a ladder and the hang-up timers (`costmodel.guard.policyfile`).

>>> ladder = Ladder.of([{"at": 0.5, "max_output_tokens": 300}, {"at": 0.9, "wrap_up": True}])
>>> [s.describe() for s in ladder.steps]
['max_output_tokens 300 at 50% of the limit', 'wrap_up at 90% of the limit']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from .._files import clip
from ..errors import CostModelError
from ..money import format_usd
from .policy import Decision
from .projector import Truncation

if TYPE_CHECKING:
    from .session import SessionGuard

StepKind = Literal["max_output_tokens", "truncation", "drop_turns", "wrap_up", "end"]
KINDS: tuple[StepKind, ...] = ("max_output_tokens", "truncation", "drop_turns", "wrap_up",
                               "end")
MOST_RESPONSES = 200        # the rest of a call, as far as a step's saving is priced
MAX_OUTPUT_TOKENS = 4096    # OpenAI Realtime's bound on max_output_tokens


@dataclass(frozen=True, slots=True)
class LadderStep:
    """One step: its `kind`, its threshold (`at` a share of the limit, or `at_usd`) and its
    setting (`max_output_tokens`, `truncation` or `keep_items`, by kind)."""

    kind: StepKind
    at: Decimal | None = None
    at_usd: Decimal | None = None
    max_output_tokens: int | None = None
    truncation: Truncation | None = None
    keep_items: int | None = None

    def threshold_usd(self, limit_usd: Decimal) -> Decimal:
        """The spend + projection at which the step is taken, for a session limit."""
        return self.at_usd if self.at_usd is not None else (self.at or Decimal(1)) * limit_usd

    def describe(self) -> str:
        """``max_output_tokens 300 at 50% of the limit``."""
        what: str = self.kind
        if self.max_output_tokens is not None:
            what += f" {self.max_output_tokens}"
        elif self.truncation is not None:
            t = self.truncation
            what += " " + ", ".join(
                p for p in (t.retention_ratio is not None and f"keep {t.retention_ratio}",
                            t.post_instructions_tokens is not None
                            and f"past {t.post_instructions_tokens:,} tokens") if p)
        elif self.keep_items is not None:
            what += f" keeping {self.keep_items} items"
        usd = self.at_usd
        when = (f"at {format_usd(usd, 2 if usd == round(usd, 2) else 6)}" if usd is not None
                else f"at {self.at:.0%} of the limit")
        return f"{what} {when}"

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"step": self.kind}
        if self.at is not None:
            out["at"] = str(self.at)
        if self.at_usd is not None:
            out["at_usd"] = str(self.at_usd)
        if self.max_output_tokens is not None:
            out["max_output_tokens"] = self.max_output_tokens
        if self.truncation is not None:
            t = self.truncation
            out["truncation"] = {"retention_ratio": None if t.retention_ratio is None
                                 else str(t.retention_ratio),
                                 "post_instructions_tokens": t.post_instructions_tokens}
        if self.keep_items is not None:
            out["keep_items"] = self.keep_items
        return out


@dataclass(frozen=True)
class Ladder:
    """Steps in the order they are taken (by threshold; equal ones as listed)."""

    steps: tuple[LadderStep, ...]
    source: str = "<ladder>"

    @classmethod
    def of(cls, steps: Sequence[LadderStep | Mapping[str, Any]],
           source: str = "<ladder>") -> Ladder:
        """A ladder from steps or their mappings (as in YAML); `UsageError` for a bad one,
        naming it (``steps[1]: ...``)."""
        out = []
        for i, item in enumerate(steps):
            if isinstance(item, LadderStep):
                out.append(item)
                continue
            from .policyfile import step_of  # (pydantic, for mappings only)

            out.append(step_of(item, f"steps[{i}]"))
        return cls(tuple(out), source)

    def climb(self, guard: SessionGuard, *,
              cannot: Callable[[LadderStep], str | None] | None = None) -> Climb:
        """One session's way up this ladder (`cannot`: why a step cannot be taken, if so)."""
        return Climb(self, guard, cannot)

    @property
    def drops_turns(self) -> bool:
        return any(s.kind == "drop_turns" for s in self.steps)


#: The documented default (``--ladder default``): shorter replies at half the limit, a
#: tighter context at 65%, a goodbye at 85%, the end at 95%; the policy cuts at the limit.
DEFAULT_LADDER = Ladder((
    LadderStep("max_output_tokens", at=Decimal("0.5"), max_output_tokens=300),
    LadderStep("truncation", at=Decimal("0.65"), truncation=Truncation(
        retention_ratio=Decimal("0.5"), post_instructions_tokens=8000)),
    LadderStep("wrap_up", at=Decimal("0.85")),
    LadderStep("end", at=Decimal("0.95"))), source="default ladder")


# -- one session's climb --------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class StepDecision:
    """A step taken, and what it is expected to save: `without_usd` and `with_usd` price the
    rest of the call (`horizon_responses`: the responses that fit the limit without the step)
    both ways; `extra_responses` more fit in the limit with it. None where not priced
    (`note` says why)."""

    step: LadderStep
    responses: int               # responses priced when it was taken
    spent_usd: Decimal
    projected_next_usd: Decimal
    limit_usd: Decimal
    applied: bool = True         # False: the provider cannot take it (`note`)
    horizon_responses: int | None = None
    without_usd: Decimal | None = None
    with_usd: Decimal | None = None
    extra_responses: int | None = None
    note: str = ""

    @property
    def expected_saving_usd(self) -> Decimal | None:
        if self.without_usd is None or self.with_usd is None or not self.applied:
            return None
        return self.without_usd - self.with_usd

    def json(self, at: str | None = None) -> dict[str, Any]:
        """As the spend log's ``ladder`` list holds it."""
        saving = self.expected_saving_usd
        out = {**self.step.json(), "applied": self.applied,
               "after_responses": self.responses, "spent_usd": str(self.spent_usd),
               "projected_next_usd": str(self.projected_next_usd),
               "expected_saving_usd": None if saving is None else str(saving),
               "over_responses": self.horizon_responses,
               "without_usd": None if self.without_usd is None else str(self.without_usd),
               "with_usd": None if self.with_usd is None else str(self.with_usd),
               "extra_responses": self.extra_responses, "note": self.note}
        if at is not None:
            out["at_time"] = at
        return out


class Climb:
    """One session's way up a `Ladder` (see the module docstring)."""

    __slots__ = ("ladder", "guard", "cannot", "_steps", "_next", "_i")

    def __init__(self, ladder: Ladder, guard: SessionGuard,
                 cannot: Callable[[LadderStep], str | None] | None = None) -> None:
        self.ladder, self.guard, self.cannot = ladder, guard, cannot
        limit = guard.limit_usd
        self._steps = sorted(ladder.steps, key=lambda s: s.threshold_usd(limit))
        self._i = 0
        self._next = self._steps[0].threshold_usd(limit) if self._steps else None

    @property
    def next_step(self) -> LadderStep | None:
        return self._steps[self._i] if self._i < len(self._steps) else None

    def check(self, decision: Decision, items: int | None = None) -> list[StepDecision]:
        """The steps due at `decision` (spend + projected next response at or past their
        threshold), each priced; `items`: conversation items the session holds (for
        ``drop_turns``; default: two a response)."""
        nxt = self._next
        if nxt is None or decision.spent_usd + decision.projected_next_usd < nxt \
                or decision.action == "cut":
            return []
        total = decision.spent_usd + decision.projected_next_usd
        limit = self.guard.limit_usd
        out = []
        while self._i < len(self._steps) and total >= self._steps[self._i].threshold_usd(limit):
            step = self._steps[self._i]
            self._i += 1
            out.append(self._priced(step, decision, items))
        self._next = (self._steps[self._i].threshold_usd(limit) if self._i < len(self._steps)
                      else None)
        return out

    def _priced(self, step: LadderStep, d: Decision, items: int | None) -> StepDecision:
        taken = StepDecision(step, d.responses, d.spent_usd, d.projected_next_usd, d.limit_usd)
        why = self.cannot(step) if self.cannot is not None else None
        if why is not None:
            return replace(taken, applied=False, note=why)
        forget = 0.0
        if step.kind == "drop_turns":
            held = items if items is not None else 2 * d.responses
            keep = step.keep_items or 0
            if held <= keep:
                return replace(taken, applied=False,
                               note=f"{held} conversation items: none to drop")
            forget = (held - keep) / held
        projector = self.guard.projector
        facts = projector.facts
        if facts is None:
            return replace(taken, note="the model is not known yet: not priced")
        if facts.time_billed:
            return replace(taken, note="billed by connection time: tokens saved cost nothing")
        budget = max(Decimal(0), d.limit_usd - d.spent_usd)
        catalog = self.guard.catalog
        try:
            now = projector.rest_of_call(catalog, budget_usd=budget, most=MOST_RESPONSES)
            n = now.responses
            extra: int | None = None
            note = ""
            if step.kind == "end":
                with_usd = Decimal(0)
                note = "the call ends once the response in flight is done"
            elif step.kind == "wrap_up":
                with_usd = projector.rest_of_call(catalog, budget_usd=budget,
                                                  responses=min(1, n)).usd
                note = "saved if the call ends after the goodbye"
            else:
                after = projector.rest_of_call(
                    catalog, budget_usd=budget, responses=n, most=MOST_RESPONSES,
                    max_output_tokens=step.max_output_tokens, truncation=step.truncation,
                    forget=forget)
                with_usd, extra = after.usd, after.fit - n
        except (CostModelError, KeyError) as exc:
            return replace(taken, note=f"not priced: {clip(str(exc), 200)}")
        return replace(taken, horizon_responses=n, without_usd=now.usd, with_usd=with_usd,
                       extra_responses=extra, note=note)
