"""The pricing function: exact, itemised, never zero for what it does not know."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel import (
    Catalog,
    NoPriceInForceError,
    UnknownModelError,
    UnknownRateError,
    Usage,
    price,
    summarize,
)
from costmodel.adapters.openai_realtime import tokens_from_realtime_usage

# OpenAI's documented example (guides/realtime-costs): input 132 = text 119 + audio 13,
# of which 64 text tokens cached; output 121 = text 30 + audio 91.
GUIDE_USAGE = {
    "total_tokens": 253, "input_tokens": 132, "output_tokens": 121,
    "input_token_details": {"text_tokens": 119, "audio_tokens": 13, "image_tokens": 0,
                            "cached_tokens": 64,
                            "cached_tokens_details": {"text_tokens": 64, "audio_tokens": 0,
                                                      "image_tokens": 0}},
    "output_token_details": {"text_tokens": 30, "audio_tokens": 91},
}


def test_openai_guide_example_at_gpt_realtime_1_5_rates(builtin):
    tokens = tokens_from_realtime_usage(GUIDE_USAGE)
    # Cached text is a subset of text input: 119 - 64 = 55 uncached.
    assert tokens == {"text.input": 55, "text.cached": 64, "audio.input": 13,
                      "text.output": 30, "audio.output": 91}
    cost = price(Usage("openai/gpt-realtime-1.5", tokens, at=date(2026, 11, 25)), builtin)
    # text in     55 x $4.00/1M  = 0.000220
    # text cached 64 x $0.40/1M  = 0.0000256
    # audio in    13 x $32/1M    = 0.000416
    # text out    30 x $16/1M    = 0.000480
    # audio out   91 x $64/1M    = 0.005824
    # total                        0.0069656
    assert cost.total_usd == D("0.0069656")
    assert {li.item: li.usd for li in cost.line_items} == {
        "text.input": D("0.000220"), "text.cached": D("0.0000256"), "audio.input": D("0.000416"),
        "text.output": D("0.000480"), "audio.output": D("0.005824")}
    assert sum(li.usd for li in cost.line_items) == cost.total_usd


def test_line_items_carry_quantity_unit_and_rate(toy):
    cost = price(Usage("toy/realtime", {"audio.output": 1000}, at=date(2026, 6, 1)), toy)
    (li,) = cost.line_items
    assert (li.item, li.quantity, li.unit, li.rate_usd, li.usd) == (
        "audio.output", D(1000), "tokens", D("0.00004"), D("0.04"))  # 1000 x $40/1M


def test_the_rate_in_force_on_the_usage_date_is_used(toy):
    u = Usage("toy/realtime", {"audio.input": 1_000_000})
    assert price(u.with_(at=date(2025, 6, 1)), toy).total_usd == D(40)
    assert price(u.with_(at=date(2026, 1, 1)), toy).total_usd == D(20)  # new price that day
    with pytest.raises(NoPriceInForceError, match="starts 2025-01-01"):
        price(u.with_(at=date(2024, 12, 31)), toy)


def test_alias_resolves_to_the_same_entry(toy):
    a = price(Usage("toy-rt", {"text.input": 10}, at=date(2026, 2, 1)), toy)
    assert a.model == "toy/realtime"


def test_telephony_rounds_up_to_whole_minutes_per_call(toy):
    # 61 s on a per-minute line bills 2 minutes: 2 x $0.01
    cost = price(Usage("toy/phone", connection_seconds=D(61)), toy)
    assert cost.total_usd == D("0.02")
    (li,) = cost.line_items
    assert (li.item, li.quantity, li.unit) == ("connection", D(120), "seconds")
    # exactly 60 s is one minute, not two
    assert price(Usage("toy/phone", connection_seconds=D(60)), toy).total_usd == D("0.01")


def test_billing_increment_and_minimum(toy):
    per_s = D("0.36") / 3600  # $0.36/h = $0.0001/s
    # 10 s -> below the 30 s minimum
    assert price(Usage("toy/stt", audio_seconds=D(10)), toy).total_usd == 30 * per_s
    # 31 s -> rounded up to 45 s (15 s steps)
    assert price(Usage("toy/stt", audio_seconds=D(31)), toy).total_usd == 45 * per_s
    # nothing used, nothing billed (the minimum applies once something is)
    assert price(Usage("toy/stt"), toy).total_usd == 0


def test_characters(toy):
    # 1,234 characters x $50 / 1M = $0.0617
    assert price(Usage("toy/tts", characters=1234), toy).total_usd == D("0.0617")


def test_self_hosted_session_share(toy):
    # 2 GPUs x $2.40/h over 8 sessions at 50% use = $1.20 per session-hour
    cost = price(Usage("toy/open-model", connection_seconds=D(3600)), toy)
    assert cost.total_usd == D("1.2")
    assert cost.line_items[0].item == "gpu_share"


def test_unknown_rate_is_an_error_not_zero(toy):
    # toy/phone has no token rates at all
    with pytest.raises(UnknownRateError, match="toy/phone has no known rate for text.input"):
        price(Usage("toy/phone", {"text.input": 5}), toy)
    with pytest.raises(UnknownRateError, match="characters"):
        price(Usage("toy/phone", characters=5), toy)
    # image tokens on a model without image rates
    with pytest.raises(UnknownRateError, match="image.input"):
        price(Usage("toy/realtime", {"image.input": 1}, at=date(2026, 2, 1)), toy)


def test_zero_quantities_of_unpriced_kinds_are_fine(toy):
    assert price(Usage("toy/phone", {"text.input": 0}), toy).total_usd == 0


def test_unknown_model_names_near_matches(toy):
    with pytest.raises(UnknownModelError) as info:
        price(Usage("toy/realtme", {"text.input": 1}), toy)
    assert "toy/realtime" in info.value.suggestions
    # (its exit code at the command line, 2, is tested with the CLI: tests/cli/test_exit_codes.py)


def test_summarize_adds_line_items_by_model_and_item(toy):
    day = date(2026, 2, 1)
    costs = [price(Usage("toy/realtime", {"audio.input": n}, at=day), toy) for n in (100, 200)]
    (li,) = summarize(costs)
    assert (li.quantity, li.usd) == (D(300), D("0.006"))  # 300 x $20/1M


# ---- properties over the whole built-in catalog ---------------------------------------------

counts = st.integers(min_value=0, max_value=10_000_000)


def _token_models(catalog):
    today = date.today()
    out = []
    for e in catalog:
        period = e.period_on(today)
        if period is not None and period.tokens:
            out.append((e.id, period.token_rates_per_mtok()))
    return out


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_never_negative_and_more_tokens_never_cheaper(builtin, data):
    model, rates = data.draw(st.sampled_from(_token_models(builtin)))
    key = data.draw(st.sampled_from(sorted(rates)))
    n = data.draw(counts)
    extra = data.draw(counts)
    base = price(Usage(model, {key: n}), builtin).total_usd
    more = price(Usage(model, {key: n + extra}), builtin).total_usd
    assert base >= 0
    assert more >= base


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_cached_is_never_dearer_than_uncached(builtin, data):
    candidates = [(m, mod) for m, r in _token_models(builtin)
                  for mod in ("text", "audio", "image")
                  if f"{mod}.input" in r and f"{mod}.cached" in r]
    model, modality = data.draw(st.sampled_from(candidates))
    n = data.draw(counts)
    cached = price(Usage(model, {f"{modality}.cached": n}), builtin).total_usd
    uncached = price(Usage(model, {f"{modality}.input": n}), builtin).total_usd
    assert cached <= uncached


@settings(max_examples=100, deadline=None)
@given(seconds=st.decimals(min_value=0, max_value=100_000, places=3),
       more=st.decimals(min_value=0, max_value=1000, places=3))
def test_longer_calls_never_cost_less(toy, seconds, more):
    for model in ("toy/phone", "toy/stt"):
        field = "connection_seconds" if model == "toy/phone" else "audio_seconds"
        a = price(Usage(model, **{field: seconds}), toy).total_usd
        b = price(Usage(model, **{field: seconds + more}), toy).total_usd
        assert 0 <= a <= b


def test_time_rates_multiply_before_dividing_so_amounts_stay_exact(tmp_path):
    from costmodel import Catalog

    from ..conftest import write

    write(tmp_path / "c", "line.yaml", """
        provider: line
        models:
          - id: line/minute
            kind: telephony
            name: per-minute line
            prices:
              - effective: 2025-01-01
                checked: 2025-01-02
                source: https://example.com/line
                connection: {usd_per_minute: 0.0085, increment_seconds: 60}
          - id: line/second
            kind: stt
            name: per-minute rate, billed per second
            prices:
              - effective: 2025-01-01
                checked: 2025-01-02
                source: https://example.com/stt
                audio: {usd_per_minute: 0.0048}
        """)
    cat = Catalog.load([tmp_path / "c"], include_builtin=False)
    # 61 s -> 2 min x $0.0085 = $0.017 exactly (0.0085/60 per second would not be exact)
    amount = price(Usage("line/minute", connection_seconds=D(61)), cat).total_usd
    assert amount == D("0.017") and amount.as_tuple().exponent >= -4
    # 7 s x $0.0048/min = $0.00056 exactly
    assert price(Usage("line/second", audio_seconds=D(7)), cat).total_usd == D("0.00056")


def test_usage_checks_types_and_takes_float_seconds_exactly():
    from costmodel import UsageError

    with pytest.raises(UsageError, match="whole number of tokens"):
        Usage("toy/realtime", {"audio.input": 1.5})
    with pytest.raises(UsageError, match="whole number of tokens"):
        Usage("toy/realtime", {"audio.input": "7"})
    assert Usage("toy/stt", audio_seconds=1.1).audio_seconds == D("1.1")  # via repr, exact
    with pytest.raises(UsageError, match="seconds must be a number"):
        Usage("toy/stt", audio_seconds="12")


def test_time_billed_models_ignore_informational_tokens(builtin):
    u = Usage("xai/grok-voice-agent", {"audio.input": 900, "audio.output": 1500},
              connection_seconds=D(60))
    assert price(u, builtin).total_usd == D("0.05")


# ---- what the hot paths leave out (mutation testing, issue 10 item 7) -----------------------

MIXED = """
provider: mix
models:
  - id: mix/finer
    kind: llm
    name: A rate finer than a pico-dollar a token
    prices:
      - effective: 2025-01-01
        checked: 2025-01-02
        source: https://example.com/mix
        tokens:
          text: {input: 0.0000015, output: 3}
  - id: mix/finest
    kind: llm
    name: Every rate finer than a pico-dollar a token
    prices:
      - effective: 2025-01-01
        checked: 2025-01-02
        source: https://example.com/mix
        tokens:
          text: {input: 0.0000015, output: 0.0000025}
  - id: mix/everything
    kind: realtime
    name: Tokens, connection time, audio time and characters
    prices:
      - effective: 2025-01-01
        checked: 2025-01-02
        source: https://example.com/mix
        tokens:
          text: {input: 1, cached: 0.5, output: 4}
          audio: {input: 10, cached: 1, output: 20}
        connection: {usd_per_minute: 0.06}
        audio: {usd_per_minute: 0.6}
        characters: {usd_per_mchar: 10}
