"""A guard policy file: the ladder's steps and the hang-up timers, read from YAML.

The file (``costmodel guard serve --ladder FILE``) holds a ``ladder:`` list (each step a
threshold, ``at`` a share of the session limit or ``at_usd``, and exactly one of
``max_output_tokens``, ``truncation``, ``drop_turns``, ``wrap_up``, ``end``: see
`costmodel.guard.ladder`) and ``hangup:`` timers (`costmodel.guard.idle`)::

    ladder:
      - {at: 0.5, max_output_tokens: 300}
      - {at: 0.65, truncation: {retention_ratio: 0.5, post_instructions_tokens: 8000}}
      - {at: 0.8, drop_turns: {keep_items: 8}}
      - {at: 0.85, wrap_up: true}
      - {at: 0.95, end: true}
    hangup: {silence_seconds: 30, hold_seconds: 60, max_call_minutes: 30,
             wrap_up_before_seconds: 30}

Errors name the file, line and key (`LadderError`); `step_of` reads one step of a Python list
the same way (`Ladder.of`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .._files import MB, clip, read_text
from ..errors import CatalogError, LadderError, UsageError
from .idle import Hangup
from .ladder import DEFAULT_LADDER, KINDS, MAX_OUTPUT_TOKENS, Ladder, LadderStep
from .policy import share, usd_limit
from .projector import Truncation

POLICY_LIMIT = 1 * MB       # a policy file is a few lines


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _TruncationSpec(_Strict):
    retention_ratio: float | None = Field(default=None, gt=0, le=1, strict=True,
                                          allow_inf_nan=False)
    post_instructions_tokens: int | None = Field(default=None, ge=1, le=10_000_000,
                                                 strict=True)

    @model_validator(mode="after")
    def _some(self) -> _TruncationSpec:
        if self.retention_ratio is None and self.post_instructions_tokens is None:
            raise ValueError("give retention_ratio and/or post_instructions_tokens")
        return self


class _DropSpec(_Strict):
    keep_items: int = Field(ge=0, le=100_000, strict=True)


class _StepSpec(_Strict):
    at: float | None = Field(default=None, strict=True, allow_inf_nan=False)
    at_usd: int | float | str | None = None
    max_output_tokens: int | None = Field(default=None, ge=1, le=MAX_OUTPUT_TOKENS,
                                          strict=True)
    truncation: _TruncationSpec | None = None
    drop_turns: _DropSpec | None = None
    wrap_up: Literal[True] | None = None
    end: Literal[True] | None = None

    @field_validator("at")
    @classmethod
    def _share(cls, v: float | None) -> float | None:
        if v is not None:
            share(v, "at")
        return v

    @field_validator("at_usd", mode="before")
    @classmethod
    def _usd(cls, v: object) -> object:
        if isinstance(v, bool) or not isinstance(v, int | float | str | None):
            raise ValueError(f"at_usd must be an amount in USD, got {clip(repr(v))}")
        if v is not None:
            usd_limit(v, "at_usd")
        return v

    @model_validator(mode="after")
    def _one(self) -> _StepSpec:
        kinds = [k for k in KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"a step is exactly one of {', '.join(KINDS)} (got "
                             f"{', '.join(kinds) or 'none'})")
        if (self.at is None) == (self.at_usd is None):
            raise ValueError("give at (a share of the session limit) or at_usd, not both")
        return self

    def step(self) -> LadderStep:
        kind = next(k for k in KINDS if getattr(self, k) is not None)
        t = self.truncation
        return LadderStep(
            kind, at=None if self.at is None else share(self.at, "at"),
            at_usd=None if self.at_usd is None else usd_limit(self.at_usd, "at_usd"),
            max_output_tokens=self.max_output_tokens,
            truncation=None if t is None else Truncation(
                retention_ratio=None if t.retention_ratio is None
                else share(t.retention_ratio, "retention_ratio"),
                post_instructions_tokens=t.post_instructions_tokens),
            keep_items=None if self.drop_turns is None else self.drop_turns.keep_items)


class _HangupSpec(_Strict):
    silence_seconds: float | None = Field(default=None, gt=0, le=86_400, strict=True)
    hold_seconds: float | None = Field(default=None, gt=0, le=86_400, strict=True)
    max_call_minutes: float | None = Field(default=None, gt=0, le=1440, strict=True)
    wrap_up_before_seconds: float = Field(default=30, ge=0, le=3600, strict=True)

    def hangup(self) -> Hangup:
        return Hangup(self.silence_seconds, self.hold_seconds,
                      None if self.max_call_minutes is None else self.max_call_minutes * 60,
                      self.wrap_up_before_seconds)


class _PolicySpec(_Strict):
    ladder: list[_StepSpec] = Field(default_factory=list, max_length=100)
    hangup: _HangupSpec | None = None


def step_of(item: Mapping[str, Any], where: str = "step") -> LadderStep:
    """One step from its mapping (as in YAML); `UsageError` naming `where` and the key.

    >>> step_of({"at": 0.5, "max_output_tokens": 300}).max_output_tokens
    300
    >>> step_of({"at": 0.5}, "steps[0]")
    Traceback (most recent call last):
    costmodel.errors.UsageError: steps[0]: a step is exactly one of max_output_tokens, \
