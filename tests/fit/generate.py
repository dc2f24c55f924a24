"""Recorded sessions with known true parameters, the way providers report them (issue 14).

Calls are simulated event by event (`tests.fit.timeline`) and written as each provider would
have reported them: OpenAI Realtime server events (`provider_openai`), Gemini Live messages
(`provider_gemini`), one JSONL file per session, which ``costmodel price-events`` and
``costmodel fit`` read; or a chained Pipecat pipeline's usage metrics fed to a real
`PipecatBudget` that writes the spend log (`provider_pipecat`). Nothing here imports the
estimator: the sessions are what providers do, not what costmodel predicts.

Bench data (``fit`` over 10,000 sessions, issue 14's bench)::

    python -m tests.fit.generate --stack openai --sessions 10000 --out /tmp/fit-bench

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     written = write_sessions("openai", TrueParams(seed=2), 3, d)
...     [p.name for p, _ in written]
['openai-00000.jsonl', 'openai-00001.jsonl', 'openai-00002.jsonl']
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import provider_gemini, provider_openai, provider_pipecat
from .timeline import Call, TrueParams, Truth, simulate_call, simulate_calls

__all__ = ["STACKS", "Call", "TrueParams", "Truth", "chained_budget", "simulate_call",
           "simulate_calls", "spend_log_supported", "write_sessions", "write_spend_log"]

#: The model each stack's sessions name (catalog ids).
STACKS = {"openai": f"openai/{provider_openai.MODEL}",
          "gemini": f"google/{provider_gemini.MODEL}",
          "chained": "+".join(provider_pipecat.MODELS.values())}

_dumps = json.JSONEncoder(separators=(",", ":")).encode


def _write(path: Path, events: list[dict]) -> None:
    path.write_text("".join(_dumps(e) + "\n" for e in events), encoding="utf-8")


def write_sessions(stack: str, params: TrueParams, n: int, out: str | Path, *,
                   first: int = 0, deltas: int = 1, stratified: bool = False,
                   ) -> list[tuple[Path, Any]]:
    """Write sessions ``first`` .. ``first + n - 1`` of a realtime `stack` ("openai" or
    "gemini") as JSONL event files in `out`; returns (path, the provider's `SessionTruth`)
    per session. `deltas`: audio (and transcript) deltas per response; `stratified`: call
    lengths one per stratum (`timeline.stratified_seconds`)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for call in simulate_calls(params, n, first, stratified=stratified):
        if stack == "openai":
            events, truth = provider_openai.realtime_events(call, deltas=deltas)
        elif stack == "gemini":
            events, truth = provider_gemini.live_events(call, chunks=deltas)
        else:
            raise ValueError(f"stack {stack!r}: write_sessions writes 'openai' or 'gemini' "
                             "event files; the chained stack is a spend log (write_spend_log)")
        path = out / f"{stack}-{call.index:05d}.jsonl"
        _write(path, events)
        written.append((path, truth))
    return written


def spend_log_supported() -> bool:
    """Whether `PipecatBudget` takes ``spend_log=`` and its guard a ``clock=`` (issue 14,
    shared interface 3)."""
    from costmodel.guard.session import SessionGuard
    from costmodel.hooks.pipecat import PipecatBudget

    return ("spend_log" in inspect.signature(PipecatBudget.__init__).parameters
            and "clock" in inspect.signature(SessionGuard.__init__).parameters)


def chained_budget(spend_log: str | Path, *, limit_usd: str = "100",
                   **kwargs: Any) -> Callable[[provider_pipecat.ReplayClock], Any]:
    """A factory of real `PipecatBudget`\\ s for `provider_pipecat.run_session`: a generous
    limit (the sessions are recorded, never cut), the spend log, the replay clock."""
    from costmodel.hooks.pipecat import PipecatBudget

    def build(clock: provider_pipecat.ReplayClock) -> Any:
        return PipecatBudget(limit_usd=limit_usd, models=provider_pipecat.MODELS,
                             spend_log=str(spend_log), clock=clock, **kwargs)
    return build


def write_spend_log(params: TrueParams, n: int, spend_log: str | Path, *, first: int = 0,
                    stratified: bool = False,
                    ) -> list[tuple[Call, Any, provider_pipecat.SessionTruth]]:
    """Run sessions ``first`` .. ``first + n - 1`` of the chained stack through real
    `PipecatBudget`\\ s writing to `spend_log`; returns (call, budget, truth) per session."""
    if not spend_log_supported():
        raise RuntimeError("PipecatBudget has no spend_log=/clock= yet (issue 14, shared "
                           "interface 3): the chained stack cannot be recorded")
    build = chained_budget(spend_log)
    out = []
    for call in simulate_calls(params, n, first, stratified=stratified):
        budget, truth = provider_pipecat.run_session(call, build)
        out.append((call, budget, truth))
    return out


def _params(args: argparse.Namespace) -> TrueParams:
    fields = {f: getattr(args, f) for f in ("seed", "duration_mean_min", "duration_p95_min",
                                            "cache_hit", "system_tokens")
              if getattr(args, f) is not None}
    return TrueParams(**fields)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fit.generate", description=(
        "Write recorded sessions with known parameters, as the provider reports them."))
    parser.add_argument("--stack", choices=sorted(STACKS), default="openai")
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--out", required=True, help="directory (openai, gemini) or spend "
                        "log file (chained)")
    parser.add_argument("--first", type=int, default=0, help="index of the first session")
    parser.add_argument("--deltas", type=int, default=1, help="audio deltas per response")
    parser.add_argument("--seed", type=int)
    # The bench profile: 3-minute calls average ~14 responses of 10 events, so 10,000
    # sessions are ~1.4M events, issue 14's bench.
    parser.add_argument("--duration-mean-min", type=float, default=3.0)
    parser.add_argument("--duration-p95-min", type=float, default=9.0)
    parser.add_argument("--cache-hit", type=float)
    parser.add_argument("--system-tokens", type=int)
    args = parser.parse_args(argv)
    params = _params(args)
    began = time.perf_counter()
    if args.stack == "chained":
        try:
            runs = write_spend_log(params, args.sessions, args.out, first=args.first)
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        summary = f"{len(runs)} sessions, {sum(t.responses for _, _, t in runs)} responses"
    else:
        written = write_sessions(args.stack, params, args.sessions, args.out,
                                 first=args.first, deltas=args.deltas)
        lines = 0
        for path, _ in written:
            with path.open("rb") as f:
                lines += sum(1 for _ in f)
        summary = f"{len(written)} sessions, {lines:,} events"
    print(f"{args.stack}: {summary} in {time.perf_counter() - began:.1f} s -> {args.out} "
          f"({params})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
