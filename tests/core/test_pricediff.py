"""The catalog against the public price maps (LiteLLM, genai-prices): what differs, what is
explained, what they price that we leave unpriced; units converted exactly."""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from costmodel import Catalog
from costmodel.core.catalog import default_catalog
from costmodel.core.pricediff import diff, load_map
from costmodel.core.pricediff.maps import genai_from_python, genai_map, litellm_map
from costmodel.errors import InputError

from ..conftest import write
from .pricemaps import CATALOG, GENAI, GENAI_PY, LITELLM

DAY = date(2026, 11, 25)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    d = tmp_path_factory.mktemp("maps")
    write(d, "test.yaml", CATALOG)
    return Catalog.load([d], include_builtin=False)


def _by_rate(report):
    return {(d.model, d.rate): d for d in report.differences}


def test_litellm_rows_are_read_exactly_in_our_units() -> None:
    rows = {r.key: r for r in litellm_map(LITELLM, "litellm", "-").rows}
    assert rows["gpt-realtime-mini-2025-12-15"].rates["image.cached"] == D("0.08")  # 8e-08/tok
    assert rows["claude-haiku-4-5"].rates["text.cache_write_1h"] == D("2")
    # $0.001333333333333/s is $0.07999999999998/min: exact, not 0.0799999999999800026...
    assert rows["xai/grok-voice-latest"].rates["time"] == D("0.07999999999998")
    assert rows["elevenlabs/eleven_flash_v2_5"].rates["characters"] == D("40")
    # batch Deepgram skipped; streaming renamed to the id it prices; resellers left out
    assert rows["deepgram/streaming/nova-3"].names == ("deepgram/nova-3",)
    assert "deepgram/nova-3" not in rows and "azure/gpt-realtime-mini" not in rows
    assert "sample_spec" not in rows


def test_litellm_differences_ours_theirs_ratio_source_checked(catalog: Catalog) -> None:
    report = diff(catalog, litellm_map(LITELLM, "litellm 1.110.2", "-"), DAY)
    found = _by_rate(report)
    grok = found[("xai/grok-voice-latest", "connection")]
    assert (grok.ours, grok.theirs) == (D("0.05"), D("0.07999999999998"))
    assert grok.ratio is not None and abs(grok.ratio - D("1.6")) < D("1e-9")
    assert (grok.source, grok.checked) == ("https://docs.x.ai/docs/models", date(2026, 11, 25))
    assert grok.their_ids == ("xai/grok-voice-latest",)
    assert grok.explained_by is None
    # Deepgram streaming 0.00012833/s = $0.0076998/min: differs; the alternative names LiteLLM
    dg = found[("deepgram/nova-3", "audio")]
    assert dg.theirs == D("0.0076998") and dg.explained_by is not None
    # the alternative states their figure ($2.50 per 1M)
    tr = found[("openai/gpt-4o-transcribe", "audio.input")]
    assert tr.theirs == D("2.5") and tr.explained_by is not None
    assert [(d.model, d.rate) for d in report.unexplained] == [("xai/grok-voice-latest",
                                                                "connection")]
    assert set(found) == {("xai/grok-voice-latest", "connection"), ("deepgram/nova-3", "audio"),
                          ("openai/gpt-4o-transcribe", "audio.input")}


def test_what_they_price_and_we_leave_unpriced(catalog: Catalog) -> None:
    report = diff(catalog, litellm_map(LITELLM, "litellm", "-"), DAY)
    assert {(u.model, u.rate, u.theirs) for u in report.unpriced} == {
        ("openai/gpt-realtime-mini", "image.input", D("0.8")),
        ("openai/gpt-realtime-mini", "image.cached", D("0.08")),
    }
    # a per-second figure for a model we price by tokens (gpt-4o-transcribe) is not "missing"


def test_agreeing_rates_are_counted_and_only_first_party_rows_compared(catalog: Catalog) -> None:
    report = diff(catalog, litellm_map(LITELLM, "litellm", "-"), DAY)
    assert report.models == ["anthropic/claude-haiku-4.5", "deepgram/nova-3",
                             "elevenlabs/flash-v2.5", "openai/gpt-4o-transcribe",
                             "openai/gpt-realtime-mini", "xai/grok-voice-latest"]
    # gpt-realtime-mini 6 + transcribe text 2 + haiku 5 + flash 1 = 14 (Bedrock's 1.1x and
    # Azure's rows are other sellers' prices: not differences)
    assert report.agreeing == 14


