"""The ladder: each step taken once at its threshold, and what it is expected to save.

The test model's rates are round (USD per 1M tokens): text input 1, audio input 10, audio
output 100; no cache; 10 audio tokens a second of user speech. Every session below starts
with one response of 1,000 text tokens (the instructions), 100 audio tokens in and a 400-token
reply:

    response 1 = 1,000 x $1 + 100 x $10 + 400 x $100                    = $0.042
    next (2)   = 1,000 x $1 + (100 + 400 + 100 user) x $10 + 400 x $100  = $0.047

and each response after re-sends the last input and reply plus 100 user tokens (+$0.005 a
response). A step's saving prices the responses that fit the limit without it, with it and
without it.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from costmodel import Catalog
from costmodel.core.usage import Usage
from costmodel.errors import UsageError
from costmodel.guard import DEFAULT_LADDER, Ladder, SessionGuard, Truncation, setup_cost
from costmodel.guard.projector import capped_output

from ..conftest import write

LAD = """
provider: lad
models:
  - id: lad/rt
    kind: realtime
    name: Round rates
    facts:
      audio_tokens_per_second_in: 10
      audio_tokens_per_second_out: 20
      rebills_context: true
      truncation_threshold_tokens: 10000
    prices:
      - effective: 2025-01-01
        checked: 2025-01-02
        source: https://example.com/lad
        tokens:
          text: {input: 1, output: 10}
          audio: {input: 10, output: 100}
  - id: lad/time
    kind: realtime
    name: Billed by the minute
    facts: {bills_tokens: false}
    prices:
      - effective: 2025-01-01
        checked: 2025-01-02
        source: https://example.com/lad
        connection: {usd_per_minute: 0.06, increment_seconds: 1}
