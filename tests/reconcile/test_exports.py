"""Provider exports as users download them: the recorded-shape samples in examples/exports/,
and the ways a file can be wrong (each bad line named by file and line)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from costmodel.errors import InputError
from costmodel.reconcile import read_export
from costmodel.reconcile.openai_export import COMPLETIONS, SPEECHES, TRANSCRIPTIONS

EXPORTS = Path(__file__).parents[2] / "examples" / "exports"
NOV24, NOV25, NOV26 = date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 26)
START = 1795478400   # 2026-11-24T00:00:00Z
MINI = "openai/gpt-realtime-mini"


def by_day(export) -> dict[tuple[date, str], D]:
    out: dict[tuple[date, str], D] = {}
    for line in export.lines:
        out[(line.day, line.model)] = out.get((line.day, line.model), D(0)) + line.usd
    return out


def page(*buckets, has_more: bool = False) -> dict:
    return {"object": "page", "data": list(buckets), "has_more": has_more, "next_page": None}


def bucket(start: int, *results, width: int = 86_400) -> dict:
    return {"object": "bucket", "start_time": start, "end_time": start + width,
            "results": list(results)}


def write(tmp_path: Path, name: str, data) -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2))
    return path


# -- the samples ------------------------------------------------------------------------------

def test_openai_usage_sample_is_priced_with_the_catalog():
    # gpt-realtime-mini per 1M: text 0.60 in, 0.06 cached, 2.40 out; audio 10, 0.30, 20.
    # Nov 24: 0.5M text x 0.60 + 0.2M x 0.06 + 1.3M audio x 10 + 0.4M x 0.30
    #         + 30k text out x 2.40 + 85k audio out x 20 = 0.30 + 0.012 + 13 + 0.12 + 0.072 + 1.70
    ex = read_export(EXPORTS / "openai-usage-completions.json")
    assert ex.kind == "openai-usage" and {ln.basis for ln in ex.lines} == {"priced"}
    assert by_day(ex) == {(NOV24, MINI): D("15.204"), (NOV25, MINI): D("16.285"),
                          (NOV26, MINI): D("14.623")}
    assert ex.covers == {(NOV24, "openai"), (NOV25, "openai"), (NOV26, "openai")}
    assert ex.source_url.startswith("https://platform.openai.com/docs/api-reference/usage")


def test_openai_costs_sample_is_billed_dollars_exactly_as_written():
    ex = read_export(EXPORTS / "openai-costs.json")
    assert ex.kind == "openai-costs" and {ln.basis for ln in ex.lines} == {"billed"}
    # four line items a day ("gpt-realtime-mini, audio input" ...), one model
    assert len(ex.lines) == 12 and {ln.model for ln in ex.lines} == {MINI}
    assert by_day(ex) == {(NOV24, MINI): D("15.204"), (NOV25, MINI): D("16.285"),
                          (NOV26, MINI): D("14.623")}
    assert ex.lines[1].usd == D("0.312")
    assert ex.lines[1].where == f"{EXPORTS}/openai-costs.json: data[0].results[1]"


def test_twilio_sample_takes_the_priced_leaf_category_only():
    # "calls" and "totalprice" are sums of other categories: left out, and said so
    ex = read_export(EXPORTS / "twilio-usage-records-daily.csv")
    assert ex.kind == "twilio-usage-records"
    assert by_day(ex) == {(NOV24, "twilio/us-outbound"): D("2.10"),
                          (NOV25, "twilio/us-outbound"): D("2.184"),
                          (NOV26, "twilio/us-outbound"): D("2.072")}
    assert [ln.where for ln in ex.lines] == [f"{EXPORTS}/twilio-usage-records-daily.csv:{n}"
                                             for n in (3, 6, 9)]
    [note] = ex.notes
    assert "totalprice $6.36" in note and "calls $6.36" in note


def test_generic_csv_sample_resolves_model_names():
    ex = read_export(EXPORTS / "xai-billing.csv")
    assert ex.kind == "generic-csv"
    assert by_day(ex) == {(NOV24, "xai/grok-voice-agent"): D("1.26"),
                          (NOV25, "xai/grok-voice-agent"): D("1.19"),
                          (NOV26, "xai/grok-voice-agent"): D("1.31")}
    assert ex.covers == {(NOV24, "xai"), (NOV25, "xai"), (NOV26, "xai")}


def test_twilio_headers_in_camel_case_read_alike(tmp_path):
    # the XML element names (StartDate, PriceUnit) of the same resource
    path = write(tmp_path, "t.csv", "Category,StartDate,EndDate,Usage,Price,PriceUnit\n"
                 "calls-inbound-local,2026-11-24,2026-11-24,30,0.255,USD\n")
    [line] = read_export(path).lines
    assert (line.model, line.usd) == ("twilio/us-inbound", D("0.255"))   # 30 min x $0.0085


# -- OpenAI shapes -----------------------------------------------------------------------------

def test_speeches_transcriptions_and_pages_as_json_lines(tmp_path):
    # tts-1: $15 per 1M characters; whisper-1: $0.006 a minute
    speech = {"object": SPEECHES, "characters": 200_000, "num_model_requests": 9,
              "model": "tts-1"}
    heard = {"object": TRANSCRIPTIONS, "seconds": 600, "num_model_requests": 4,
             "model": "whisper-1"}
    lines = [json.dumps(page(bucket(START, speech))), "",
             json.dumps(page(bucket(START + 86_400, heard)))]
    ex = read_export(write(tmp_path, "u.jsonl", "\n".join(lines) + "\n"))
    assert by_day(ex) == {(NOV24, "openai/tts-1"): D("3"), (NOV25, "openai/whisper-1"): D("0.06")}
    assert [ln.where.rsplit(":", 1)[1] for ln in ex.lines] == ["1", "3"]


def test_hourly_buckets_add_up_to_their_utc_day(tmp_path):
    def hour(h: int, text_in: int):
        return bucket(START + h * 3600, {"object": COMPLETIONS, "model": "gpt-4o-mini",
                                         "input_tokens": text_in, "output_tokens": 0,
                                         "num_model_requests": 1}, width=3600)
    # gpt-4o-mini text input $0.15 / 1M: 2M + 4M tokens = $0.90 on Nov 24, 1M on Nov 25
    ex = read_export(write(tmp_path, "h.json", page(hour(0, 2_000_000), hour(23, 4_000_000),
                                                    hour(24, 1_000_000))))
    assert by_day(ex) == {(NOV24, "openai/gpt-4o-mini"): D("0.9"),
                          (NOV25, "openai/gpt-4o-mini"): D("0.15")}


def test_usage_that_cannot_be_priced_is_unknown_not_zero(tmp_path):
    unknown = {"object": COMPLETIONS, "model": "gpt-image-9", "input_tokens": 10,
               "output_tokens": 0, "num_model_requests": 1}
    writes = {"object": COMPLETIONS, "model": "gpt-realtime-mini", "input_tokens": 10,
              "input_text_tokens": 5, "input_cache_write_tokens": 5, "output_tokens": 0,
              "num_model_requests": 1}
    ex = read_export(write(tmp_path, "u.json", page(bucket(START, unknown, writes))))
    assert [(ln.model, ln.usd) for ln in ex.lines] == [("gpt-image-9", None), (MINI, None)]
    assert "not in the catalog" in ex.lines[0].note
    assert "cache-write" in ex.lines[1].note
    assert "could not be priced" in ex.notes[0]


def test_older_results_without_the_breakdown(tmp_path):
    # text only: input 1M of which 0.4M cached -> 0.6M x 0.15 + 0.4M x 0.075 = $0.12
    text = {"object": COMPLETIONS, "model": "gpt-4o-mini", "input_tokens": 1_000_000,
            "input_cached_tokens": 400_000, "output_tokens": 0, "num_model_requests": 1}
    assert by_day(read_export(write(tmp_path, "a.json", page(bucket(START, text))))) == {
        (NOV24, "openai/gpt-4o-mini"): D("0.12")}
    # audio without the cached split cannot be priced exactly: the file must be fetched again
    audio = {**text, "model": "gpt-realtime-mini", "input_audio_tokens": 10}
    with pytest.raises(InputError, match=r"b\.json:\d+: audio tokens without the per-modality"):
        read_export(write(tmp_path, "b.json", page(bucket(START, audio))))


def test_other_usage_kinds_and_unpaged_files_are_said(tmp_path):
    embed = {"object": "organization.usage.embeddings.result", "input_tokens": 5,
             "num_model_requests": 1}
    ex = read_export(write(tmp_path, "e.json", page(bucket(START, embed), has_more=True)))
    assert ex.lines == [] and ex.covers == {(NOV24, "openai")}
    assert any("has_more" in n for n in ex.notes)
    assert any("not voice usage, left out: 1 embeddings" in n for n in ex.notes)


# -- bad input: every bad line named -------------------------------------------------------------

def test_malformed_json_results_are_named_by_line(tmp_path):
    path = write(tmp_path, "c.json", """{"object": "page", "has_more": false, "data": [
  {"object": "bucket", "start_time": 1795478400, "end_time": 1795564800, "results": [
    {"object": "organization.costs.result", "line_item": "gpt-realtime-mini, audio input",
     "amount": {"value": 1.5, "currency": "usd"}},
    {"object": "organization.costs.result", "line_item": "gpt-realtime-mini, text input",
     "amount": {"value": 2, "currency": "eur"}},
    {"object": "organization.costs.result", "line_item": "gpt-realtime-mini, text output",
     "amount": {"value": "1.5", "currency": "usd"}}
  ]}
]}
""")
    with pytest.raises(InputError) as caught:
        read_export(path)
    assert str(caught.value).splitlines() == [
        f"{path}: 2 bad lines",
        f"  {path}:5: amount.currency: 'eur': only USD bills are compared",
        f"  {path}:7: amount.value: expected a number, got '1.5'"]


def test_no_model_without_group_by_and_buckets_past_midnight(tmp_path):
    no_model = {"object": COMPLETIONS, "input_tokens": 1, "output_tokens": 0,
                "num_model_requests": 1, "model": None}
    with pytest.raises(InputError, match="group_by=model"):
        read_export(write(tmp_path, "a.json", page(bucket(START, no_model))))
    with pytest.raises(InputError, match="next UTC midnight"):
        read_export(write(tmp_path, "b.json", page(bucket(START + 3600, width=86_400))))
    with pytest.raises(InputError, match=r"c\.json:1: not JSON"):
        read_export(write(tmp_path, "c.json", '{"object": "page", "data": [}'))


def test_malformed_csv_lines_are_named(tmp_path):
    path = write(tmp_path, "bill.csv", "date,model,usd\n2026-11-24,gpt-realtime-mini,1.00\n"
                 "2026-13-01,gpt-realtime-mini,1\n2026-11-25,gpt-realtime-mini,lots\n"
                 "2026-11-26,,1\n")
    with pytest.raises(InputError) as caught:
        read_export(path)
    assert str(caught.value).splitlines() == [
        f"{path}: 3 bad lines",
        f"  {path}:3: date: expected YYYY-MM-DD, got '2026-13-01'",
        f"  {path}:4: usd: expected a number, got 'lots'",
        f"  {path}:5: model: missing"]


def test_twilio_monthly_records_and_other_currencies_are_refused(tmp_path):
    monthly = write(tmp_path, "m.csv", "category,start_date,end_date,price,price_unit\n"
                    "calls-outbound,2026-11-01,2026-11-30,42.00,usd\n"
                    "calls-outbound,2026-11-24,2026-11-24,1.00,eur\n")
    with pytest.raises(InputError) as caught:
        read_export(monthly)
    assert f"{monthly}:2: covers 2026-11-01 to 2026-11-30: export the daily" in str(caught.value)
    assert f"{monthly}:3: price_unit: 'eur'" in str(caught.value)


def test_a_file_of_another_kind_is_refused(tmp_path):
    with pytest.raises(InputError, match="not an export costmodel reads"):
        read_export(write(tmp_path, "x.csv", "name,amount\nfoo,1\n"))
    with pytest.raises(InputError, match="no such file|cannot read"):
        read_export(tmp_path / "missing.json")
