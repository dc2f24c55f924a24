"""`costmodel.core.priceimport`: a public price map as a user catalog directory.

The real maps of the installed packages are read (litellm 1.110.2, genai-prices 0.2.3,
voice-prices 0.11.0, pinned in .ci/run); figures are checked by hand against the rows of
those files quoted in the comments. A small map of our own covers what the real ones do not
show on their own (a figure finer than a float, a user file in the way).
"""

from __future__ import annotations

import importlib.util
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel.core.catalog import Catalog, check_catalog, default_catalog
from costmodel.core.imported import imported_from, imported_note
from costmodel.core.pricediff.maps import MapSource, NotInstalledError, in_force
from costmodel.core.priceimport import (
    MARK,
    SHADOWED,
    genai_kind,
    import_prices,
    parse_kinds,
    read_source,
    write_catalog,
)
from costmodel.core.schema import catalog_json_schema
from costmodel.errors import InputError

DAY = date(2026, 11, 30)


def _installed(package: str) -> None:
    if importlib.util.find_spec(package.replace("-", "_")) is None:
        pytest.skip(f"{package} is not installed (.ci/run installs it)")


def _entries(source: str, **kw) -> dict[str, dict]:
    _installed(source)
    report = import_prices(source, default_catalog(), day=DAY, **kw)
    return {e["id"]: e for e in report.entries}


def _period(entry: dict) -> dict:
    (period,) = entry["prices"]
    return period


# -- rates, converted exactly ------------------------------------------------------------------
def test_litellm_per_token_floats_become_exact_rates_per_million() -> None:
    # "gpt-4o": input_cost_per_token 2.5e-06, cache_read_input_token_cost 1.25e-06,
    # output_cost_per_token 1e-05 (mode chat) -> $2.5, $1.25, $10 per 1M tokens
    gpt4o = _entries("litellm")["openai/gpt-4o"]
    assert gpt4o["kind"] == "llm"
    assert _period(gpt4o)["tokens"] == {"text": {"input": Decimal("2.5"),
                                                 "cached": Decimal("1.25"),
                                                 "output": Decimal("10")}}


def test_litellm_per_second_and_per_character_rates_keep_their_unit() -> None:
    imported = _entries("litellm")
    # "mistral/voxtral-mini-transcribe-3": input_cost_per_second 5.83333e-05 (their rounding
    # of $0.0035/min, kept as given: never divided into another unit)
    stt = imported["mistral/voxtral-mini-transcribe-3"]
    assert stt["kind"] == "stt"
    assert _period(stt)["audio"] == {"usd_per_second": Decimal("0.0000583333")}
    # "minimax/speech-02-hd": input_cost_per_character 0.0001 -> $100 per 1M characters
    tts = imported["minimax/speech-02-hd"]
    assert tts["kind"] == "tts" and _period(tts)["characters"] == {"usd_per_mchar": 100}
    # "xai/grok-voice-3.0" (mode realtime): input_cost_per_second 0.001333333333333 is its
    # connection time (a realtime model billed by the minute, $0.08/min rounded)
    grok = imported["xai/grok-voice-3.0"]
    assert grok["kind"] == "realtime"
    assert _period(grok)["connection"] == {"usd_per_second": Decimal("0.001333333333333")}


def test_genai_prices_hours_and_voice_prices_thousands_are_exact() -> None:
    # genai-prices mistral "voxtral-mini-2602": audio_hours 0.18 -> $0.18 per hour (an STT)
    voxtral = _entries("genai-prices")["mistral/voxtral-mini-2602"]
    assert voxtral["kind"] == "stt" and _period(voxtral)["audio"] == {"usd_per_hour":
                                                                        Decimal("0.18")}
    _installed("voice-prices")
    imported = _entries("voice-prices")
    # voice-prices twilio "us-local-outbound": telephony_kminutes 14 -> $0.014 per minute
    twilio = imported["twilio/us-local-outbound"]
    assert twilio["kind"] == "telephony"
    assert _period(twilio)["connection"] == {"usd_per_minute": Decimal("0.014")}
    # inworld "inworld-tts-2": input_kchars 0.025 -> $25 per 1M characters
    assert _period(imported["inworld/inworld-tts-2"])["characters"] == {"usd_per_mchar": 25}
    # rime "mist": input_kchars 0.03 -> $30 per 1M characters; its vendor page is cited
    mist = _period(imported["rime/mist"])
    assert mist["characters"] == {"usd_per_mchar": 30}
    assert "voice-prices cites https://rime.ai/pricing" in mist["notes"]


