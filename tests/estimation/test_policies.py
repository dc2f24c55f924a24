"""The scenario's policies: what the budget guard does to calls, in the monthly estimate.

Calls ended at a maximum length cost what their first minutes cost; a ladder step changes
the answers from the one at which the call's realtime spend reaches its amount. Each estimate
with policies says what they save a month against the same calls without them.
"""

from __future__ import annotations

from datetime import date

import pytest

from costmodel import Catalog
from costmodel.errors import ScenarioError
from costmodel.estimation import TableCache, estimate
from costmodel.estimation.scenario import Scenario, load_scenario

from ..conftest import write

DAY = date(2026, 11, 25)
POL = """
provider: pol
models:
  - id: pol/rt
    kind: realtime
    name: Round rates, a 2,000-token context
    facts:
      audio_tokens_per_second_in: 10
      audio_tokens_per_second_out: 20
      rebills_context: true
      bills_silence: false
      truncation_threshold_tokens: 2000
    prices:
      - effective: 2025-01-01
        checked: 2025-01-02
        source: https://example.com/pol
        tokens:
          text: {input: 1, output: 10}
          audio: {input: 10, output: 100}
"""


def scenario(stack: str, minutes: float = 2, **over) -> Scenario:
    # 15 s turns: 5 s of user speech (50 audio tokens), 10 s of agent speech (200), no text
    # out; 1,000 tokens of instructions; no cache. A 2-minute call has 120 // 15 = 8 answers.
    data = {"name": "t", "volume": {"calls_per_month": 1000},
            "duration_min": {"fixed": minutes},
            "turns": {"seconds_per_turn": 15, "user_speech_s": 5, "agent_speech_s": 10,
                      "agent_text_tokens_per_s": 0},
            "prompt": {"system_tokens": 1000}, "stacks": [stack]} | over
    return Scenario.model_validate(data)


def monthly(sc: Scenario, catalog=None):
    [r] = estimate(sc, catalog, calls=1000, on=DAY, cache=TableCache()).results
    return r


def test_calls_ended_at_the_maximum_length_cost_that_long(builtin):
    # xAI bills the connection, $0.05 a minute: a 30-minute call $1.50, ended at 20 $1.00;
    # 1,000 calls a month: $1,500 -> $1,000, $500 saved.
    plain = monthly(scenario("xai/grok-voice-agent", 30), builtin)
    capped = monthly(scenario("xai/grok-voice-agent", 30, policies={"max_call_minutes": 20}),
                     builtin)
    assert plain.monthly_usd == pytest.approx(1500) and plain.policy_saving_monthly_usd is None
    assert capped.monthly_usd == pytest.approx(1000)
    assert capped.mean_minutes == pytest.approx(20)
    assert capped.policy_saving_monthly_usd == pytest.approx(500)
    assert any("calls ended at 20 minutes): $500.00 a month less than without them (33.3% "
               "of $1,500.00)" in n for n in capped.notes)


def test_a_lognormal_spread_is_cut_at_the_maximum_too(builtin):
    sc = scenario("xai/grok-voice-agent", duration_min={"lognormal": {"mean": 6, "p95": 18}},
                  policies={"max_call_minutes": 10})
    r = monthly(sc, builtin)
    assert r.per_call_usd["p99"] == pytest.approx(0.50)      # 10 minutes x $0.05, no more
    assert r.policy_saving_monthly_usd > 0


