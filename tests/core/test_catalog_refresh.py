"""The catalog refresh of issue 11: each price disagreement resolved (the losing figure kept as
an alternative), promotions as periods that end, shutdown dates and what pricing does after
them, and every model added, priced with hand-checked arithmetic.

Sources are in the catalog files themselves (pricing/*.yaml); the comments here give the figure
and the arithmetic.
"""

from __future__ import annotations

import warnings
from datetime import date
from decimal import Decimal as D

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from costmodel import ModelEntry, ModelShutDownWarning, Usage, price
from costmodel.cli import app
from costmodel.estimation import Scenario
from costmodel.estimation.monthly import estimate


def usd(model: str, day: date, builtin, **usage) -> D:
    tokens = usage.pop("tokens", {})
    return price(Usage(model, tokens, **usage, at=day), builtin).total_usd


def alternatives(builtin, model: str, day: date) -> list[str]:
    period = builtin.get(model).period_on(day)
    assert period is not None
    return [f"{a.source} | {a.figure} | {a.note}" for a in period.alternatives]


TODAY = date(2026, 11, 29)   # the day the refresh was checked
MINUTE = D(60)


# ---- disagreements ---------------------------------------------------------------------------

def test_grok_voice_latest_is_priced_as_what_it_named_that_day(builtin):
    # The alias moved from think-fast-1.0 ($0.05/min) to think-fast-2.0 ($0.08/min) on
    # 2026-08-05: 60 s is $0.05 the day before and $0.08 that day.
    assert builtin.resolve("grok-voice-latest") == "xai/grok-voice-latest"
    assert usd("grok-voice-latest", date(2026, 8, 4), builtin,
               connection_seconds=MINUTE) == D("0.05")
    assert usd("grok-voice-latest", date(2026, 8, 5), builtin,
               connection_seconds=MINUTE) == D("0.08")
    # 1.0 itself stayed at $0.05; 2.0 is $0.08 from its announcement (2026-07-29)
    assert usd("grok-voice-think-fast-1.0", TODAY, builtin, connection_seconds=MINUTE) \
        == D("0.05")
    assert usd("grok-voice-think-fast-2.0", date(2026, 7, 29), builtin,
               connection_seconds=D(90)) == D("0.12")          # 90 s x $0.08/min
    # the map figure for the alias is recorded as explained
    assert any("LiteLLM" in a and "$0.08/min" in a
               for a in alternatives(builtin, "xai/grok-voice-agent", TODAY))


def test_grok_voice_latest_keeps_in_step_with_the_models_it_names(builtin):
    latest = builtin.get("xai/grok-voice-latest")
    old, new = builtin.get("xai/grok-voice-agent"), builtin.get("xai/grok-voice-think-fast-2.0")
    for day, target in ((date(2026, 8, 4), old), (date(2026, 8, 5), new), (TODAY, new)):
        mine, theirs = latest.period_on(day), target.period_on(day)
        assert mine is not None and theirs is not None
        assert mine.connection == theirs.connection, day
    assert new.successor is None and builtin.get("xai/grok-voice-agent").legacy


def test_elevenlabs_keeps_the_dated_vendor_figures(builtin):
    # 1,000 characters: Flash/Turbo $50/1M = $0.05, Multilingual v2 and v3 $100/1M = $0.10
    for model, cost in (("eleven_flash_v2_5", "0.05"), ("eleven_turbo_v2_5", "0.05"),
                        ("eleven_multilingual_v2", "0.1"), ("eleven_v3", "0.1")):
        assert usd(model, TODAY, builtin, characters=1000) == D(cost), model
    # LiteLLM's $40 / $80 are kept, saying why they lost
    for model, figure in (("elevenlabs/flash-v2.5", "$0.04"), ("elevenlabs/turbo-v2.5", "$0.04"),
                          ("elevenlabs/multilingual-v2", "$0.08"),
                          ("elevenlabs/eleven-v3", "$0.08")):
        alts = alternatives(builtin, model, TODAY)
        assert any(a.startswith("LiteLLM 1.110.2") and figure in a and "no dated source" in a
                   for a in alts), model