def test_a_price_that_starts_at_an_instant_is_in_force_from_that_day() -> None:
    # voice-prices' promotions: $0.048 per 1k characters, $0 from 2026-09-09 07:00 UTC, then
    # $0.048 again from 2026-10-08 07:00 UTC (start_timestamp constraints)
    prices = [{"prices": {"input_kchars": Decimal("0.048")}},
              {"constraint": {"start_timestamp": __import__("datetime").datetime(2026, 9, 9, 7)},
               "prices": {"input_kchars": Decimal("0")}},
              {"constraint": {"start_timestamp": __import__("datetime").datetime(2026, 10, 8, 7)},
               "prices": {"input_kchars": Decimal("0.048")}}]
    assert in_force(prices, date(2026, 9, 1)) == {"input_kchars": Decimal("0.048")}
    assert in_force(prices, date(2026, 9, 20)) == {"input_kchars": Decimal("0")}
    assert in_force(prices, DAY) == {"input_kchars": Decimal("0.048")}


# -- what is left out, and why -----------------------------------------------------------------
def test_the_catalog_wins_every_name_it_resolves() -> None:
    _installed("litellm")
    catalog = default_catalog()
    report = import_prices("litellm", catalog, day=DAY)
    shadowed = dict(report.shadowed)
    # Azure's copy of a curated model is the curated one: "azure/..." resolves to OpenAI's
    assert shadowed["azure/gpt-4o-mini-tts"] == "openai/gpt-4o-mini-tts"
    # a curated model under LiteLLM's key for it (Deepgram streaming, after maps.yaml's rewrite)
    assert shadowed["deepgram/streaming/nova-3"] == "deepgram/nova-3"
    assert report.skipped[SHADOWED] == len(report.shadowed) >= 100
    resolver = catalog.resolver()
    for entry in report.entries:
        names = [entry["id"], entry["id"].split("/", 1)[1], *entry.get("aliases", ())]
        assert all(not isinstance(resolver.find(n), str) for n in names), entry["id"]


def test_loading_an_import_beside_the_catalog_changes_no_name_it_resolved(tmp_path: Path) -> None:
    _installed("litellm")
    builtin = default_catalog()
    write_catalog(import_prices("litellm", builtin, day=DAY), tmp_path / "imported")
    both = Catalog.load([tmp_path / "imported"])
    assert not both.overrides                       # no curated entry replaced
    names = [n for e in builtin for n in (e.id, *e.aliases, e.id.split("/", 1)[1])]
    names += ["azure/gpt-4o-mini-tts", "gpt-realtime-mini-2025-10-06",
              "bedrock/us.anthropic.claude-haiku-4-5-20251001-v1:0"]
    for name in names:
        if name in builtin:
            assert both.resolve(name) == builtin.resolve(name), name


def test_rates_the_catalog_cannot_hold_are_counted_by_reason() -> None:
    _installed("litellm")
    report = import_prices("litellm", default_catalog(), day=DAY)
    skipped = report.skipped
    assert skipped["mode 'embedding': not realtime, stt, tts or llm"] == 157
    assert skipped["mode 'image_generation': not realtime, stt, tts or llm"] == 414
    # perplexity's per-request fee, a reasoning price of its own: not expressible, skipped
    assert skipped["a fee on every request, which the catalog cannot hold"] == 4
    assert skipped["reasoning tokens priced apart from output tokens"] == 16
    # "fireworks_ai/accounts/fireworks/models/fireworks-asr-large" prices everything at 0
    assert skipped["every rate is 0 (free, or not known: never priced as zero)"] == 98
    ids = {e["id"] for e in report.entries}
    assert "fireworks-ai/accounts-fireworks-models-fireworks-asr-large" not in ids
    assert sum(skipped.values()) + len(report.entries) == 4877   # every row but sample_spec


def test_a_token_billed_model_keeps_one_meter_and_notes_the_other() -> None:
    _installed("voice-prices")
    imported = _entries("voice-prices")
    # soniox "stt-rt": tokens (audio in $2, text in/out $4 per 1M); no per-second rate beside
    rt = _period(imported["soniox/stt-rt"])
    assert rt["tokens"] == {"audio": {"input": 2}, "text": {"input": 4, "output": 4}}
    assert "audio" not in rt and "connection" not in rt
    _installed("litellm")
    # LiteLLM "vertex_ai/gemini-3.5-transcribe": audio tokens and $5e-05/s: the tokens stand
    gemini = _period(_entries("litellm")["vertex-ai/gemini-3.5-transcribe"])
    assert gemini["tokens"]["audio"] == {"input": 2} and "audio" not in gemini
    assert "LiteLLM also gives a time rate, not imported" in gemini["notes"]