def test_shorter_replies_past_a_spend_cost_less_by_the_tokens_they_leave_out(builtin):
    # gpt-realtime-1.5 ($4 text in, $32 audio in, $64 audio out per 1M). Answer k re-sends
    # the history: audio in = 250k - 200, out 200: cost_k = $0.0104 + $0.008 k, so
    # $0.0184, $0.0264, $0.0344 ... $0.0744: $0.3712 a call.
    # The step at $0.05: answers 1-3 reach $0.0792, so replies are cut at 100 tokens from
    # answer 3: audio in 550, 700, ... 1,300 (+150 an answer), out 100:
    # $0.0280 + $0.0328 + ... + $0.0520 = $0.2400, with answers 1-2: $0.2848 a call.
    # $0.3712 - $0.2848 = $0.0864 a call, $86.40 a month.
    sc = scenario("openai/gpt-realtime-1.5",
                  policies={"ladder": [{"at_usd": 0.05, "max_output_tokens": 100}]})
    r = monthly(sc, builtin)
    assert r.per_call_usd["mean"] == pytest.approx(0.2848)
    assert r.policy_saving_monthly_usd == pytest.approx(86.40)
    assert "policies: replies cut at 100 tokens from answer 3 (realtime spend past $0.05)" \
        in r.notes


def test_a_lower_retention_past_a_spend_empties_the_context_at_truncation(tmp_path):
    write(tmp_path, "pol.yaml", POL)
    catalog = Catalog.load([tmp_path], include_builtin=False)
    # $1 text in, $10 audio in, $100 audio out per 1M; truncation past 2,000 tokens.
    # Answers 1-4: audio in 50, 300, 550, 800: $0.0215, $0.0240, $0.0265, $0.0290; from
    # answer 5 the context is truncated to 2,000 (keep 1.0): $0.0310 each: $0.2250 a call.
    # The step at $0.07 (answers 1-3: $0.072) keeps 0.5 x 2,000 = the instructions alone at
    # answer 5's truncation: answers 5-8 are answers 1-4 again: $0.2020 a call.
    sc = scenario("pol/rt", policies={"ladder": [{"at_usd": 0.07, "retention_ratio": 0.5}]})
    r = monthly(sc, catalog)
    assert r.per_call_usd["mean"] == pytest.approx(0.2020)
    assert r.policy_saving_monthly_usd == pytest.approx(23.0)       # $0.023 x 1,000 calls


def test_a_ladder_needs_a_realtime_model_billed_by_tokens(builtin):
    sc = scenario("xai/grok-voice-agent",
                  policies={"ladder": [{"at_usd": 0.05, "max_output_tokens": 100}]})
    r = monthly(sc, builtin)
    assert r.policy_saving_monthly_usd == 0
    assert "policies: the ladder applies to realtime models billed by tokens; " \
           "xai/grok-voice-agent has none" in r.notes


def test_a_step_no_call_reaches_is_noted(builtin):
    sc = scenario("openai/gpt-realtime-1.5",
                  policies={"ladder": [{"at_usd": 5, "max_output_tokens": 100}]})
    r = monthly(sc, builtin)
    assert r.policy_saving_monthly_usd == 0
    assert any("no call reaches $5.00" in n for n in r.notes)


def test_policy_mistakes_name_the_file_line_and_key(tmp_path):
    path = write(tmp_path, "s.yaml", """
        name: t
        volume: {calls_per_month: 10}
        duration_min: {fixed: 5}
        stacks: [openai/gpt-realtime-1.5]
        policies:
          max_call_minutes: 20
          ladder:
            - {at_usd: 0.5, max_output_tokens: 300, retention_ratio: 0.5}
        """)
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    assert str(exc.value).startswith(f"{path}:8: policies.ladder.0: ")
    assert "max_output_tokens or retention_ratio (one)" in str(exc.value)


def test_the_estimate_command_shows_the_saving(tmp_path):
    import json

    from typer.testing import CliRunner

    from costmodel.cli import app

    path = write(tmp_path, "s.yaml", """
        name: capped
        volume: {calls_per_month: 1000}
        duration_min: {fixed: 30}
        stacks: [xai/grok-voice-agent]
        policies: {max_call_minutes: 20}
        simulation: {calls: 1000}
        """)
    res = CliRunner().invoke(app, ["estimate", str(path), "--json", "--date", "2026-11-25"])
    assert res.exit_code == 0, res.output
    [r] = json.loads(res.output)["results"]
    assert (r["monthly_usd"], r["policy_saving_monthly_usd"]) == (1000.0, 500.0)
