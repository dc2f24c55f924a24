"""The price catalog: coverage, provenance, overrides, and errors that say where."""

from __future__ import annotations

import os
import re
import time
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest
import yaml

from costmodel import Catalog, CatalogError, UnknownModelError, Usage, price
from costmodel.core.catalog import builtin_dir, check_catalog

from ..conftest import TOY, write

# Every id issue #2 names; more may exist.
REQUIRED_IDS = [
    "openai/gpt-realtime", "openai/gpt-realtime-1.5", "openai/gpt-realtime-mini",
    "openai/gpt-realtime-2", "openai/gpt-realtime-2.1", "openai/gpt-realtime-2.1-mini",
    "google/gemini-3.1-flash-live", "google/gemini-2.5-flash-native-audio",
    "xai/grok-voice-agent", "amazon/nova-2-sonic", "ultravox/ultravox-v0.7",
    "openai/gpt-4o-transcribe", "openai/gpt-4o-mini-transcribe", "openai/whisper-1",
    "deepgram/nova-3", "assemblyai/universal-streaming", "gladia/solaria-1", "openai/gpt-5.4",
    "openai/gpt-5.4-mini", "anthropic/claude-sonnet-4.6", "anthropic/claude-haiku-4.5",
    "google/gemini-3-flash", "xai/grok-4.1-fast", "deepseek/deepseek-v3.2", "cartesia/sonic-3",
    "elevenlabs/flash-v2.5", "openai/gpt-4o-mini-tts", "deepgram/aura-2", "twilio/us-inbound",
    "twilio/us-outbound", "telnyx/us-inbound", "selfhost/h100", "selfhost/b200",
]

# The open models of the seed, described as self-host entries.
SELFHOST_MODELS = ["selfhost/step-audio-r1.1", "selfhost/moshi", "selfhost/kimi-audio",
                   "selfhost/ultravox-v0.7"]


@pytest.mark.parametrize("model", REQUIRED_IDS + SELFHOST_MODELS)
def test_required_ids_are_in_the_builtin_catalog(builtin, model):
    assert model in builtin.entries


def test_every_price_has_provenance(builtin):
    for entry in builtin:
        for period in entry.prices:
            assert re.match(r"https?://", period.source), entry.id
            assert isinstance(period.checked, date) and isinstance(period.effective, date)
            assert all(re.match(r"https?://", u) for u in period.sources.values()), entry.id
        if entry.selfhost:
            assert re.match(r"https?://", entry.selfhost.source)


def test_builtin_catalog_validates_cleanly():
    result = check_catalog(max_age_days=10_000)
    assert result.errors == []
    assert result.entries >= len(REQUIRED_IDS)


