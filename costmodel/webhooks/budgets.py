"""Tenants and their budgets: who a call belongs to, and what it may spend.

A budgets file names each tenant's budget for the period and the numbers (and agents) that
are its calls; a call's tenant is found from the number it was placed to. What admitted
calls get is the tenant's too: the Vapi assistant, or the Retell agent.

```yaml
period: month                      # day | month | all: the budget is per UTC period
reject_message: Sorry, we cannot take your call right now.   # spoken by Vapi on a refusal
tenants:
  acme:
    budget_usd: 200
    numbers: ["+15551230001"]      # called numbers (or Vapi phone-number ids)
    agents: [agent_acme]           # assistants / agents whose calls are acme's (web calls)
    vapi_assistant_id: 2ccabf54-ccd8-4dff-ae93-e830159c8004
    retell_agent_id: agent_acme    # override_agent_id for admitted Retell calls
    stack: openai/gpt-realtime-1.5 # the scenario stack whose P95 is held (default: --stack)
default_tenant: acme               # calls to numbers no tenant lists (else refused)
```

Without a file (`Budgets.uniform`), every called number is a tenant of its own with the
same budget.

>>> b = parse_budgets("tenants: {acme: {budget_usd: 200, numbers: ['+15551230001']}}")
>>> b.tenant_for("+15551230001").budget_usd, b.tenant_for("+15550000000")
(Decimal('200'), None)
>>> Budgets.uniform(Decimal(5)).tenant_for(None, "+15551230002").name
'+15551230002'
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from .._files import MB, clip, read_text
from ..errors import AmountError, CatalogError, InputError
from ..money import to_usd

BUDGETS_LIMIT = 16 * MB          # ~100,000 tenants
MAX_BUDGET_USD = Decimal(10) ** 9
DEFAULT_REJECT = "Sorry, we cannot take your call right now. Please try again later."
Period = Literal["day", "month", "all"]


def _usd(value: object) -> Decimal:
    try:
        return to_usd(value, "budget_usd", positive=True, maximum=MAX_BUDGET_USD)
    except AmountError as exc:
        raise ValueError(str(exc).removeprefix("budget_usd ")) from None


Usd = Annotated[Decimal, BeforeValidator(_usd)]
Key = Annotated[str, Field(min_length=1, max_length=512)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TenantEntry(_Strict):
    budget_usd: Usd
    numbers: list[Key] = Field(default_factory=list)
    agents: list[Key] = Field(default_factory=list)
    vapi_assistant_id: Key | None = None
    vapi_assistant: dict[str, Any] | None = None
    retell_agent_id: Key | None = None
    stack: Key | None = None
    reject_message: Annotated[str, Field(min_length=1, max_length=1000)] | None = None


class BudgetsFile(_Strict):
    period: Period = "month"
    reject_message: Annotated[str, Field(min_length=1, max_length=1000)] = DEFAULT_REJECT
    tenants: dict[Key, TenantEntry] = Field(min_length=1)
    default_tenant: Key | None = None


@dataclass(frozen=True, slots=True)
class Tenant:
    """One tenant: its ledger scope (``name``), budget per period, and what its admitted
    calls get (a Vapi assistant, a Retell agent) and are forecast with (``stack``)."""

    name: str
    budget_usd: Decimal
    reject_message: str = DEFAULT_REJECT
    vapi_assistant_id: str | None = None
    vapi_assistant: Mapping[str, Any] | None = None
    retell_agent_id: str | None = None
    stack: str | None = None


@dataclass(frozen=True)
class Budgets:
    """Which tenant a call is, and its budget (see the module docstring)."""

    period: Period = "month"
    tenants: Mapping[str, Tenant] = field(default_factory=dict)
    by_key: Mapping[str, str] = field(default_factory=dict)   # number or agent -> tenant
    default_tenant: str | None = None
    uniform_usd: Decimal | None = None     # every called number a tenant with this budget
    reject_message: str = DEFAULT_REJECT
    vapi_assistant_id: str | None = None   # what a tenant naming none gets
    retell_agent_id: str | None = None
    source: str = "<budgets>"

    @classmethod
    def uniform(cls, budget_usd: Decimal, period: Period = "month", *,
                vapi_assistant_id: str | None = None,
                retell_agent_id: str | None = None) -> Budgets:
        """Every called number its own tenant (its scope is the number), each with
        `budget_usd` a `period`."""
        return cls(period=period, uniform_usd=to_usd(budget_usd, "--tenant-budget",
                                                     positive=True, maximum=MAX_BUDGET_USD),
                   vapi_assistant_id=vapi_assistant_id, retell_agent_id=retell_agent_id,
                   source="--tenant-budget")

    def tenant_for(self, *numbers: str | None, agents: Iterable[str | None] = ()
                   ) -> Tenant | None:
        """The tenant of the first of `numbers` (a called number, a phone-number id) that
        names one, else of the first of `agents` (assistant or agent ids) that does; else
        the default tenant; else None. Without a file, the first number is the tenant."""
        for key in numbers:
            if not key:
                continue
            if self.uniform_usd is not None:
                return Tenant(key, self.uniform_usd, self.reject_message,
                              self.vapi_assistant_id, None, self.retell_agent_id)
            name = self.by_key.get(key)
            if name is not None:
                return self.tenants[name]
        for key in agents:
            name = self.by_key.get(key) if key else None
            if name is not None:
                return self.tenants[name]
        return self.tenants.get(self.default_tenant) if self.default_tenant else None

    def tenant_named(self, name: str) -> Tenant | None:
        """The tenant whose scope is `name` (without a file: the number `name`)."""
        if self.uniform_usd is not None:
            return self.tenant_for(name)
        return self.tenants.get(name)

    def vapi_assistant(self, tenant: Tenant) -> tuple[str | None, Mapping[str, Any] | None]:
        """(assistant id, transient assistant) an admitted Vapi call of `tenant` gets."""
        if tenant.vapi_assistant_id or tenant.vapi_assistant:
            return tenant.vapi_assistant_id, tenant.vapi_assistant
        return self.vapi_assistant_id, None

    def retell_agent(self, tenant: Tenant) -> str | None:
        return tenant.retell_agent_id or self.retell_agent_id

    @property
    def stacks(self) -> dict[str, str]:
        """tenant -> the stack it names (tenants naming none are left out)."""
        return {t.name: t.stack for t in self.tenants.values() if t.stack}


def _line(node: yaml.Node | None, loc: tuple[str | int, ...]) -> int | None:
    from .._yamlmarks import line_of

    return line_of(node, [str(p) for p in loc])


def _error(path: str, line: int | None, key: str | None, message: str) -> InputError:
    where = path + (f":{line}" if line else "") + (f": {key}" if key else "")
    return InputError(f"{where}: {message}")


def parse_budgets(text: str, path: str | os.PathLike[str] | None = None, *,
                  vapi_assistant_id: str | None = None,
                  retell_agent_id: str | None = None) -> Budgets:
    """Budgets from YAML text (``path`` names it in errors); `InputError` names the file,
    line and key of what is wrong. The assistant and agent ids are what tenants naming
    none get."""
    from .._yamlmarks import load_with_marks

    name = os.fspath(path) if path is not None else "<budgets>"
    try:
        data, node = load_with_marks(text, name)
    except CatalogError as exc:
        shown = f"{exc.path or '<catalog>'}" + (f":{exc.line}" if exc.line else "") + ": " + (
            f"{exc.field}: " if exc.field else "")
        raise _error(name, exc.line, exc.field, str(exc).removeprefix(shown)) from None
    if not isinstance(data, dict):
        raise _error(name, 1, None, "a budgets file is a YAML mapping (period:, tenants:)")
    try:
        parsed = BudgetsFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        raise _error(name, _line(node, loc), ".".join(str(p) for p in loc) or None,
                     str(err["msg"]).removeprefix("Value error, ")) from None
    tenants = {n: Tenant(n, e.budget_usd, e.reject_message or parsed.reject_message,
                         e.vapi_assistant_id, e.vapi_assistant, e.retell_agent_id, e.stack)
               for n, e in parsed.tenants.items()}
    by_key: dict[str, str] = {}
    for n, entry in parsed.tenants.items():
        for kind, keys in (("numbers", entry.numbers), ("agents", entry.agents)):
            for i, key in enumerate(keys):
                if by_key.setdefault(key, n) != n:
                    raise _error(name, _line(node, ("tenants", n, kind, i)),
                                 f"tenants.{n}.{kind}", f"{clip(repr(key))} is listed for tenant "
                                 f"{by_key[key]!r} already")
    if parsed.default_tenant is not None and parsed.default_tenant not in tenants:
        raise _error(name, _line(node, ("default_tenant",)), "default_tenant",
                     f"no tenant named {clip(repr(parsed.default_tenant))}")
    return Budgets(parsed.period, tenants, by_key, parsed.default_tenant, None,
                   parsed.reject_message, vapi_assistant_id, retell_agent_id, name)


def load_budgets(path: str | os.PathLike[str], *, vapi_assistant_id: str | None = None,
                 retell_agent_id: str | None = None) -> Budgets:
    """Read and validate a budgets file (at most `BUDGETS_LIMIT` bytes); see
    `parse_budgets`."""
    name = os.fspath(path)
    text = read_text(Path(path), limit=BUDGETS_LIMIT,
                     fail=lambda msg: InputError(f"{name}: {msg}"))
    return parse_budgets(text, name, vapi_assistant_id=vapi_assistant_id,
                         retell_agent_id=retell_agent_id)