truncation, drop_turns, wrap_up, end (got none)
    """
    try:
        return _StepSpec.model_validate(item).step()
    except ValidationError as exc:
        e = exc.errors()[0]
        key = ".".join(str(p) for p in e["loc"])
        raise UsageError(f"{where}{'.' + key if key else ''}: "
                         f"{str(e['msg']).removeprefix('Value error, ')}") from None


@dataclass(frozen=True)
class GuardPolicy:
    """What a guard policy file sets: a ladder and hang-up timers (each may be absent)."""

    ladder: Ladder | None = None
    hangup: Hangup | None = None


def parse_policy(text: str, path: str | os.PathLike[str] | None = None) -> GuardPolicy:
    """A guard policy from YAML text (``path`` names it in errors); `LadderError` says the
    file, line and key of what is wrong.

    >>> parse_policy("ladder: [{at: 0.5, max_output_tokens: 300}]").ladder.steps[0].kind
    'max_output_tokens'
    >>> parse_policy("ladder:\\n  - {at: 1.5, wrap_up: true}\\n", "p.yaml")
    Traceback (most recent call last):
    costmodel.errors.LadderError: p.yaml:2: ladder.0.at: at must be in (0, 1], got '1.5'
    """
    from .._yamlmarks import line_of, load_with_marks

    name = os.fspath(path) if path is not None else "<guard policy>"
    try:
        data, node = load_with_marks(text, name)
    except CatalogError as exc:   # the YAML loader's error: keep its line
        raise LadderError(str(exc).split(": ", 1)[-1], path=name, line=exc.line) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise LadderError("a guard policy file is a YAML mapping (ladder:, hangup:)",
                          path=name, line=1)
    try:
        spec = _PolicySpec.model_validate(data)
    except ValidationError as exc:
        e = exc.errors()[0]
        loc = tuple(e["loc"])
        raise LadderError(clip(str(e["msg"]).removeprefix("Value error, "), 300), path=name,
                          line=line_of(node, loc),
                          key=".".join(str(p) for p in loc) or None) from None
    ladder = Ladder(tuple(s.step() for s in spec.ladder), name) if spec.ladder else None
    return GuardPolicy(ladder, spec.hangup.hangup() if spec.hangup is not None else None)


def load_policy(path: str | os.PathLike[str]) -> GuardPolicy:
    """Read a guard policy file (at most `POLICY_LIMIT` bytes); ``default`` is the default
    ladder (`DEFAULT_LADDER`)."""
    if os.fspath(path) == "default":
        return GuardPolicy(DEFAULT_LADDER)
    name = os.fspath(path)
    text = read_text(Path(path), limit=POLICY_LIMIT,
                     fail=lambda msg: LadderError(msg, path=name))
    return parse_policy(text, name)