def _billed_seconds(rate, seconds: int) -> D:
    """`seconds` rounded up to the rate's increment, at least its minimum."""
    steps = -(-D(seconds) // rate.increment_seconds)
    return max(steps * rate.increment_seconds, rate.minimum_seconds)


def test_every_builtin_entry_prices_something(builtin):
    """Each entry prices the quantity its kind is about, at today's rates, at exactly the rate
    its file gives: 1,000 tokens of a bucket cost rate/1,000 (rate per 1M tokens), a minute
    costs the per-minute rate (rounded to the increment, at least the minimum), 1,000
    characters cost rate/1,000 (rate per 1M characters)."""
    priced = 0
    for entry in builtin:
        period = entry.period_on(date.today())
        if entry.selfhost is not None:
            u = Usage(entry.id, connection_seconds=D(60))
            assert price(u, builtin).total_usd > 0, entry.id
            priced += 1
            continue
        if period is None:
            continue  # announced, not yet in force
        if period.tokens:
            rates = period.token_rates_per_mtok()
            key = min(k for k, r in rates.items() if r > 0)  # the first priced bucket
            u, expected = Usage(entry.id, {key: 1000}), rates[key] * 1000 / 10**6
        elif period.connection or period.audio:
            rate = period.connection or period.audio
            usd, unit = rate.rate_and_unit_seconds()
            field = "connection_seconds" if period.connection else "audio_seconds"
            u = Usage(entry.id, **{field: D(60)})
            expected = usd * _billed_seconds(rate, 60) / unit
        elif period.characters:
            u = Usage(entry.id, characters=1000)
            expected = period.characters.usd_per_mchar * 1000 / 10**6
        else:
            continue  # a GPU rental: priced through the self-host entries
        total = price(u, builtin).total_usd
        assert total == expected and total > 0, (entry.id, total, expected)
        priced += 1
    assert priced >= len(REQUIRED_IDS) - 2   # all but the two GPU rentals, at least


def test_realtime_facts_for_rebilling_models(builtin):
    e = builtin.get("openai/gpt-realtime-1.5")
    assert e.facts.audio_tokens_per_second_in == 10
    assert e.facts.audio_tokens_per_second_out == 20
    assert e.facts.context_window_tokens == 32000 and e.facts.max_output_tokens == 4096
    assert e.facts.rebills_context is True


def test_aliases_and_bare_names_resolve(builtin):
    assert builtin.resolve("gpt-realtime-1.5") == "openai/gpt-realtime-1.5"
    assert builtin.resolve("OPENAI/GPT-REALTIME-1.5") == "openai/gpt-realtime-1.5"


def test_unknown_id_lists_near_matches(builtin):
    with pytest.raises(UnknownModelError) as info:
        builtin.get("openai/gpt-realtime-1.6")
    assert "openai/gpt-realtime-1.5" in info.value.suggestions
    assert "did you mean" in str(info.value)


# ---- overrides -------------------------------------------------------------------------------

NEGOTIATED = """
provider: mine
models:
  - id: toy/realtime
    prices:
      - effective: 2025-01-01
        checked: 2026-11-25
        source: https://example.com/our-contract
        tokens:
          audio: {input: 10, cached: 1, output: 20}
"""


def test_user_dir_overrides_a_rate_and_inherits_the_rest(toy_dir, tmp_path):
    mine = write(tmp_path / "mine", "negotiated.yaml", NEGOTIATED).parent
    cat = Catalog.load([toy_dir, mine], include_builtin=False)
    entry = cat.get("toy/realtime")
    assert entry.name == "Toy realtime"          # inherited
    assert entry.aliases == ["toy-rt"]           # inherited
    assert len(entry.prices) == 1                # the price history is replaced, not mixed
    (o,) = cat.overrides
    assert (o.id, o.fields) == ("toy/realtime", ("prices",))
    assert o.by.endswith("negotiated.yaml") and o.replaced.endswith("toy.yaml")
    cost = price(Usage("toy/realtime", {"audio.input": 1_000_000}), cat)
    assert cost.total_usd == D(10)


def test_env_var_directories_load_before_command_line_ones(toy_dir, tmp_path, monkeypatch):
    mine = write(tmp_path / "mine", "negotiated.yaml", NEGOTIATED).parent
    monkeypatch.setenv("COSTMODEL_PRICING", str(toy_dir))
    cat = Catalog.load([mine], include_builtin=False)
    assert price(Usage("toy/realtime", {"audio.input": 1_000_000}), cat).total_usd == D(10)


def test_builtin_dir_is_the_repo_pricing_folder():
    assert (builtin_dir() / "openai.yaml").is_file()


# ---- errors name the file, line and field ---------------------------------------------------

def _error(tmp_path: Path, text: str) -> CatalogError:
    d = tmp_path / "bad"
    write(d, "bad.yaml", text)
    with pytest.raises(CatalogError) as info:
        Catalog.load([d], include_builtin=False)
    return info.value


def test_bad_rate_value_names_file_line_and_field(tmp_path):
    bad = TOY.replace("text: {input: 4, cached: 0.4, output: 16}",
                      "text: {input: four, cached: 0.4, output: 16}")
    exc = _error(tmp_path, bad)
    assert exc.path.endswith("bad.yaml")
    assert exc.line == 12  # the 'text:' line of the first price period
    assert "toy/realtime" in exc.field and "tokens.text.input" in exc.field
    assert "bad.yaml:12" in str(exc)


def test_missing_source_is_reported(tmp_path):
    bad = TOY.replace("        source: https://example.com/toy/phone\n", "")
    exc = _error(tmp_path, bad)
    assert "toy/phone" in exc.field and "source" in exc.field
    assert "Field required" in str(exc)


def test_source_must_be_a_url(tmp_path):
    exc = _error(tmp_path, TOY.replace("https://example.com/toy/tts", "the vendor site"))
    assert "http(s) URL" in str(exc)


def test_broken_yaml_gives_the_line(tmp_path):
    exc = _error(tmp_path, "provider: x\nmodels:\n  - id: a/b\n    kind: [unclosed\n")
    assert exc.line is not None and exc.path.endswith("bad.yaml")
    assert "invalid YAML" in str(exc)


def test_unknown_modality_and_state_are_rejected(tmp_path):
    exc = _error(tmp_path, TOY.replace("audio: {input: 40, cached: 4, output: 80}",
                                       "video: {input: 40}"))
    assert "unknown modality 'video'" in str(exc)
    exc = _error(tmp_path, TOY.replace("audio: {input: 40, cached: 4, output: 80}",
                                       "audio: {inptu: 40}"))
    assert "audio.inptu" in str(exc)


def test_duplicate_keys_are_rejected(tmp_path):
    exc = _error(tmp_path, TOY.replace("    name: Toy TTS\n",
                                       "    name: Toy TTS\n    name: Again\n"))
    assert "duplicate key 'name'" in str(exc) and exc.line is not None


def test_price_history_must_be_in_order(tmp_path):
    bad = TOY.replace("effective: 2026-01-01", "effective: 2024-01-01").replace(
        "checked: 2026-01-02", "checked: 2024-01-02")
    assert "ordered by effective date" in str(_error(tmp_path, bad))


def test_selfhost_must_run_on_a_known_gpu(tmp_path):
    exc = _error(tmp_path, TOY.replace("runs_on: toy/gpu", "runs_on: toy/tpu"))
    assert "toy/tpu" in str(exc)


def test_check_collects_every_error(tmp_path, toy_dir):
    d = tmp_path / "bad"
    write(d, "a.yaml", "provider: a\nmodels:\n  - id: a/x\n    kind: nope\n    name: X\n"
                       "    prices: []\n")
    write(d, "b.yaml", "provider: b\nmodels: [\n")
    result = check_catalog([toy_dir, d], max_age_days=10_000)
    assert len(result.errors) == 2
    assert {Path(e.path).name for e in result.errors} == {"a.yaml", "b.yaml"}


def test_stale_rates_are_listed(toy):
    stale = toy.stale(max_age_days=30, today=date(2026, 11, 25))
    assert ("toy/phone", date(2025, 1, 2)) in stale
    assert toy.stale(max_age_days=10_000, today=date(2026, 11, 25)) == []


def test_non_utf8_file_and_non_string_id_are_catalog_errors(tmp_path):
    d = tmp_path / "bin"
    d.mkdir()
    (d / "x.yaml").write_bytes(b"\x00\xff\xfe")
    with pytest.raises(CatalogError, match="not UTF-8"):
        Catalog.load([d], include_builtin=False)
    exc = _error(tmp_path, "provider: a\nmodels:\n  - id: [a]\n    kind: llm\n")
    assert "id must be a string" in str(exc)


def test_a_model_without_an_id_is_a_catalog_error_on_its_line(tmp_path):
    exc = _error(tmp_path, "provider: a\nmodels:\n  - kind: llm\n    name: X\n")
    assert "each model needs an 'id'" in str(exc)
    assert exc.field == "models[0]" and exc.line == 3


def test_sources_keys_must_name_a_rate(tmp_path):
    bad = TOY.replace("        source: https://example.com/toy/tts\n",
                      "        source: https://example.com/toy/tts\n"
                      "        sources: {audio.inptu: https://example.com/x}\n")
    assert "sources key 'audio.inptu'" in str(_error(tmp_path, bad))


# ---- parsing: libyaml with marks, and the parse cache ---------------------------------------

def test_libyaml_and_the_python_parser_agree_on_data_and_lines():
    # Error lines come from the node tree; libyaml must give the one the reference parser
    # gives, node for node, or a message would point at the wrong line.
    from costmodel import _yamlmarks

    if _yamlmarks._CLoader is None:
        pytest.skip("PyYAML without libyaml")

    def nodes(node, out):
        out.append((type(node).__name__, node.tag, node.start_mark.line,
                    node.start_mark.column, node.end_mark.line,
                    node.value if isinstance(node, yaml.ScalarNode) else None))
        children = node.value if isinstance(node, yaml.CollectionNode) else []
        for child in children:
            for n in (child if isinstance(child, tuple) else (child,)):
                nodes(n, out)
        return out

    root = Path(__file__).parents[2]
    files = sorted([*builtin_dir().glob("*.yaml"), *(root / "examples").glob("*.yaml")])
    assert len(files) > 10
    for path in files:
        text = path.read_text(encoding="utf-8")
        fast = _yamlmarks._load_fast(text)
        data, node = _yamlmarks._load(text, str(path))
        assert fast is not None and fast[0] == data, path
        assert nodes(fast[1], []) == nodes(node, []), path


def test_nesting_past_the_limit_but_within_libyaml_s_is_refused_the_same_way(tmp_path):
    deep = "provider: x\nmodels: " + "[" * 150 + "]" * 150 + "\n"
    exc = _error(tmp_path, deep)
    assert "nested more than 100 levels" in str(exc) and exc.line == 2


def _settled(*paths: Path) -> None:
    """Date files 10 s back: one written just now is never cached (a second edit within the
    same timestamp tick would keep its key)."""
    for path in paths:
        then = time.time() - 10
        os.utime(path, (then, then))


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COSTMODEL_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from costmodel import _yamlmarks

    parsed: list[str] = []
    real = _yamlmarks.load_with_marks

    def spy(text: str, path: str):
        parsed.append(Path(path).name)
        return real(text, path)

    monkeypatch.setattr(_yamlmarks, "load_with_marks", spy)
    return parsed


def test_a_second_load_reads_the_cache_instead_of_the_yaml(cache, toy_dir, monkeypatch):
    _settled(toy_dir / "toy.yaml")
    parsed = _count_parses(monkeypatch)
    first = Catalog.load([toy_dir], include_builtin=False)
    second = Catalog.load([toy_dir], include_builtin=False)
    assert parsed == ["toy.yaml"]
    assert second.entries == first.entries and second.origins == first.origins
    assert len(list(cache.glob("*.json"))) == 1


def test_a_file_edited_in_place_is_parsed_again_even_with_its_old_mtime(cache, toy_dir):
    toy = toy_dir / "toy.yaml"
    _settled(toy)
    Catalog.load([toy_dir], include_builtin=False)
    before = toy.stat()
    toy.write_text(toy.read_text().replace("input: 20,", "input: 21,"))  # same size
    os.utime(toy, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert toy.stat().st_size == before.st_size
    cat = Catalog.load([toy_dir], include_builtin=False)
    assert price(Usage("toy/realtime", {"audio.input": 1_000_000}), cat).total_usd == D(21)


def test_a_file_just_written_is_not_cached(cache, toy_dir):
    Catalog.load([toy_dir], include_builtin=False)
    assert not list(cache.glob("*.json"))


def test_a_catalog_path_that_is_not_a_regular_file_is_read_never_cached(cache, toy_dir):
    toy = toy_dir / "toy.yaml"
    _settled(toy)
    Catalog.load([toy_dir], include_builtin=False)            # cached while a regular file
    assert len(list(cache.glob("*.json"))) == 1
    toy.unlink()
    toy.symlink_to(os.devnull)   # now a device: it has no cache key, so the cache is left alone
    for _ in range(2):
        with pytest.raises(CatalogError, match="valid dictionary"):   # empty: read as such
            Catalog.load([toy_dir], include_builtin=False)


def test_errors_name_the_same_file_line_and_field_from_the_cache(cache, tmp_path):
    bad = write(tmp_path / "bad", "bad.yaml", TOY.replace(
        "text: {input: 4, cached: 0.4, output: 16}",
        "text: {input: four, cached: 0.4, output: 16}"))
    _settled(bad)
    messages = []
    for _ in range(2):
        with pytest.raises(CatalogError) as info:
            Catalog.load([bad.parent], include_builtin=False)
        messages.append(str(info.value))
        assert list(cache.glob("*.json"))  # the second load read the cache
    assert messages[0] == messages[1] and "bad.yaml:12" in messages[0]
    assert len(check_catalog([bad.parent]).errors) == 1


def test_the_owners_own_edit_of_an_entry_is_read(cache, toy_dir):
    # (entries others could have written are not: tests/core/test_parse_cache.py)
    _settled(toy_dir / "toy.yaml")
    Catalog.load([toy_dir], include_builtin=False)
    (entry,) = cache.glob("*.json")
    entry.write_text(entry.read_text().replace('"input": 20,', '"input": 0,'))
    tampered = Catalog.load([toy_dir], include_builtin=False)
    assert price(Usage("toy/realtime", {"audio.input": 1_000_000}), tampered).total_usd == 0


def test_the_cache_can_be_turned_off(tmp_path, toy_dir, monkeypatch):
    monkeypatch.setenv("COSTMODEL_CACHE_DIR", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    _settled(toy_dir / "toy.yaml")
    Catalog.load([toy_dir], include_builtin=False)
    assert not (tmp_path / "xdg").exists()


def test_a_broken_or_unusable_cache_only_costs_a_parse(cache, toy_dir):
    _settled(toy_dir / "toy.yaml")
    Catalog.load([toy_dir], include_builtin=False)
    (entry,) = cache.glob("*.json")
    entry.write_text('{"format": 1, "path": ')  # cut short
    assert "toy/realtime" in Catalog.load([toy_dir], include_builtin=False)
    for stale in cache.iterdir():
        stale.unlink()
    cache.rmdir()
    cache.write_text("a file where the directory should be")
    assert "toy/realtime" in Catalog.load([toy_dir], include_builtin=False)


def test_only_data_json_gives_back_exactly_is_cached():
    from costmodel.core._parse_cache import _plain

    assert _plain({"a": [1, 2.5, True, None, "x", {"b": -0.0}]})
    loop: list = []
    loop.append(loop)
    for value in ({1: "int key"}, [date(2026, 1, 1)], [b"bytes"], {"a": {1, 2}},
                  [float("nan")], [float("inf")], [("a", 1)], loop):
        assert not _plain(value), value


# ---- look-ups at their edges (mutation testing, issue 10 item 7) ----------------------------

def test_load_includes_the_builtin_catalog_unless_told_not_to(toy_dir):
    assert "openai/gpt-realtime-1.5" in Catalog.load()
    assert "openai/gpt-realtime-1.5" in Catalog.load([toy_dir])
    assert "openai/gpt-realtime-1.5" not in Catalog.load([toy_dir], include_builtin=False)


def test_near_finds_an_id_by_its_name_under_any_provider(builtin):
    # difflib finds nothing this far from "deepgram/nova-3"; the name after the last "/" does
    near = builtin.near("our-in-house-speech-gateway/nova-3")
    assert "deepgram/nova-3" in near
    assert len(near) == len(set(near))     # each id once


def test_near_gives_at_most_five_ids_unless_asked(builtin):
    assert len(builtin.near("openai/gpt")) == 5
    assert len(builtin.near("openai/gpt", n=7)) == 7
    assert len(builtin.near("openai/gpt", n=2)) == 2


def test_select_filters_by_provider_and_kind(builtin):
    stt = builtin.select(provider="openai", kind="stt")
    assert stt and all(e.provider == "openai" and e.kind == "stt" for e in stt)
    assert "openai/whisper-1" in [e.id for e in stt]
    assert len(builtin.select()) == len(builtin)
    everyone_stt = builtin.select(kind="stt")
    assert {e.provider for e in everyone_stt} > {"openai", "deepgram"}
    assert all(e.kind == "stt" for e in everyone_stt)
    openai = builtin.select(provider="openai")
    assert {e.kind for e in openai} >= {"stt", "realtime", "llm"}
    assert all(e.provider == "openai" for e in openai)


def test_staleness_is_judged_on_the_price_in_force_that_day(toy):
    # toy/realtime's 2025 price was checked 2025-01-02, its 2026 price 2026-01-02: on
    # 2025-06-01 the 2025 price is in force, checked 150 days before (> 100)
    assert ("toy/realtime", date(2025, 1, 2)) in toy.stale(100, today=date(2025, 6, 1))
    # on 2026-03-01 the 2026 price is, checked 58 days before (<= 100)
    assert "toy/realtime" not in dict(toy.stale(100, today=date(2026, 3, 1)))
    # exactly max_age_days old is not stale yet; one day more is
    assert "toy/phone" not in dict(toy.stale(10, today=date(2025, 1, 12)))
    assert "toy/phone" in dict(toy.stale(10, today=date(2025, 1, 13)))


def test_check_catalog_calls_prices_checked_over_90_days_ago_stale(toy_dir):
    # toy/phone was checked 2025-01-02: 90 days later (2025-04-02) is fine, 91 is stale
    ok = check_catalog([toy_dir], today=date(2025, 4, 2))
    assert "toy/phone" not in dict(ok.stale)
    late = check_catalog([toy_dir], today=date(2025, 4, 3))
    assert ("toy/phone", date(2025, 1, 2)) in late.stale


def test_an_id_defined_twice_in_one_file_is_an_error(tmp_path):
    twice = TOY + TOY.split("models:\n", 1)[1].split("  - id: toy/phone")[0]
    d = tmp_path / "twice"
    write(d, "toy.yaml", twice)
    with pytest.raises(CatalogError, match="'toy/realtime' is defined twice in one file"):
        Catalog.load([d], include_builtin=False)
    result = check_catalog([d], max_age_days=10_000)
    assert [e.field for e in result.errors if "twice" in str(e)] == ["id"]


def test_a_file_that_no_longer_parses_has_no_lines_and_is_read_once(tmp_path, monkeypatch):
    # Its data came from the cache, then it changed into something that does not parse: an
    # error in it is still reported, without a line, and the file is not parsed again.
    from costmodel.core.catalog import _Marks

    parsed = _count_parses(monkeypatch)
    marks = _Marks(write(tmp_path, "gone.yaml", "models: [\n"))
    assert marks.line(["models", 0, "id"]) is None
    assert marks.line(["models"]) is None
    assert marks.node() is None and parsed == ["gone.yaml"]


@pytest.mark.parametrize("block", ["PricePeriod", "SelfHost", "RateLimits"])
def test_every_sourced_block_needs_a_url_for_its_source(block):
    # One check shared by every block that says where a figure comes from.
    import datetime

    from pydantic import ValidationError

    from costmodel.core import rates

    fields = {"PricePeriod": {"effective": datetime.date(2026, 1, 1)},
              "SelfHost": {"runs_on": "selfhost/h100", "gpus": 1, "concurrent_sessions": 1,
                           "utilization": 1},
              "RateLimits": {"rpm": 60}}[block]
    with pytest.raises(ValidationError, match="source must be an http"):
        getattr(rates, block)(source="a blog", checked=datetime.date(2026, 1, 1), **fields)


# ---- what a load reports about its files (mutation testing, issue 10 item 7) ----------------

def test_a_load_lists_every_catalog_file_it_read_in_order(tmp_path):
    d = tmp_path / "cat"
    write(d, "b.yml", TOY.replace("toy", "b"))
    write(d, "a.yaml", TOY.replace("toy", "a"))
    write(d, "notes.txt", "not a catalog file")
    single = write(tmp_path, "c.yaml", TOY.replace("toy", "c"))
    cat = Catalog.load([d, single], include_builtin=False)
    # a folder's YAML files sorted by name, then the file given by itself
    assert cat.files == (str(d / "a.yaml"), str(d / "b.yml"), str(single))


def test_a_pricing_directory_that_does_not_exist_is_an_error(tmp_path):
    with pytest.raises(CatalogError, match="pricing directory does not exist"):
        Catalog.load([tmp_path / "nowhere"], include_builtin=False)
