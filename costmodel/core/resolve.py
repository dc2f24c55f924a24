"""Model ids as payloads carry them -> catalog ids.

Payloads name models the way their provider, framework or cloud does: dated snapshots
(``gpt-realtime-mini-2025-10-06``, ``claude-haiku-4-5-20251001``), provider-prefixed names
(``anthropic/claude-haiku-4-5``, ``vertex_ai/claude-haiku-4-5@20251001``), Bedrock ids
(``bedrock/us.anthropic.claude-haiku-4-5-20251001-v1:0``) and provider names of their own
(LiveKit's ``Vertex AI`` or ``api.x.ai``, Pipecat's service classes). The rules that read them
are data, ``pricing/ids/resolve.yaml`` (`IdRules`); `Resolver` applies them to one catalog's
ids and aliases. `costmodel.core.catalog.Catalog.resolve` calls it when an id is not a catalog
id or alias as it stands, and memoizes the answer.

How a name is read, in order (the first hit wins):

1. A leading ``provider/`` that the table (or the catalog) knows sets the providers searched;
   otherwise the ``provider=`` argument does; an unknown name searches every provider.
2. A Bedrock vendor prefix (``amazon.``, ``anthropic.``, after an optional region profile
   ``us.``) narrows the search to that vendor.
3. The name as it is, then with each snapshot suffix taken off in turn: as an id
   ``<provider>/<name>`` or an alias of an entry of a searched provider (with every provider
   searched: any alias or unambiguous bare name, as `Catalog.resolve` does).

>>> from costmodel.core.catalog import default_catalog
>>> cat = default_catalog()
>>> cat.resolve("gpt-realtime-mini-2025-10-06")
'openai/gpt-realtime-mini'
>>> cat.resolve("claude-haiku-4-5", provider="Vertex AI")
'anthropic/claude-haiku-4.5'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import CatalogError

RULES_FILE = Path("ids") / "resolve.yaml"  # under the built-in catalog directory


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderName(_Strict):
    """What one provider name, as payloads carry it, can mean."""

    means: list[str] = Field(min_length=1, description="catalog providers")
    note: str = Field(default="", description="added to the error when nothing resolves")


class Snapshot(_Strict):
    pattern: str = Field(description="regular expression of the suffix, anchored with $")
    source: str = ""

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        if not v.endswith("$"):
            raise ValueError("a snapshot suffix pattern must end with $")
        return v


class IdRules(_Strict):
    """The table of ``pricing/ids/resolve.yaml``."""

    providers: dict[str, ProviderName] = Field(default_factory=dict)
    vendor_prefixes: dict[str, str] = Field(default_factory=dict)
    region_prefixes: list[str] = Field(default_factory=list)
    snapshots: list[Snapshot] = Field(default_factory=list)

    @field_validator("providers")
    @classmethod
    def _lower(cls, v: dict[str, ProviderName]) -> dict[str, ProviderName]:
        return {k.strip().lower(): p for k, p in v.items()}


def rules_path() -> Path:
    from .catalog import builtin_dir

    return builtin_dir() / RULES_FILE


@cache
def load_rules(path: Path | None = None) -> IdRules:
    """The id rules (built-in by default), read once per process per path."""
    from . import _parse_cache
    from .catalog import read_yaml

    path = path or rules_path()
    data, marks = read_yaml(path, _parse_cache.cache_dir())
    try:
        return IdRules.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        raise CatalogError(err["msg"], path=str(path), line=marks.line(loc),
                           field=".".join(str(p) for p in loc)) from None


@dataclass(frozen=True)
class Miss:
    """Why a name resolved to nothing: a note from the provider table, if any."""

    note: str = ""


class Resolver:
    """The rules applied to one catalog's ids and aliases (built once per catalog)."""

    def __init__(self, ids: Iterable[tuple[str, Sequence[str]]], rules: IdRules) -> None:
        self.rules = rules
        self._ids: set[str] = set()
        self._scoped: dict[tuple[str, str], str] = {}   # (provider, alias or name) -> id
        self._any: dict[str, str] = {}                  # alias or unambiguous name -> id
        bare: dict[str, list[str]] = {}
        for eid, aliases in ids:
            self._ids.add(eid)
            provider, name = eid.split("/", 1)
            bare.setdefault(name, []).append(eid)
            for alias in aliases:
                self._scoped.setdefault((provider, alias.lower()), eid)
                self._any.setdefault(alias.lower(), eid)
        for name, found in bare.items():
            if len(found) == 1:
                self._any.setdefault(name, found[0])
        self.providers = frozenset(eid.split("/", 1)[0] for eid in self._ids)
        self._snapshots = [re.compile(s.pattern) for s in rules.snapshots]
        self._vendors = {f"{k.lower()}.": v for k, v in rules.vendor_prefixes.items()}
        self._regions = tuple(f"{r.lower()}." for r in rules.region_prefixes)

    # -- the provider table ---------------------------------------------------------------
    def providers_for(self, name: str) -> tuple[str, ...] | None:
        """The catalog providers a provider name can mean; None for a name nobody knows.

        >>> from costmodel.core.catalog import default_catalog
        >>> default_catalog().resolver().providers_for("Vertex AI")
        ('google', 'anthropic')
        """
        key = name.strip().lower()
        entry = self.rules.providers.get(key)
        if entry is not None:
            return tuple(entry.means)
        if key in self.providers:
            return (key,)
        return None

    def _note(self, name: str | None) -> str:
        entry = self.rules.providers.get((name or "").strip().lower())
        return entry.note if entry is not None else ""

    # -- resolution -------------------------------------------------------------------------
    def find(self, model: str, provider: str | None = None) -> str | Miss:
        """The catalog id for `model` (see the module doc), or a `Miss`."""
        name = model.strip().lower().removeprefix("models/")
        scope = self.providers_for(provider) if provider else None
        named = provider
        head, sep, rest = name.partition("/")
        if sep:
            prefixed = self.providers_for(head)
            if prefixed is not None:
                scope, name, named = prefixed, rest.removeprefix("models/"), head
            elif name in self._any:      # an alias with a slash ("nvidia/canary-qwen-2.5b")
                return self._any[name]
        name, vendor = self._vendor(name)
        if vendor is not None:
            scope = (vendor,)
        for candidate in self._forms(name):
            found = self._lookup(candidate, scope)
            if found is not None:
                return found
        return Miss(self._note(named))

    def _vendor(self, name: str) -> tuple[str, str | None]:
        """(name without a Bedrock region and vendor prefix, the vendor's provider)."""
        bare = name
        for region in self._regions:
            if bare.startswith(region) and any(bare[len(region):].startswith(v)
                                               for v in self._vendors):
                bare = bare[len(region):]
                break
        for prefix, vendor in self._vendors.items():
            if bare.startswith(prefix):
                return bare[len(prefix):], vendor
        return name, None

    def _forms(self, name: str) -> Iterator[str]:
        """`name`, then each shorter form with one more snapshot suffix taken off."""
        yield name
        current = name
        changed = True
        while changed:
            changed = False
            for pattern in self._snapshots:
                shorter = pattern.sub("", current)
                if shorter and shorter != current:
                    current = shorter
                    changed = True
                    yield current
                    break

    def _lookup(self, name: str, scope: Sequence[str] | None) -> str | None:
        if scope is None:
            if name in self._ids:
                return name
            return self._any.get(name)
        for provider in scope:
            eid = f"{provider}/{name}"
            if eid in self._ids:
                return eid
            found = self._scoped.get((provider, name))
            if found is not None:
                return found
        return None


def provider_table(rules: IdRules | None = None) -> Mapping[str, tuple[str, ...]]:
    """The provider-name table: name as payloads carry it (lowercase) -> catalog providers."""
    rules = rules or load_rules()
    return {k: tuple(v.means) for k, v in rules.providers.items()}