def test_gpt_4o_transcribe_keeps_the_pricing_page_audio_rate(builtin):
    # 1,000 audio tokens x $6/1M = $0.006 (mini: x $3/1M = $0.003)
    assert usd("openai/gpt-4o-transcribe", TODAY, builtin,
               tokens={"audio.input": 1000}) == D("0.006")
    assert usd("openai/gpt-4o-mini-transcribe", TODAY, builtin,
               tokens={"audio.input": 1000}) == D("0.003")
    for model, figure in (("openai/gpt-4o-transcribe", "$2.50"),
                          ("openai/gpt-4o-mini-transcribe", "$1.25")):
        alts = alternatives(builtin, model, TODAY)
        assert any("LiteLLM" in a and figure in a and "disputed" in a for a in alts), model


# ---- promotions ------------------------------------------------------------------------------

@pytest.mark.parametrize("model, promo, regular", [
    ("deepgram/nova-3", "0.0048", "0.0077"),
    ("deepgram/nova-3-multilingual", "0.0058", "0.0092"),
    ("deepgram/flux", "0.0065", "0.0077"),
])
def test_deepgram_streaming_promotions_end_on_september_12(builtin, model, promo, regular):
    # one minute of audio costs the per-minute rate
    assert usd(model, date(2026, 9, 12), builtin, audio_seconds=MINUTE) == D(promo)
    assert usd(model, date(2026, 9, 13), builtin, audio_seconds=MINUTE) == D(regular)
    entry = builtin.get(model)
    assert entry.promotion_note(date(2026, 9, 1)) == (
        f"promotional until 2026-09-12; after: audio ${regular}/min")
    assert entry.promotion_note(date(2026, 9, 13)) is None


def test_nova_3_regular_price_before_the_promotion(builtin):
    # $0.0077/min from 2026-03-22 (earliest dated sighting), $0.0048 from 2026-05-05
    assert usd("nova-3", date(2026, 4, 1), builtin, audio_seconds=D(30)) == D("0.00385")
    assert usd("nova-3", date(2026, 5, 5), builtin, audio_seconds=D(30)) == D("0.0024")


@pytest.mark.parametrize("tier, promo, regular", [
    ("standard", "0.056", "0.075"), ("advanced", "0.122", "0.163"), ("byo", "0.050", "0.065")])
def test_deepgram_voice_agent_is_billed_by_connection_time(builtin, tier, promo, regular):
    model = f"deepgram/voice-agent-{tier}"
    # 10 minutes of connection: 10 x the per-minute rate; tokens are informational
    ten = D(600)
    assert usd(model, date(2026, 9, 1), builtin, connection_seconds=ten,
               tokens={"text.input": 5000}) == D(promo) * 10
    assert usd(model, date(2026, 9, 13), builtin, connection_seconds=ten) == D(regular) * 10
    assert builtin.get(model).period_on(date(2026, 9, 1)).confidence == "secondary"


def _entry(*periods: dict, **fields) -> ModelEntry:
    base = {"checked": "2026-01-01", "source": "https://example.com/p",
            "audio": {"usd_per_minute": 1}}
    return ModelEntry.model_validate({"id": "x/y", "kind": "stt", "name": "Y", **fields,
                                      "prices": [{**base, **p} for p in periods]})