def test_only_selects_kinds_and_counts_the_rest() -> None:
    _installed("litellm")
    report = import_prices("litellm", default_catalog(), kinds=parse_kinds("stt,tts"), day=DAY)
    assert set(report.by_kind()) == {"stt", "tts"}
    assert report.skipped["kind llm, not in --only"] > 3000
    assert parse_kinds(None) == ("realtime", "stt", "tts", "llm", "telephony")
    with pytest.raises(InputError, match="--only takes"):
        parse_kinds("llm,images")


def test_kinds_read_off_genai_fields() -> None:
    assert genai_kind({"telephony_kminutes": 4}, "us-local") == "telephony"
    assert genai_kind({"agent_kminutes": 50}, "platform") == "realtime"
    assert genai_kind({"input_kchars": 1}, "sonic") == "tts"
    assert genai_kind({"audio_hours": 3}, "gpt-live-1") == "realtime"
    assert genai_kind({"audio_hours": 1}, "gpt-realtime-whisper") == "stt"
    assert genai_kind({"input_mtok": 1, "input_audio_mtok": 3, "output_audio_mtok": 12},
                      "gpt-realtime") == "realtime"
    assert genai_kind({"input_mtok": 1, "input_audio_mtok": 3, "output_audio_mtok": 12},
                      "gpt-audio") == "llm"
    assert genai_kind({"input_mtok": 1, "output_audio_mtok": 12}, "mini-tts") == "tts"


# -- provenance ----------------------------------------------------------------------------------
def test_every_rate_is_secondary_from_the_package_and_version() -> None:
    _installed("litellm")
    report = import_prices("litellm", default_catalog(), day=DAY)
    assert report.label == ("pypi:litellm==1.110.2 "
                            "(model_prices_and_context_window_backup.json)")
    for entry in report.entries:
        period = _period(entry)
        assert period["confidence"] == "secondary"
        assert period["source"] == "https://pypi.org/project/litellm/1.110.2/"
        assert period["checked"] == period["effective"] == DAY     # no release date known
        assert period["notes"].startswith(f"Imported from {report.label}, key ")
    assert not report.effective_known
    later = import_prices("litellm", default_catalog(), day=DAY, kinds=["tts"],
                          effective=date(2026, 11, 20))
    assert {_period(e)["effective"] for e in later.entries} == {date(2026, 11, 20)}


def test_an_imported_rate_is_told_apart_when_priced(tmp_path: Path) -> None:
    _installed("litellm")
    write_catalog(import_prices("litellm", default_catalog(), day=DAY, kinds=["tts"]),
                  tmp_path)
    catalog = Catalog.load([tmp_path])
    entry = catalog.get("minimax/speech-02-hd")
    assert imported_from(entry.prices[0]) == "litellm==1.110.2"
    assert "rates imported from litellm==1.110.2 (confidence: secondary" in str(
        imported_note(entry, DAY))
    curated = catalog.get("openai/gpt-realtime")    # secondary too, but curated
    assert imported_note(curated, DAY) is None


# -- the written directory -----------------------------------------------------------------------
@pytest.mark.parametrize("source", ["litellm", "genai-prices", "voice-prices"])
def test_the_directory_validates_loads_and_checks(source: str, tmp_path: Path) -> None:
    _installed(source)
    jsonschema = pytest.importorskip("jsonschema")
    report = import_prices(source, default_catalog(), day=DAY)
    files = write_catalog(report, tmp_path)
    assert len(files) == len(report.by_provider()) and all(
        f.read_text().startswith(MARK) for f in files)
    validator = jsonschema.Draft202012Validator(catalog_json_schema())
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for path in files:
        data = yaml.load(path.read_text(), Loader=loader)
        for entry in data["models"]:   # (dates as the catalog's loader keeps them: text)
            for period in entry["prices"]:
                period.update(effective=str(period["effective"]), checked=str(period["checked"]))
        assert not list(validator.iter_errors(data)), path
    result = check_catalog([tmp_path], today=DAY)     # loads it beside the built-in catalog
    assert not result.errors and not result.overrides and not result.stale
    assert result.entries == len(default_catalog()) + len(report.entries)


