"""The dashboard's inputs: a scenario as flat widget values, and back, with plain-word errors.

`values_of(scenario)` gives the value of every input (keyed by widget key); `scenario_of`
builds the edited scenario from them and returns, instead of raising, the errors of the
inputs that are wrong, keyed by the widget that shows them ("p95 must be at most 3.87 × the
mean"), so the page can show each next to its field and keep the last good results.

>>> from costmodel.estimation import default_scenario
>>> v = values_of(default_scenario())
>>> v["dist"], v["fixed_min"], v["system_tokens"]
('fixed', 6.0, 3000)
>>> sc, errors = scenario_of(default_scenario(), {**v, "dist": "lognormal", "ln_mean": 3.5,
...                                              "ln_p95": 18.0})
>>> sc is None, errors["ln_p95"]
(True, 'p95 must be at most 3.87 × the mean (at most 13.5 minutes here)')
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..core.catalog import Catalog, default_catalog
from ..errors import CostModelError
from ..estimation.scenario import MAX_CALL_MINUTES, MAX_CALLS_PER_MONTH, Scenario, stack_id

TURN_KEYS = ("seconds_per_turn", "user_speech_s", "agent_speech_s", "agent_text_tokens_per_s")
_Z = 1.6448536269514722
MAX_P95_RATIO = math.exp(_Z * _Z / 2)   # 3.87: no lognormal has a larger p95 / mean
NO_TELEPHONY = "(none)"
CACHE_HITS = ("share", "per-response")   # `Cache.hits`, as the dashboard offers it
# Which widget shows an error the scenario's own validation found at a location.
_FIELD_OF = {"volume": "calls_per_month", "duration_min.fixed": "fixed_min",
             "duration_min.lognormal.mean": "ln_mean", "duration_min.lognormal": "ln_p95",
             "duration_min.lognormal.p95": "ln_p95", "duration_min": "dist",
             "turns": "agent_speech_s", "prompt.system_tokens": "system_tokens",
             "prompt.tool_tokens": "tool_tokens", "cache.hit_ratio": "hit_ratio",
             "cache.hits": "cache_hits",
             "truncation.retention_ratio": "retention_ratio",
             "platform.usd_per_minute": "platform_fee", "stacks": "singles",
             "simulation.calls": "sim_calls", "simulation.seed": "seed"}


def single_options(catalog: Catalog | None = None) -> list[str]:
    """Models that are a stack by themselves: realtime and self-hosted (not GPU rentals)."""
    return [e.id for e in catalog or default_catalog()
            if e.kind == "realtime" or e.selfhost is not None]


def values_of(sc: Scenario, catalog: Catalog | None = None) -> dict[str, Any]:
    """Every input's value for a scenario (the widgets' state after loading it)."""
    catalog = catalog or default_catalog()
    d, t = sc.duration_min, sc.turns
    try:
        system = sc.system_tokens() - sc.prompt.tool_tokens
    except CostModelError:
        system = 0
    singles, pipelines = [], {}
    options = set(single_options(catalog))
    for x in sc.stacks:  # models that are a stack alone go to the picker, the rest to pipelines
        if isinstance(x, str) and x in catalog and catalog.resolve(x) in options:
            singles.append(catalog.resolve(x))
        else:
            pipelines[stack_id(x)] = x if isinstance(x, str) else x.model_dump(exclude_none=True)
    return {
        "calls_per_month": int(round(sc.volume.monthly_calls)),
        "dist": "fixed" if d.fixed else "lognormal" if d.lognormal else "empirical",
        "fixed_min": float(d.fixed or 6.0),
        "ln_mean": float(d.lognormal.mean if d.lognormal else 6.0),
        "ln_p95": float(d.lognormal.p95 if d.lognormal else 18.0),
        "emp_path": str(sc.resolve_path(d.empirical)) if d.empirical else "",
        "emp_name": Path(d.empirical).name if d.empirical else "",
        **{k: float(getattr(t, k)) for k in TURN_KEYS},
        "system_tokens": system, "tool_tokens": sc.prompt.tool_tokens,
        "hit_ratio": float(sc.cache.hit_ratio), "cache_hits": sc.cache.hits,
        "retention_ratio": float(sc.truncation.retention_ratio),
        "platform_fee": float(sc.platform.usd_per_minute),
        "telephony_all": NO_TELEPHONY,
        "sim_calls": sc.simulation.calls, "seed": sc.simulation.seed,
        "singles": list(dict.fromkeys(singles)), "pipelines": pipelines,
        "pipeline_sel": list(pipelines),
    }


def with_telephony(stack: str | dict, telephony: str, catalog: Catalog | None = None
                   ) -> str | dict:
    """`stack` with a phone line: a realtime or self-hosted model becomes {realtime:,
    telephony:}; a chained stack keeps its own line if it has one."""
    if isinstance(stack, str):
        kind = (catalog or default_catalog()).get(stack).kind
        return stack if kind == "telephony" else {"realtime": stack, "telephony": telephony}
    return stack if stack.get("telephony") else {**stack, "telephony": telephony}


def _duration(v: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    dist = v["dist"]
    if dist == "fixed":
        if not 0 < v["fixed_min"] <= MAX_CALL_MINUTES:
            errors["fixed_min"] = ("minutes per call must be above 0 and at most "
                                   f"{MAX_CALL_MINUTES:,}")
        return {"fixed": v["fixed_min"]}
    if dist == "lognormal":
        mean, p95 = v["ln_mean"], v["ln_p95"]
        if not 0 < mean <= MAX_CALL_MINUTES:
            errors["ln_mean"] = ("the mean must be above 0 and at most "
                                 f"{MAX_CALL_MINUTES:,} minutes")
        elif p95 <= mean:
            errors["ln_p95"] = f"p95 must be greater than the mean ({mean:g} minutes)"
        elif p95 / mean > MAX_P95_RATIO:
            errors["ln_p95"] = (f"p95 must be at most {MAX_P95_RATIO:.2f} × the mean (at most "
                                f"{math.floor(mean * MAX_P95_RATIO * 10) / 10:g} minutes here)")
        return {"lognormal": {"mean": mean, "p95": p95}}
    if not v.get("emp_path"):
        errors["emp_upload"] = "upload a CSV of call lengths (minutes, one per line)"
    return {"empirical": v.get("emp_path") or "missing.csv"}


def _stacks(v: dict[str, Any], catalog: Catalog) -> list[Any]:
    stacks = [*v["singles"], *(v["pipelines"][p] for p in v["pipeline_sel"]
                               if p in v["pipelines"])]
    if v.get("telephony_all", NO_TELEPHONY) != NO_TELEPHONY:
        stacks = [with_telephony(s, v["telephony_all"], catalog) for s in stacks]
    return stacks


def scenario_of(base: Scenario, v: dict[str, Any], catalog: Catalog | None = None
                ) -> tuple[Scenario | None, dict[str, str]]:
    """The edited scenario, or None and the errors by widget key (plain words)."""
    catalog = catalog or default_catalog()
    errors: dict[str, str] = {}
    if not 0 < v["calls_per_month"] <= MAX_CALLS_PER_MONTH:
        errors["calls_per_month"] = "calls per month must be at least 1 and at most 10 billion"
    duration = _duration(v, errors)
    speech = v["user_speech_s"] + v["agent_speech_s"]
    if speech > v["seconds_per_turn"]:
        errors["agent_speech_s"] = (f"user + agent speech ({speech:g} s) must fit in one "
                                    f"exchange ({v['seconds_per_turn']:g} s)")
    stacks = _stacks(v, catalog)
    if not stacks:
        errors["singles"] = "pick at least one stack (or a pipeline below)"
    data = base.model_dump(mode="json", exclude_none=True)
    volume = {k: x for k, x in data.get("volume", {}).items()
              if k not in ("calls_per_day", "days_per_month")}   # keep its extensions
    data.update(volume={**volume, "calls_per_month": v["calls_per_month"]},
                duration_min=duration,
                prompt={**data.get("prompt", {}), "system_tokens": v["system_tokens"],
                        "tool_tokens": v["tool_tokens"]},
                stacks=stacks, simulation={"calls": v["sim_calls"], "seed": v["seed"]},
                truncation={"retention_ratio": v["retention_ratio"]},
                platform={"usd_per_minute": str(Decimal(repr(float(v["platform_fee"]))))})
    data["prompt"].pop("system_file", None)
    data["turns"] = {**data.get("turns", {}), **{k: v[k] for k in TURN_KEYS}}
    data["cache"] = {**data.get("cache", {}), "hit_ratio": v["hit_ratio"],
                     "hits": v["cache_hits"]}
    if errors:
        return None, errors
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith(
                ("str", "ChainedStack", "function")))
            key = next((f for k, f in sorted(_FIELD_OF.items(), key=lambda x: -len(x[0]))
                        if loc.startswith(k)), "dist")
            errors.setdefault(key, plain(err["msg"]))
        return None, errors
    sc._base_dir, sc._file = base._base_dir, base._file
    return sc, {}


def plain(message: str) -> str:
    """A validation message without pydantic's prefixes, links and echoed input."""
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message.split(" [type=", 1)[0]