"""


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    from costmodel import Catalog

    from ..conftest import write
    d = tmp_path_factory.mktemp("mix")
    write(d, "mix.yaml", MIXED)
    return Catalog.load([d], include_builtin=False)


DAY = date(2026, 1, 1)


def test_a_rate_finer_than_a_pico_dollar_is_summed_exactly_in_decimal(mixed):
    # $0.0000015 per 1M tokens is 1.5e-12 per token: not a whole number of pico-dollars
    cost = price(Usage("mix/finer", {"text.input": 1_000_000, "text.output": 2}, at=DAY), mixed)
    # 1,000,000 x $0.0000015/1M + 2 x $3/1M = $0.0000015 + $0.000006
    assert cost.total_usd == D("0.0000075")
    assert price(Usage("mix/finer", {"text.input": 3}, at=DAY), mixed).total_usd == D("4.5E-12")


def test_rates_all_finer_than_a_pico_dollar_are_not_rounded_to_one(mixed):
    # 1.5e-12 and 2.5e-12 per token: 2 x 1.5e-12 + 2 x 2.5e-12 = 8e-12, not 2 x 1 + 2 x 2
    usage = Usage("mix/finest", {"text.input": 2, "text.output": 2}, at=DAY)
    assert price(usage, mixed).total_usd == D("8E-12")


def test_line_items_read_input_cached_output_text_before_audio(mixed):
    usage = Usage("mix/everything", {"audio.output": 1, "text.output": 1, "audio.cached": 1,
                                     "text.cached": 1, "audio.input": 1, "text.input": 1},
                  at=DAY)
    items = [li.item for li in summarize([price(usage, mixed)])]
    assert items == ["text.input", "audio.input", "text.cached", "audio.cached",
                     "text.output", "audio.output"]


def test_time_and_character_items_follow_the_tokens_connection_first(mixed):
    # seen in the order characters, audio time, connection, tokens: listed in reading order
    costs = [price(Usage("mix/everything", characters=1000, at=DAY), mixed),
             price(Usage("mix/everything", audio_seconds=D(30), at=DAY), mixed),
             price(Usage("mix/everything", connection_seconds=D(60), at=DAY), mixed),
             price(Usage("mix/everything", {"text.input": 5}, at=DAY), mixed)]
    items = summarize(costs)
    assert [li.item for li in items] == ["text.input", "connection", "audio_time", "characters"]
    # $0.06/min x 1 min, $0.6/min x 0.5 min, 1000 x $10/1M, 5 x $1/1M
    assert [li.usd for li in items] == [D("0.000005"), D("0.06"), D("0.3"), D("0.01")]


def test_summarize_keeps_a_rate_only_while_it_is_the_same(toy):
    # toy/realtime audio input: $40/1M in 2025, $20/1M from 2026-01-01
    before = price(Usage("toy/realtime", {"audio.input": 100}, at=date(2025, 6, 1)), toy)
    after = price(Usage("toy/realtime", {"audio.input": 100}, at=date(2026, 6, 1)), toy)
    (same,) = summarize([after, after])
    assert same.rate_usd == D(20) / 10**6
    (mixed_rates,) = summarize([before, after])
    assert mixed_rates.rate_usd is None               # no single rate over a price change
    assert (mixed_rates.quantity, mixed_rates.usd) == (D(200), D("0.006"))  # 0.004 + 0.002


def test_an_unpriced_quantity_names_everything_the_model_does_price(toy):
    with pytest.raises(UnknownRateError) as info:
        price(Usage("toy/phone", audio_seconds=D(5), at=DAY), toy)
    assert info.value.what == "audio time"
    assert info.value.known == ("connection time",)
    with pytest.raises(UnknownRateError) as info:
        price(Usage("toy/tts", {"text.input": 5}, at=DAY), toy)
    assert info.value.known == ("characters",)
    with pytest.raises(UnknownRateError) as info:
        price(Usage("toy/stt", characters=5, at=DAY), toy)
    assert info.value.known == ("audio time",)
    with pytest.raises(UnknownRateError) as info:
        price(Usage("toy/open-model", characters=5, at=DAY), toy)
    assert info.value.known == ("session time (self-hosted)",)


# ---- rates per second and the day a usage is priced on (mutation testing, issue 10 item 7) --

def test_time_line_items_give_their_rate_per_second(toy):
    (phone,) = price(Usage("toy/phone", connection_seconds=D(60)), toy).line_items
    assert phone.rate_usd == D("0.01") / 60                     # $0.01 a minute
    (stt,) = price(Usage("toy/stt", audio_seconds=D(30)), toy).line_items
    assert stt.rate_usd == D("0.0001")                          # $0.36 an hour / 3600
    (share,) = price(Usage("toy/open-model", connection_seconds=D(3600)), toy).line_items
    # 2 GPUs x $2.40/h / (8 sessions x 0.5 x 3600 s) = $1.20 a session-hour / 3600
    assert abs(share.rate_usd * 3600 - D("1.2")) < D("1e-20")


def test_a_dated_usage_priced_with_a_day_given_keeps_its_own_date(toy_dir):
    cat = Catalog.load([toy_dir], include_builtin=False)
    one_mtok = Usage("toy/realtime", {"audio.input": 1_000_000})
    assert price(one_mtok, cat).total_usd == D(20)    # today: the 2026 rate, now compiled
    # dated mid-2025 ($40/1M then): its own date wins over `on`, and over today's rates
    dated = one_mtok.with_(at=date(2025, 6, 1))
    assert price(dated, cat, on=date(2026, 6, 1)).total_usd == D(40)