def test_a_figure_finer_than_a_float_survives_the_file(tmp_path: Path) -> None:
    # $0.0283333333333333333333 per hour has more digits than a float keeps: written as text
    their = [{"id": "acme", "models": [{"id": "acme-stt", "match": {"equals": "acme-stt"},
                                        "prices": {"input_audio_hours":
                                                   Decimal("0.0283333333333333333333")}}]}]
    src = MapSource("genai-prices", "9.9", tmp_path / "data.py", their)
    write_catalog(import_prices(src, default_catalog(), day=DAY), tmp_path / "out")
    assert "usd_per_hour: '0.0283333333333333333333'" in (tmp_path / "out/acme.yaml").read_text()
    rate = Catalog.load([tmp_path / "out"]).get("acme/acme-stt").prices[0].audio
    assert rate is not None and rate.usd_per_hour == Decimal("0.0283333333333333333333")


def test_a_non_empty_directory_is_refused_without_force(tmp_path: Path) -> None:
    their = {"acme-tts": {"litellm_provider": "acme", "mode": "audio_speech",
                          "input_cost_per_character": 1.5e-05},
             "other/acme-stt": {"litellm_provider": "other", "mode": "audio_transcription",
                                "input_cost_per_second": 0.0001}}
    report = import_prices(MapSource("litellm", "1", tmp_path / "m.json", their),
                           default_catalog(), day=DAY)
    out = tmp_path / "out"
    write_catalog(report, out)
    with pytest.raises(InputError, match="is not empty .*--force"):
        write_catalog(report, out)
    (out / "notes.txt").write_text("mine")
    smaller = import_prices(MapSource("litellm", "2", tmp_path / "m.json",
                                      {"acme-tts": their["acme-tts"]}), default_catalog(), day=DAY)
    write_catalog(smaller, out, force=True)     # the earlier import's other.yaml goes
    assert sorted(p.name for p in out.iterdir()) == ["acme.yaml", "notes.txt"]
    (out / "acme.yaml").write_text("provider: acme\nmodels: []\n")   # a user's own file
    with pytest.raises(InputError, match="not written by costmodel prices import"):
        write_catalog(smaller, out, force=True)


def test_a_package_that_is_not_installed_names_the_pip_command(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(NotInstalledError, match=r"voice-prices is not installed: pip install "
                       r"voice-prices"):
        read_source("voice-prices")
    with pytest.raises(InputError, match="--from takes one of litellm, genai-prices, "
                       "voice-prices"):
        read_source("openrouter")


def test_a_file_the_catalog_could_not_load_is_not_written(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import costmodel.core.priceimport.write as write_module

    monkeypatch.setattr(write_module, "CATALOG_LIMIT", 500)   # bytes, for a small test map
    their = {"acme-tts": {"litellm_provider": "acme", "mode": "audio_speech",
                          "input_cost_per_character": 1.5e-05}}
    report = import_prices(MapSource("litellm", "1", tmp_path / "m.json", their),
                           default_catalog(), day=DAY)
    with pytest.raises(InputError, match=r"acme.yaml would be [\d,]+ bytes, over a catalog "
                       r"file's limit of 500: narrow the import with --only"):
        write_catalog(report, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@settings(max_examples=60, deadline=None)
@given(st.decimals(min_value=Decimal("1e-12"), max_value=Decimal(999_999), allow_nan=False,
                   allow_infinity=False, places=None).filter(lambda d: len(d.as_tuple().digits)
                                                             <= 28))
def test_every_rate_reads_back_exactly_as_the_loader_reads_it(rate: Decimal) -> None:
    # whatever its digits, a written rate is the same number once the catalog's loader (which
    # reads YAML numbers as floats) and the schema have read it
    from costmodel._yamlmarks import load_with_marks
    from costmodel.core.rates import ModelEntry

    their = [{"id": "acme", "models": [{"id": "acme-voice-9", "match": {"equals": "x"},
                                        "prices": {"input_mchars": rate}}]}]
    report = import_prices(MapSource("genai-prices", "1", Path("data.py"), their),
                           default_catalog(), day=DAY)
    with tempfile.TemporaryDirectory() as out:
        (path,) = write_catalog(report, Path(out) / "imported")
        data, _ = load_with_marks(path.read_text(), str(path))
    entry = ModelEntry.model_validate(data["models"][0])
    assert entry.prices[0].characters is not None
    assert entry.prices[0].characters.usd_per_mchar == rate