"""


@pytest.fixture(scope="module")
def cat(tmp_path_factory) -> Catalog:
    d = tmp_path_factory.mktemp("lad")
    write(d, "lad.yaml", LAD)
    return Catalog.load([d], include_builtin=False)


def first_response(cat: Catalog, limit: str = "0.10") -> tuple[SessionGuard, object]:
    guard = SessionGuard(limit, model="lad/rt", catalog=cat)
    d = guard.observe(Usage("lad/rt", {"text.input": 1000, "audio.input": 100,
                                       "audio.output": 400}))
    assert (d.spent_usd, d.projected_next_usd) == (D("0.042"), D("0.047"))
    return guard, d


def climb(cat, steps, limit="0.10", items=None):
    guard, d = first_response(cat, limit)
    return Ladder.of(steps).climb(guard).check(d, items)


def test_lower_max_output_tokens_saves_the_reply_tokens_and_buys_responses(cat):
    [step] = climb(cat, [{"at": 0.5, "max_output_tokens": 100}])
    # $0.042 spent + $0.047 next = $0.089 >= 50% of $0.10: taken. $0.058 left:
    # without: response 2 ($0.047) fits, response 3 ($0.052) does not          -> 1, $0.047
    # with:    replies of 100 tokens: 1,000 + 600 x 10 + 100 x 100 = $0.017      -> $0.017
    assert (step.horizon_responses, step.without_usd, step.with_usd) == (1, D("0.047"),
                                                                          D("0.017"))
    assert step.expected_saving_usd == D("0.030")
    # ...and $0.058 then holds $0.017 + $0.019 + $0.021 = $0.057: two more responses.
    assert step.extra_responses == 2
    assert step.applied and step.json()["expected_saving_usd"] == "0.030000000000"


def test_tighter_truncation_is_priced_past_the_instructions(cat):
    [step] = climb(cat, [{"at": 0.5, "truncation": {"retention_ratio": 0.5,
                                                     "post_instructions_tokens": 500}}])
    # Past 500 tokens after the 1,000 of instructions (1,500 in all), keep 1,000 + 250:
    # response 2 would send 1,600: cut to 1,250, audio 250: 1,000 + 2,500 + 40,000 = $0.0435.
    assert (step.without_usd, step.with_usd) == (D("0.047"), D("0.0435"))
    assert step.expected_saving_usd == D("0.0035")


def test_dropping_old_turns_forgets_their_share_of_the_history(cat):
    [step] = climb(cat, [{"at": 0.5, "drop_turns": {"keep_items": 2}}], items=6)
    # 4 of 6 items go: 500 history audio tokens -> 166; response 2 sends 166 + 100 user:
    # 1,000 + 2,660 + 40,000 = $0.04366.
    assert step.with_usd == D("0.04366") and step.expected_saving_usd == D("0.00334")


def test_nothing_to_drop_is_not_a_step_taken(cat):
    [step] = climb(cat, [{"at": 0.5, "drop_turns": {"keep_items": 8}}], items=6)
    assert not step.applied and "6 conversation items" in step.note
    assert step.expected_saving_usd is None


def test_wrap_up_and_end_save_the_rest_of_the_call(cat):
    # With $0.20: $0.158 left holds responses 2-4 ($0.047 + $0.052 + $0.057 = $0.156).
    wrap, end = climb(cat, [{"at": 0.4, "wrap_up": True}, {"at": 0.42, "end": True}],
                      limit="0.20")
    assert (wrap.horizon_responses, wrap.without_usd) == (3, D("0.156"))
    assert wrap.with_usd == D("0.047")              # the goodbye is one more response
    assert wrap.expected_saving_usd == D("0.109")
    assert end.with_usd == 0 and end.expected_saving_usd == D("0.156")


def test_steps_are_taken_once_each_in_threshold_order_and_never_at_a_cut(cat):
    guard, d = first_response(cat)
    c = Ladder.of([{"at": 0.95, "end": True}, {"at_usd": "0.05", "wrap_up": True},
                   {"at": 0.9, "max_output_tokens": 200}]).climb(guard)
    assert [s.step.kind for s in c.check(d)] == ["wrap_up"]    # $0.089: past $0.05 only
    assert c.check(d) == []                                     # taken once
    assert c.next_step is not None and c.next_step.kind == "max_output_tokens"
    assert c.check(d._replace(action="cut", spent_usd=D("0.09"))) == []
    assert [s.step.kind for s in c.check(d._replace(spent_usd=D("0.05")))] == \
        ["max_output_tokens", "end"]                            # $0.097: both, in order


def test_a_step_the_provider_cannot_take_is_recorded_with_why(cat):
    guard, d = first_response(cat)
    [step] = Ladder.of([{"at": 0.5, "max_output_tokens": 100}]).climb(
        guard, cannot=lambda s: "no such setting here").check(d)
    assert not step.applied and step.note == "no such setting here"
    assert step.json()["applied"] is False


def test_a_time_billed_session_takes_steps_without_a_token_saving(cat):
    t = [0.0]
    guard = SessionGuard("0.10", model="lad/time", catalog=cat, clock=lambda: t[0])
    t[0] = 60
    d = guard.tick()            # $0.06 a minute: $0.06 spent, the next 15 s $0.015
    [step] = Ladder.of([{"at": 0.5, "wrap_up": True}]).climb(guard).check(d)
    assert step.applied and step.expected_saving_usd is None
    assert "connection time" in step.note


def test_the_projector_follows_the_caps_the_provider_confirms(cat):
    guard, _ = first_response(cat)
    guard.observe({"type": "session.updated", "session": {
        "type": "realtime", "model": "lad/rt", "max_output_tokens": 100,
        "truncation": {"type": "retention_ratio", "retention_ratio": 0.5,
                       "token_limits": {"post_instructions": 500}}}})
    # capped reply and truncated input: 1,000 + 250 x 10 + 100 x 100 = $0.0135
    assert guard.projected_next_usd() == D("0.0135")
    guard.observe({"type": "session.updated", "session": {"type": "realtime",
                                                           "model": "lad/rt"}})
    assert guard.projected_next_usd() == D("0.047")   # back to the model's own settings


def test_a_client_cannot_set_the_caps(cat):
    guard, _ = first_response(cat)
    guard.observe({"type": "session.created", "session": {"type": "realtime",
                                                           "model": "lad/rt"}})
    guard.observe({"type": "session.updated", "session": {"max_output_tokens": 1}},
                  source="client")
    assert guard.projected_next_usd() == D("0.047") and guard.ignored_client_events == 1


def test_capped_output_splits_the_cap_in_proportion():
    assert capped_output(30, 150, 90) == (15, 75)
    assert capped_output(0, 400, 100) == (0, 100)
    assert capped_output(10, 20, 500) == (10, 20)


def test_setup_cost_is_the_first_responses_text_input(cat):
    guard, _ = first_response(cat)
    cost = setup_cost(guard)
    assert cost is not None
    # 1,000 text tokens x $1/1M, re-sent with every response (no cached rate here)
    assert (cost.text_tokens, cost.first_usd, cost.rebilled, cost.cached_usd) == \
        (1000, D("0.001"), True, None)
    assert setup_cost(SessionGuard("1", model="lad/rt", catalog=cat)) is None


def test_ladders_from_lists_say_which_step_is_wrong():
    with pytest.raises(UsageError, match=r"steps\[1\]: a step is exactly one of"):
        Ladder.of([{"at": 0.5, "wrap_up": True}, {"at": 0.6}])
    with pytest.raises(UsageError, match=r"steps\[0\]\.at: at must be in \(0, 1\]"):
        Ladder.of([{"at": 2, "end": True}])
    assert [s.kind for s in DEFAULT_LADDER.steps] == ["max_output_tokens", "truncation",
                                                      "wrap_up", "end"]
    assert DEFAULT_LADDER.steps[1].truncation == Truncation(D("0.5"), 8000)
