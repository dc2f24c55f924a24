"""`turns.first_response_s`: the first answer comes a few seconds into a call, not a turn in.

Recorded sessions show it (issue 14): a call of T seconds with turns of t seconds holds about
T / t + 1/2 - first / t answers, where the historical rule floor(T / t) gives about T / t - 1/2;
and a model that streams and bills all input audio has heard only `first` seconds of it when
it answers the first time.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from costmodel.errors import ScenarioError
from costmodel.estimation.scenario import Scenario, load_scenario
from costmodel.estimation.simulate import build_stack

DAY = date(2026, 11, 25)


def scenario(**turns) -> Scenario:
    return Scenario.model_validate({
        "name": "t", "volume": {"calls_per_month": 1000}, "duration_min": {"fixed": 6},
        "prompt": {"system_tokens": 3000}, "turns": turns,
        "stacks": ["openai/gpt-realtime-1.5"]})


def test_without_it_the_rule_is_unchanged():
    sc = scenario(seconds_per_turn=15)
    assert [sc.responses_per_call(s) for s in (1, 14, 15, 29, 30, 360)] == [1, 1, 1, 1, 2, 24]
    assert sc.turns.responses(np.array([1, 14, 15, 29, 30, 360])).tolist() == [
        1, 1, 1, 1, 2, 24]
    assert sc.turns.first_s == 15


def test_answers_come_at_first_then_every_turn():
    # first answer at 6 s, then at 21, 36, ...: a 360 s call has answers at 6 + 15 (k - 1)
    # <= 360, i.e. k <= 24.6: 24 answers; a 20 s call has 1; a 21 s call 2.
    sc = scenario(seconds_per_turn=15, first_response_s=6)
    assert [sc.responses_per_call(s) for s in (1, 6, 20, 21, 360)] == [1, 1, 1, 2, 24]
    assert sc.turns.responses(np.array([1, 6, 20, 21, 360])).tolist() == [1, 1, 1, 2, 24]
    assert sc.turns.response_at_s(3) == 36


@pytest.mark.parametrize("first", [0, 3.5, 6, 15, 40])
def test_the_vector_and_scalar_rules_agree(first):
    sc = scenario(seconds_per_turn=12.5, first_response_s=first)
    seconds = np.arange(0, 3000)
    assert sc.turns.responses(seconds).tolist() == [sc.responses_per_call(s) for s in seconds]


def test_a_silence_billing_model_has_heard_only_the_first_seconds_when_it_first_answers(
        builtin):
    # Gemini Live bills every second of the input stream at 25 tokens/s. Turns of 15 s, the
    # first answer at 6 s: answer 1 carries 6 x 25 = 150 audio tokens, answer 2 the history
    # (150 + the answer's 7 s x 25 = 175 out) and 15 s x 25 = 375 new: 700.
    sc = scenario(seconds_per_turn=15, user_speech_s=5, agent_speech_s=7, first_response_s=6)
    model = build_stack("google/gemini-3.8-live", sc, builtin, DAY)
    first, second = (model.response_usages(k)[0] for k in (1, 2))
    audio = lambda u: u.tokens.get("audio.input", 0) + u.tokens.get("audio.cached", 0)  # noqa: E731
    assert audio(first) == 150
    assert audio(second) == 150 + 175 + 375
    # Without first_response_s the whole first turn was billed before the first answer.
    old = build_stack("google/gemini-3.8-live", scenario(seconds_per_turn=15, user_speech_s=5,
                                                         agent_speech_s=7), builtin, DAY)
    assert audio(old.response_usages(1)[0]) == 375


def test_a_model_billing_only_speech_is_unaffected_per_answer(builtin):
    # gpt-realtime-1.5 bills the user's speech (server VAD), so an answer's usage is the same;
    # only the number of answers in a call changes.
    with_first = build_stack("openai/gpt-realtime-1.5", scenario(first_response_s=6), builtin,
                             DAY)
    without = build_stack("openai/gpt-realtime-1.5", scenario(), builtin, DAY)
    assert [with_first.response_usages(k) for k in (1, 2, 30)] == [
        without.response_usages(k) for k in (1, 2, 30)]


def test_it_is_read_from_a_scenario_file_and_checked(tmp_path):
    good = tmp_path / "s.yaml"
    good.write_text("name: s\nvolume: {calls_per_month: 10}\nduration_min: {fixed: 5}\n"
                    "turns: {seconds_per_turn: 12, first_response_s: 5.5}\n"
                    "stacks: [openai/gpt-realtime-1.5]\n")
    assert load_scenario(good).turns.first_response_s == 5.5
    bad = tmp_path / "b.yaml"
    bad.write_text(good.read_text().replace("5.5", "-1"))
    with pytest.raises(ScenarioError, match="turns.first_response_s"):
        load_scenario(bad)


def test_a_compressing_gemini_session_goes_on_past_fifteen_minutes(builtin):
    # Gemini Live's 900 s limit holds only without context compression, and the estimator
    # prices Gemini with compression (its truncation threshold): no reconnect, so answer 61
    # (past 900 s with 15 s turns) still carries the history.
    model = build_stack("google/gemini-3.8-live", scenario(seconds_per_turn=15), builtin, DAY)
    assert model.components[0].reconnects is False
    assert model.response_usages(61)[0].input_tokens > model.response_usages(60)[0].input_tokens