def test_genai_prices_json_with_prices_in_force_on_the_day(catalog: Catalog) -> None:
    their = genai_map(GENAI, DAY, "genai-prices", "-")
    report = diff(catalog, their, DAY)
    grok = _by_rate(report)[("xai/grok-voice-latest", "connection")]
    assert grok.theirs == D("0.08")          # $4.80/h from 2026-08-05
    assert [d.rate for d in report.unexplained] == ["connection"]
    assert {(u.model, u.rate) for u in report.unpriced} == {
        ("openai/gpt-realtime-mini", "image.input"), ("openai/gpt-realtime-mini", "image.cached")}
    before = diff(catalog, genai_map(GENAI, date(2026, 7, 1), "g", "-"), date(2026, 7, 1))
    assert ("xai/grok-voice-latest", "connection") not in _by_rate(before)   # $3/h = $0.05/min
    assert "anthropic/claude-haiku-4.5" in report.models    # matched through starts_with
    assert report.agreeing == 6 + 5 + 3


def test_a_price_by_time_of_day_agrees_when_ours_is_one_of_them(catalog: Catalog) -> None:
    # genai-prices gives DeepSeek's off-peak price by default and the peak price for the peak
    # hours (https://api-docs.deepseek.com/quick_start/pricing); the catalog lists the peak.
    report = diff(catalog, genai_map(GENAI, DAY, "genai-prices", "-"), DAY)
    assert "deepseek/deepseek-v4-flash" in report.models
    assert not [d for d in report.differences if d.model == "deepseek/deepseek-v4-flash"]


def test_genai_prices_python_data_is_read_without_running_it() -> None:
    providers = genai_from_python(GENAI_PY)
    assert providers[0]["id"] == "x-ai"
    model = providers[0]["models"][0]
    assert model["match"] == {"or": [{"equals": "grok-voice-latest"},
                                     {"equals": "grok-voice-3.0"}]}
    assert model["prices"][1]["constraint"] == {"start_date": date(2026, 8, 5)}
    rows = genai_map(providers, DAY, "g", "-").rows
    assert rows[0].rates == {"time": D("0.08")}
    assert rows[0].names == ("grok-voice-latest", "grok-voice-3.0")


def test_a_downloaded_file_of_either_format(tmp_path: Path) -> None:
    (tmp_path / "litellm.json").write_text(json.dumps(LITELLM))
    (tmp_path / "genai.json").write_text(json.dumps(GENAI))
    assert load_map(str(tmp_path / "litellm.json"), DAY).name == "litellm"
    assert load_map(str(tmp_path / "genai.json"), DAY).name == "genai-prices"
    (tmp_path / "other.json").write_text("42")
    with pytest.raises(InputError, match="neither a LiteLLM map"):
        load_map(str(tmp_path / "other.json"), DAY)
    with pytest.raises(InputError):
        load_map(str(tmp_path / "missing.json"), DAY)


def test_an_installed_package_is_found_not_imported(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "site" / "litellm"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise RuntimeError('imported')\n")
    (pkg / "model_prices_and_context_window_backup.json").write_text(json.dumps(LITELLM))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "litellm", raising=False)
    their = load_map("litellm", DAY)
    assert their.name == "litellm" and len(their.rows) == 7
    assert "litellm" not in sys.modules


def test_a_package_that_is_not_installed_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(InputError, match=r"genai_prices is not installed: .*pip install"):
        load_map("genai-prices", DAY)


@pytest.mark.parametrize("package", ["litellm", "genai_prices"])
def test_the_real_map_when_installed(package: str) -> None:
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} is not installed")
    report = diff(default_catalog(), load_map(package.replace("_", "-"), DAY), DAY)
    assert len(report.models) >= 20
    assert "openai/gpt-realtime-mini" in report.models
    assert report.agreeing > len(report.differences)