def test_a_period_that_ends_needs_the_next_price_the_day_after():
    ok = _entry({"effective": "2025-01-01", "promotional": True, "ends": "2025-06-30"},
                {"effective": "2025-07-01", "audio": {"usd_per_minute": 2}})
    assert ok.promotion_note(date(2025, 6, 30)) == (
        "promotional until 2025-06-30; after: audio $2/min")
    with pytest.raises(ValidationError, match="no period follows"):
        _entry({"effective": "2025-01-01", "promotional": True, "ends": "2025-06-30"})
    with pytest.raises(ValidationError, match="must take effect 2025-07-01, not 2025-08-01"):
        _entry({"effective": "2025-01-01", "ends": "2025-06-30"}, {"effective": "2025-08-01"})
    with pytest.raises(ValidationError, match="ends is before effective"):
        _entry({"effective": "2025-01-01", "ends": "2024-12-31"}, {"effective": "2025-01-01"})
    # a promotion whose end is not announced says so
    open_ended = _entry({"effective": "2025-01-01", "promotional": True})
    assert open_ended.promotion_note(date(2025, 2, 1)) == "promotional (end not announced)"


def test_lifecycle_fields_are_checked():
    with pytest.raises(ValidationError, match="successor must be a catalog id"):
        _entry({"effective": "2025-01-01"}, successor="Not An Id")
    with pytest.raises(ValidationError, match="its own successor"):
        _entry({"effective": "2025-01-01"}, successor="x/y")
    with pytest.raises(ValidationError, match="lifecycle_source must be an http"):
        _entry({"effective": "2025-01-01"}, lifecycle_source="the notes")


