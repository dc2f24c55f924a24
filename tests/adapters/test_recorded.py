"""Pricing recorded sessions: bad lines are reported and skipped; unknown rates are unknown."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from costmodel import UnknownModelError, summarize
from costmodel.adapters.recorded import detect_format, price_events
from costmodel.errors import InputError

SESSION = Path(__file__).parents[2] / "examples" / "sessions" / "openai-realtime-support.jsonl"


def _done(audio_in: int, audio_out: int) -> str:
    return json.dumps({"type": "response.done", "response": {"usage": {
        "input_tokens": audio_in, "output_tokens": audio_out,
        "input_token_details": {"audio_tokens": audio_in},
        "output_token_details": {"audio_tokens": audio_out}}}})


def test_malformed_lines_are_skipped_with_their_line_numbers(toy):
    lines = [
        '{"type": "session.created", "session": {"model": "toy-rt"}}',
        _done(1000, 0),
        "{not json",
        '["an", "array"]',
        json.dumps({"type": "response.done", "response": {"usage": {
            "input_tokens": 5, "input_token_details": {"audio_tokens": 4}}}}),
        "",
        _done(0, 1000),
    ]
    report = price_events(lines, catalog=toy)
    assert [s.line for s in report.skipped] == [3, 4, 5]
    reasons = [s.reason for s in report.skipped]
    assert reasons[0].startswith("not valid JSON")
    assert reasons[1] == "expected a JSON object, got list"
    assert reasons[2] == "response.usage: input_tokens (5) is not the sum of its modalities (4)"
    assert [p.line for p in report.priced] == [2, 7]
    # toy/realtime today: audio in $20/1M, out $40/1M -> 0.02 + 0.04
    assert report.priced_usd == D("0.06")
    assert report.lines == 7
    # Line 5 was usage, refused: the session is not summarised as a complete total (issue
    # 11); lines 3 and 4 were not events at all, and alone would not make it unknown.
    assert report.rejected_count == 1 and report.total_usd is None
    assert report.unknown_reason == (
        "1 usage event was rejected (first, line 5: response.usage: input_tokens (5) is not "
        "the sum of its modalities (4)); the 2 priced usages sum to $0.06, a lower bound")
    unreadable_only = price_events(lines[:4] + lines[6:], catalog=toy)
    assert unreadable_only.rejected_count == 0 and unreadable_only.total_usd == D("0.06")


def test_usage_without_a_known_rate_makes_the_total_unknown(toy):
    lines = ['{"type": "session.created", "session": {"model": "toy/phone"}}', _done(10, 0)]
    report = price_events(lines, catalog=toy)
    assert report.total_usd is None
    assert report.unpriced[0].line == 2
    assert "no known rate for audio.input" in report.unpriced[0].reason


def test_unknown_model_fails_fast(toy):
    with pytest.raises(UnknownModelError):
        price_events([_done(1, 1)], model="toy/nope", catalog=toy)


def test_format_is_detected_from_the_first_recognisable_event():
    assert detect_format({"type": "response.done"}) == "openai-realtime"
    assert detect_format({"usageMetadata": {}}) == "gemini-live"
    assert detect_format({"event": {"usageEvent": {}}}) == "nova-sonic"
    assert detect_format({"hello": 1}) is None


def test_lines_before_the_format_is_known_are_kept(toy):
    lines = ['{"hello": 1}', '{"type": "session.created", "session": {"model": "toy-rt"}}',
             _done(1000, 0)]
    report = price_events(lines, catalog=toy)
    assert len(report.priced) == 1 and report.skipped == []


def test_explicit_format_and_unknown_format(toy):
    with pytest.raises(InputError, match="unknown format"):
        price_events([], fmt="carrier-pigeon", catalog=toy)
    report = price_events([_done(1000, 0)], fmt="openai-realtime", model="toy-rt", catalog=toy)
    assert report.total_usd == D("0.02")


def test_usage_date_defaults_to_today(toy):
    report = price_events([_done(1_000_000, 0)], model="toy-rt", catalog=toy)
    assert report.priced[0].cost.rates.period.effective <= date.today()


# ---- regressions from the review of issue #2 -------------------------------------------------

def test_usage_without_a_model_makes_the_total_unknown_not_zero(builtin):
    nova = (Path(__file__).parents[2] / "examples" / "sessions" / "nova-sonic-turn.jsonl")
    report = price_events(nova.read_text().splitlines(), catalog=builtin)
    assert report.total_usd is None and len(report.unpriced) == 4
    assert "--model amazon/nova-2-sonic" in report.unpriced[0].reason


def test_transcription_only_session_is_priced(builtin):
    lines = [json.dumps({"type": "transcription_session.created", "session": {
                 "input_audio_transcription": {"model": "gpt-4o-transcribe"}}}),
             json.dumps({"type": "conversation.item.input_audio_transcription.completed",
                         "usage": {"type": "tokens", "input_tokens": 100,
                                   "input_token_details": {"audio_tokens": 100},
                                   "output_tokens": 20}})]
    report = price_events(lines, catalog=builtin)
    # 100 audio x $6/1M + 20 text out x $10/1M = 0.0006 + 0.0002
    assert report.total_usd == D("0.0008")


def test_a_forced_format_that_matches_nothing_is_an_error(toy):
    with pytest.raises(InputError, match="looks like openai-realtime"):
        price_events([_done(1, 1)], fmt="gemini-live", model="toy-rt", catalog=toy)


@pytest.mark.parametrize("line", [
    json.dumps({"type": "conversation.item.input_audio_transcription.completed",
                "usage": {"type": "duration", "seconds": "1e999999999"}}),
    json.dumps({"type": "conversation.item.input_audio_transcription.completed",
                "usage": {"type": "duration", "seconds": 1e30}}),
    "[" * 100_000 + "]" * 100_000,
    json.dumps({"type": "response.done", "response": {"usage": {
        "input_tokens": 10**20, "input_token_details": {"audio_tokens": 10**20}}}}),
])
def test_absurd_payloads_are_skipped_lines_not_crashes(builtin, line):
    lines = ['{"type": "session.created", "session": {"model": "gpt-realtime-1.5", "audio": '
             '{"input": {"transcription": {"model": "whisper-1"}}}}}', line]
    report = price_events(lines, catalog=builtin)
    assert [s.line for s in report.skipped] == [2]


def test_time_billed_sessions_need_their_length(builtin):
    # xAI's events carry informational token counts; the bill is connection time.
    lines = ['{"type": "session.created", "session": {"model": "grok-voice-latest"}}',
             _done(500, 800)]
    report = price_events(lines, catalog=builtin)
    assert report.total_usd is None
    assert "--connection-seconds" in report.unpriced[0].reason
    report = price_events(lines, catalog=builtin, connection_seconds=D(90))
    assert report.unpriced == []
    # 90 s x $0.08/min = $0.12 (grok-voice-latest names grok-voice-think-fast-2.0 since
    # 2026-08-05, pricing/xai.yaml), tokens not billed
    assert report.total_usd == D("0.12")


# ---- long sessions: the report keeps sums, not every priced usage -----------------------------

def _with_duration_transcriptions() -> list[str]:
    """The example session, transcribed by whisper-1 (billed per second of audio)."""
    lines = []
    for line in SESSION.read_text().splitlines():
        event = json.loads(line)
        if event["type"] == "conversation.item.input_audio_transcription.completed":
            event["usage"] = {"type": "duration", "seconds": 3.2}
        lines.append(json.dumps(event).replace('"gpt-4o-transcribe"', '"whisper-1"'))
    return lines


@pytest.mark.parametrize("lines, kwargs", [
    (SESSION.read_text().splitlines() * 3, {}),                           # tokens only
    (_with_duration_transcriptions() * 2, {"on": date(2026, 11, 25)}),    # + audio time
    (['{"type": "session.created", "session": {"model": "grok-voice-latest"}}',
      _done(500, 800), _done(700, 900)], {"connection_seconds": D(95)}),  # time-billed
])
def test_a_report_without_its_priced_list_says_the_same(builtin, lines, kwargs):
    kept = price_events(lines, catalog=builtin, **kwargs)
    seen = []
    lean = price_events(lines, catalog=builtin, on_priced=seen.append, keep_priced=False,
                        **kwargs)
    assert lean.priced == [] and [(p.line, p.cost.total_usd) for p in seen] == [
        (p.line, p.cost.total_usd) for p in kept.priced]
    assert lean.priced_count == len(kept.priced) > 0
    assert lean.total_usd == kept.total_usd == sum(p.cost.total_usd for p in kept.priced)
    # line items are those of every priced usage, summed: quantities and USD exact
    assert lean.line_items == kept.line_items == summarize([p.cost for p in kept.priced])
    assert lean.estimated == kept.estimated
    assert lean.unknown_reason == kept.unknown_reason is None


def test_time_items_rounded_per_usage_are_summed_as_billed(builtin):
    # whisper-1 rounds each transcription up to the second: 3.2 s is billed as 4 s, so six
    # of them are 24 s, not 19.2 s rounded once.
    report = price_events(_with_duration_transcriptions(), catalog=builtin,
                          keep_priced=False, on=date(2026, 11, 25))
    (audio,) = [li for li in report.line_items if li.item == "audio_time"]
    assert (audio.model, audio.quantity, audio.unit) == ("openai/whisper-1", 24, "seconds")
    assert audio.usd == D("0.0024")  # 24 s x $0.006/min


def test_a_line_is_read_the_same_with_or_without_its_line_break(toy):
    base = ['{"type": "session.created", "session": {"model": "toy-rt"}}', _done(1000, 0)]
    for ending in ("", "\n", "\r\n", "  \t\n"):
        report = price_events([line + ending for line in base], catalog=toy)
        assert report.total_usd == D("0.02") and report.skipped == [], repr(ending)
    report = price_events(["  " + base[0], base[1] + " x"], catalog=toy)
    assert [s.line for s in report.skipped] == [2]
    assert report.skipped[0].reason.startswith("not valid JSON (Extra data")


# ---- the report's counts at their limits (mutation testing, issue 10 item 7) ---------------

def test_problems_are_all_counted_and_the_first_thousand_kept(toy):
    from costmodel.adapters.recorded import KEPT_PROBLEMS

    assert KEPT_PROBLEMS == 1000
    lines = ['{"type": "session.created", "session": {"model": "toy/phone"}}']
    lines += ["{not json"] * 1003 + [_done(10, 0)] * 1002   # toy/phone has no token rate
    report = price_events(lines, catalog=toy)
    assert (report.skipped_count, len(report.skipped)) == (1003, 1000)
    assert (report.unpriced_count, len(report.unpriced)) == (1002, 1000)
    assert report.skipped[-1].line == 1001 and report.unpriced[-1].line == 2004


def test_a_clean_session_counts_no_problems_and_equal_sessions_report_equal(toy):
    lines = ['{"type": "session.created", "session": {"model": "toy-rt"}}', _done(1000, 0)]
    report = price_events(lines, catalog=toy)
    assert (report.skipped_count, report.unpriced_count, report.estimated) == (0, 0, 0)
    assert (report.lines, report.priced_count) == (2, 1)
    assert report == price_events(lines, catalog=toy)
    assert "_tally" not in repr(report)
    empty = price_events([], catalog=toy)
    assert (empty.lines, empty.priced_count, empty.priced_usd) == (0, 0, D(0))


def test_estimated_usages_are_counted(builtin):
    # Gemini details 30 tokens short of promptTokenCount: priced as text, flagged estimated
    short = json.dumps({"usageMetadata": {"promptTokenCount": 200, "promptTokensDetails": [
        {"modality": "AUDIO", "tokenCount": 170}]}})
    exact = json.dumps({"usageMetadata": {"promptTokenCount": 170, "promptTokensDetails": [
        {"modality": "AUDIO", "tokenCount": 170}]}})
    report = price_events([short, exact, short], model="google/gemini-3.1-flash-live",
                          catalog=builtin)
    assert (report.priced_count, report.estimated) == (3, 2)


def test_an_unknown_transcription_model_fails_fast(toy):
    with pytest.raises(UnknownModelError):
        price_events([_done(1, 1)], model="toy-rt", transcription_model="toy/nope", catalog=toy)


def test_lines_of_no_known_format_are_each_skipped_saying_so(toy):
    report = price_events(['{"hello": 1}', "", '{"hello": 2}'], catalog=toy)
    assert [(s.line, s.reason) for s in report.skipped] == [
        (1, "not an event of any known format"), (3, "not an event of any known format")]
    assert report.lines == 3 and report.priced_count == 0


def test_a_mismatched_file_is_described_by_its_first_twenty_events(toy):
    nova = json.dumps({"event": {"usageEvent": {"details": {}}}})
    lines = [nova] * 20 + [_done(1, 1)]        # the 21st event looks like openai-realtime
    with pytest.raises(InputError) as info:
        price_events(lines, fmt="gemini-live", model="toy-rt", catalog=toy)
    assert str(info.value).endswith("(it looks like nova-sonic)")


# ---- what a report tells about its models and problems (mutation testing, item 7) ----------

def test_the_report_maps_each_model_as_named_to_its_catalog_id(toy):
    lines = ['{"type": "session.created", "session": {"model": "toy-rt"}}', _done(1000, 0),
             _done(0, 1000)]
    report = price_events(lines, catalog=toy)
    assert report.catalog_ids == {"toy-rt": "toy/realtime"}


def test_with_nothing_priced_the_reason_names_the_first_rejected_line(toy):
    report = price_events(["{not json", '["an", "array"]'], catalog=toy)
    assert report.total_usd is None
    assert report.unknown_reason.startswith(
        "no usage could be priced: 2 of 2 lines were rejected (first, line 1: not valid JSON")


def test_a_session_length_the_model_cannot_price_makes_the_total_unknown(toy):
    # toy/realtime prices tokens only: 90 s of connection time have no rate
    lines = ['{"type": "session.created", "session": {"model": "toy-rt"}}', _done(1000, 0)]
    report = price_events(lines, catalog=toy, connection_seconds=D(90))
    assert report.total_usd is None
    (problem,) = report.unpriced
    assert problem.line == 2 and "no known rate for connection time" in problem.reason
