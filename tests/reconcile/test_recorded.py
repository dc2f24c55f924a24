"""The recorded side from spend logs: a session's spend put on the day it started, split
between its models by re-pricing its usage trail, always adding up to exactly what it spent."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from costmodel.core.usage import Usage
from costmodel.guard.spendlog import SessionRecord
from costmodel.reconcile.exports import ModelNames
from costmodel.reconcile.recorded import _session_rows, recorded_from_spend_logs
from costmodel.reconcile.window import Window

STT, LLM = "deepgram/nova-3", "openai/gpt-5.4-mini"
START = datetime(2026, 11, 29, 23, 58, tzinfo=UTC)   # runs past midnight: Nov 29's spend


def session(spent: str, usage: tuple[Usage, ...], model: str | None = LLM,
            truncated: bool = False) -> SessionRecord:
    return SessionRecord(session_id="s1", scope="acme", model=model, started_at=START,
                         ended_at=START, seconds=240.0, spent_usd=D(spent), responses=2,
                         usage=usage, usage_truncated=truncated, end="closed")


# gpt-5.4-mini text input $0.75 / 1M: 100,000 tokens = $0.075; nova-3 $0.0077 a minute (per
# second): 60 s = $0.0077
TRAIL = (Usage(LLM, {"text.input": 100_000}), Usage(STT, audio_seconds=D(60)))


def split(rec: SessionRecord) -> dict[str, D]:
    from costmodel.core.catalog import default_catalog
    return {m: usd for _, m, usd, *_ in _session_rows(rec, ModelNames(default_catalog()))}


def test_a_session_is_split_by_its_usage_trail():
    assert split(session("0.0827", TRAIL)) == {LLM: D("0.075"), STT: D("0.0077")}


def test_what_re_pricing_leaves_out_stays_with_the_sessions_model():
    # spent 0.09: 0.0827 re-priced, the 0.0073 the trail does not show is the LLM's
    assert split(session("0.09", TRAIL)) == {LLM: D("0.0823"), STT: D("0.0077")}
    # a trail cut short says nothing reliable about shares: all to the session's model
    assert split(session("0.09", TRAIL, truncated=True)) == {LLM: D("0.09")}


def test_re_pricing_above_the_spend_shares_it_in_proportion():
    # the session's model is not in its trail here, so the excess cannot be taken from it
    got = split(session("0.0413500", TRAIL, model="cartesia/sonic-3"))
    assert sum(got.values()) == D("0.04135")                 # exactly what was spent
    assert got[LLM] == D("0.0375") and got[STT] == D("0.00385")   # half of each


@given(st.decimals(min_value=0, max_value=10, places=9))
def test_the_split_always_adds_up_to_the_spend(spent):
    assert sum(split(session(str(spent), TRAIL)).values()) == spent


def test_spend_logs_filtered_by_window_and_scope(tmp_path):
    line = {"session_id": "s1", "scope": "acme", "model": LLM, "spent_usd": "0.075",
            "started_at": START.isoformat(), "ended_at": START.isoformat(), "seconds": 240,
            "usage": [{"model": LLM, "tokens": {"text.input": 100000}}]}
    log = tmp_path / "spend.jsonl"
    log.write_text(json.dumps(line) + "\n" + json.dumps(line) + "\n")   # a session twice
    rec = recorded_from_spend_logs([log])
    assert [(str(d.day), d.model, d.usd, d.calls) for d in rec.days] == [
        ("2026-11-29", LLM, D("0.075"), 1)]
    assert "counted once" in rec.notes[0]
    assert recorded_from_spend_logs([log], scope="globex").days == []
    assert recorded_from_spend_logs([log], window=Window(START.date().replace(day=30))).days == []