def test_prices_show_says_what_happens_when_a_promotion_ends():
    result = CliRunner().invoke(app, ["prices", "show", "nova-3"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "promotional until 2026-09-12; after: audio $0.0077/min" in result.output
    result = CliRunner().invoke(app, ["prices", "show", "gemini-2.0-flash-live-001"],
                                env={"COLUMNS": "200"})
    assert "shut down on 2025-12-09 (successor: google/gemini-2.5-flash-native-audio)" \
        in result.output


def test_the_estimate_notes_a_promotion_and_a_shutdown(builtin):
    sc = Scenario.model_validate({
        "name": "x", "volume": {"calls_per_month": 100}, "duration_min": {"fixed": 2},
        "stacks": ["deepgram/voice-agent-standard", "openai/gpt-4o-realtime-preview"]})
    with pytest.warns(ModelShutDownWarning, match="gpt-4o-realtime-preview"):
        est = estimate(sc, builtin, on=date(2026, 9, 1), calls=50)
    agent, legacy = est.results
    # 2 min x $0.056 = $0.112 per call while the promotion lasts
    assert agent.per_call_usd["mean"] == pytest.approx(0.112)
    assert ("deepgram/voice-agent-standard: promotional until 2026-09-12; after: "
            "connection $0.075/min") in agent.notes
    assert ("openai/gpt-4o-realtime-preview: shut down on 2026-05-07 (successor: "
            "openai/gpt-realtime-1.5); priced at its last list price") in legacy.notes


# ---- shutdowns -------------------------------------------------------------------------------

def test_usage_after_a_shutdown_is_priced_with_a_warning(builtin):
    # gemini-2.0-flash-live shut down 2025-12-09: the day before is silent, that day warns.
    # 1,000 audio tokens in x $2.10/1M = $0.0021 either way.
    tokens = {"audio.input": 1000}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert usd("gemini-2.0-flash-live-001", date(2025, 12, 8), builtin,
                   tokens=tokens) == D("0.0021")
    with pytest.warns(ModelShutDownWarning, match="shut down on 2025-12-09"):
        assert usd("gemini-2.0-flash-live-001", date(2025, 12, 9), builtin,
                   tokens=tokens) == D("0.0021")


@pytest.mark.parametrize("model, shutdown", [
    ("google/gemini-2.0-flash-live", "2025-12-09"),
    ("google/gemini-3.1-flash-live", "2026-11-17"),
    ("openai/tts-1", "2027-01-06"), ("openai/tts-1-hd", "2027-01-06"),
    ("openai/gpt-4o-mini-tts", "2027-01-06"),
    ("openai/whisper-1", "2027-02-26"), ("openai/gpt-4o-transcribe", "2027-02-26"),
    ("openai/gpt-4o-mini-transcribe", "2027-02-26"),
    ("openai/gpt-realtime", "2027-01-20"), ("openai/gpt-realtime-mini", "2027-01-20"),
    ("openai/gpt-4o-realtime-preview", "2026-05-07"),
    ("openai/gpt-4o-mini-realtime-preview", "2026-07-23"),
])
def test_shutdown_dates(builtin, model, shutdown):
    entry = builtin.get(model)
    assert entry.deprecated == date.fromisoformat(shutdown)
    assert entry.lifecycle_source is not None and entry.successor is not None


def test_every_successor_is_in_the_catalog(builtin):
    for entry in builtin:
        if entry.successor is not None:
            assert entry.successor in builtin.entries, entry.id


# ---- rates both maps price that were unpriced ------------------------------------------------

@pytest.mark.parametrize("model, bucket, rate", [
    ("openai/gpt-realtime", "image.cached", "0.50"),
    ("openai/gpt-realtime-mini", "image.input", "0.80"),
    ("openai/gpt-realtime-mini", "image.cached", "0.08"),
    ("google/gemini-3.1-flash-live", "image.input", "1.00"),
    ("google/gemini-3-flash", "audio.cached", "0.10"),
    ("google/gemini-2.5-flash", "audio.cached", "0.10"),
    ("google/gemini-2.5-flash-lite", "audio.cached", "0.03"),
])
def test_rates_that_were_unpriced(builtin, model, bucket, rate):
    # 1M tokens cost the rate; priced before the shutdowns so nothing warns
    assert usd(model, date(2026, 11, 1), builtin, tokens={bucket: 1_000_000}) == D(rate)


# ---- new models ------------------------------------------------------------------------------

NEW = [
    # (model as payloads name it, day, usage, USD, arithmetic)
    ("gemini-3.8-live", TODAY,
     {"tokens": {"text.input": 1000, "audio.input": 10_000, "audio.output": 5000,
                 "image.input": 1000}},
     "0.09175"),   # 1000 x 0.75 + 10000 x 3 + 5000 x 12 + 1000 x 1 = 91,750 / 1M
    ("gemini-3.8-live-extended-thinking", TODAY, {"tokens": {"text.output": 2000}},
     "0.009"),     # 2000 x $4.50/1M (thinking billed as output)
    ("eleven_realtime_v1_max", TODAY,
     {"connection_seconds": D(120), "tokens": {"text.input": 10_000, "text.cached": 10_000,
                                                "text.output": 1000}},
     "0.1888"),    # 2 min x $0.08 = 0.16; 10k x 1.80 + 10k x 0.18 + 1k x 9 = 28,800 / 1M
    ("eleven_realtime_v1_mini", TODAY,
     {"connection_seconds": D(60), "tokens": {"text.input": 10_000, "text.output": 1000}},
     "0.088"),     # 0.08 + (10k x 0.20 + 1k x 6) / 1M = 0.08 + 0.008
    ("elevenlabs/agents", TODAY, {"connection_seconds": D(300)}, "0.4"),   # 5 min x $0.08
    ("scribe_v2_realtime", TODAY, {"audio_seconds": D(3600)}, "0.39"),    # 1 h x $0.39
    ("gpt-live-1", TODAY, {"connection_seconds": D(90)}, "0.075"),        # 1.5 min x $0.05
    ("gpt-transcribe", TODAY, {"audio_seconds": D(120)}, "0.009"),        # 2 min x $0.0045
    ("gpt-live-transcribe", TODAY, {"audio_seconds": D(60)}, "0.017"),    # 1 min x $0.017
    ("gpt-realtime-translate", TODAY, {"connection_seconds": D(30)}, "0.017"),  # 0.5 x $0.034
    ("gpt-4o-realtime-preview-2024-12-17", date(2025, 1, 1),
     {"tokens": {"text.input": 1000, "text.cached": 1000, "text.output": 1000,
                 "audio.input": 1000, "audio.cached": 1000, "audio.output": 1000}},
     "0.15"),      # (5 + 2.5 + 20 + 40 + 2.5 + 80 = 150) x 1000 / 1M
    ("gpt-4o-realtime-preview-2024-10-01", date(2024, 11, 1),
     {"tokens": {"audio.input": 1000, "audio.cached": 1000, "audio.output": 1000}},
     "0.32"),      # (100 + 20 + 200) x 1000 / 1M
    ("gpt-4o-mini-realtime-preview-2024-12-17", date(2025, 1, 1),
     {"tokens": {"text.input": 1000, "text.cached": 1000, "text.output": 1000,
                 "audio.input": 1000, "audio.cached": 1000, "audio.output": 1000}},
     "0.0336"),    # (0.6 + 0.3 + 2.4 + 10 + 0.3 + 20 = 33.6) x 1000 / 1M
    ("amazon.nova-2-5-sonic", TODAY,
     {"tokens": {"text.input": 1000, "text.output": 1000, "audio.input": 1000,
                 "audio.output": 1000}},
     "0.01808"),   # (0.33 + 2.75 + 3 + 12) x 1000 / 1M
    ("amazon/polly-standard", TODAY, {"characters": 1_000_000}, "4"),
    ("amazon/polly-neural", TODAY, {"characters": 1000}, "0.016"),        # 1k x $16/1M
    ("amazon/polly-long-form", TODAY, {"characters": 1000}, "0.1"),       # 1k x $100/1M
    ("amazon/polly-generative", TODAY, {"characters": 1000}, "0.03"),     # 1k x $30/1M
    ("amazon/transcribe-streaming", TODAY, {"audio_seconds": D(60)}, "0.010002"),
    # 60 s x $0.0001667/s (the Price List API's per-second figure, not exactly $0.01/min)
    ("amazon/transcribe-batch", TODAY, {"audio_seconds": D(60)}, "0.006"),  # 60 x $0.0001
    ("azure-speech/stt-realtime", TODAY, {"audio_seconds": D(1800)}, "0.5"),  # 0.5 h x $1
    ("azure-speech/tts-neural", TODAY, {"characters": 1000}, "0.015"),    # 1k x $15/1M
    ("azure-speech/tts-neural-hd", TODAY, {"characters": 1000}, "0.03"),  # 1k x $30/1M
    ("whisper-large-v3", TODAY, {"audio_seconds": D(3600)}, "0.111"),     # 1 h x $0.111
    ("whisper-large-v3", TODAY, {"audio_seconds": D(3)}, "0.0003083333333333333333333333333"),
    # a 3 s request is billed the 10 s minimum: 10 x 0.111 / 3600
    ("whisper-large-v3-turbo", TODAY, {"audio_seconds": D(3600)}, "0.04"),
    ("stt-rt-v5", TODAY, {"audio_seconds": D(1800)}, "0.06"),             # 0.5 h x $0.12
    ("voxtral-mini-transcribe-realtime-2602", TODAY, {"audio_seconds": D(600)}, "0.06"),
    # 10 min x $0.006 ($0.36/h)
    ("voxtral-mini-transcribe-realtime-3-0", TODAY, {"audio_seconds": D(600)}, "0.08"),
    # 10 min x $0.008 ($0.48/h)
]


@pytest.mark.parametrize("model, day, usage, expected", [n[:4] for n in NEW],
                         ids=[f"{n[0]}-{i}" for i, n in enumerate(NEW)])
def test_new_models_are_priced(builtin, model, day, usage, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelShutDownWarning)   # the legacy previews
        assert usd(model, day, builtin, **dict(usage)) == D(expected)


def test_new_models_have_provenance(builtin):
    for model, *_ in NEW:
        entry = builtin.get(model)
        for period in entry.prices:
            assert period.source.startswith("https://"), entry.id
            assert period.checked == TODAY, entry.id
        assert entry.prices[-1].confidence in ("vendor", "secondary"), entry.id
