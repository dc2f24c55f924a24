"""The Reconcile view (issue 14 item 5), driven headless with AppTest: recorded spend (a real
SQLite ledger written through the ledger API, or a spend log written by real PipecatBudgets)
against provider exports (the sourced samples of examples/exports, or a generic bill) and the
scenario in the editor, per UTC day and model, rows over the threshold flagged.

The pilot (tests/reconcile/pilot.py, examples/exports/README.md): 2026-11-24..26, realtime
mini recorded $15.204, $15.41, $14.60 and billed $15.204, $16.285, $14.623; Twilio and xAI
billed as recorded but for xAI's Nov 26 (+$0.005, under the one-cent floor)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

from costmodel.dashboard.reconcile_view import SERIES, day_frame, reconcile_uploads
from costmodel.errors import CostModelError, InputError
from costmodel.reconcile import recorded_from_spend_logs

from ..fit.generate import TrueParams, spend_log_supported, write_spend_log
from ..reconcile.pilot import COSTS, TWILIO, XAI, write_pilot_ledger
from .test_app import APP, run

MINI, TWI, GROK = "openai/gpt-realtime-mini", "twilio/us-outbound", "xai/grok-voice-agent"
CHAINED = ("deepgram/nova-3", "openai/gpt-5.4-mini", "cartesia/sonic-3")


@pytest.fixture(scope="module")
def ledger(tmp_path_factory) -> bytes:
    return write_pilot_ledger(tmp_path_factory.mktemp("pilot") / "spend.db").read_bytes()


def open_view(example: str) -> AppTest:
    at = run(AppTest.from_file(APP, default_timeout=120))
    at.selectbox(key="example").select(example)
    run(at)
    at.radio(key="view").set_value("Reconcile")
    return run(at)


def put(at: AppTest, key: str, files: list[tuple[str, bytes]]) -> None:
    at.file_uploader(key=key).set_value([(n, d, "application/octet-stream") for n, d in files])


def table(at: AppTest) -> dict[tuple[str, str], dict]:
    df = next(d.value for d in at.dataframe if "Over the threshold" in d.value.columns)
    return {(r["Day"], r["Model"]): r for r in df.to_dict("records")}


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def exports() -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in (COSTS, TWILIO, XAI)]


def test_the_pilot_ledger_against_the_sample_exports(ledger):
    at = open_view("outbound-sales")
    assert any("Upload a spend log or a ledger" in c.value for c in at.caption)
    put(at, "rec_recorded", [("spend.db", ledger)])
    put(at, "rec_exports", exports())
    run(at)
    assert not at.error, [e.value for e in at.error]
    rows = table(at)
    days = ("2026-11-24", "2026-11-25", "2026-11-26")
    assert set(rows) == {(d, m) for d in days for m in (MINI, TWI, GROK)}
    nov25 = rows[("2026-11-25", MINI)]
    # billed $16.285 against $15.41 recorded: +$0.875 = +5.678% of recorded, over 5%
    assert (nov25["Recorded"], nov25["Billed"]) == (15.41, 16.285)
    assert nov25["Billed − recorded"] == pytest.approx(0.875)
    assert nov25["Billed − recorded (%)"] == pytest.approx(5.678131, abs=1e-6)
    assert nov25["Over the threshold"] == "billed" and nov25["Billed from"] == "the bill"
    flagged = [k for k, r in rows.items() if r["Over the threshold"]]
    assert flagged == [("2026-11-25", MINI)]        # xAI's +$0.005 is under the cent floor
    assert rows[("2026-11-26", GROK)]["Billed − recorded"] == pytest.approx(0.005)
    # outbound-sales' first stack: ~$0.39 of realtime mini and ~$0.042 of Twilio a call
    assert rows[("2026-11-24", MINI)]["Calls"] == 40
    assert 14 < rows[("2026-11-24", MINI)]["Estimate"] < 17.5
    assert 1.9 < rows[("2026-11-25", TWI)]["Estimate"] < 2.4        # 51 calls
    # totals: recorded 45.214 + 6.356 + 3.755 = 55.325; billed 46.112 + 6.356 + 3.76 = 56.228
    m = metrics(at)
    assert (m["Recorded"], m["Billed"]) == ("$55.3250", "$56.2280")
    assert m["Over 5%"] == "1 of 9 rows"
    assert at.selectbox(key="rec_model").value == MINI              # the most recorded first
    assert at.get("vega_lite_chart")

    at.number_input(key="rec_threshold").set_value(6.0)             # 5.678% is under 6%
    at.selectbox(key="rec_model").set_value(GROK)
    run(at)
    assert metrics(at)["Over 6%"] == "0 of 9 rows"


def test_the_files_and_settings_survive_another_view_until_forgotten(ledger):
    at = open_view("outbound-sales")
    put(at, "rec_recorded", [("spend.db", ledger)])
    put(at, "rec_exports", exports())
    at.number_input(key="rec_threshold").set_value(6.0)
    run(at)
    at.selectbox(key="rec_model").set_value(GROK)
    run(at)
    at.radio(key="view").set_value("Monthly cost")
    run(at)
    at.radio(key="view").set_value("Reconcile")
    run(at)
    # the uploaders are empty again (Streamlit drops an undrawn widget's files): the files
    # uploaded earlier are reconciled, said so, with the threshold and model as they were
    assert any("the files uploaded earlier: spend.db, openai-costs.json" in c.value
               for c in at.caption)
    assert at.number_input(key="rec_threshold").value == 6.0
    assert at.selectbox(key="rec_model").value == GROK
    assert metrics(at)["Over 6%"] == "0 of 9 rows" and len(table(at)) == 9
    at.button(key="rec_forget").click()
    run(at)
    assert any("Upload a spend log or a ledger" in c.value for c in at.caption)
    assert not any("Over the threshold" in d.value.columns for d in at.dataframe)


def test_a_file_that_cannot_be_read_is_named_and_the_last_table_stays_stale(ledger, tmp_path):
    at = open_view("outbound-sales")
    put(at, "rec_recorded", [("spend.db", ledger)])
    put(at, "rec_exports", [(XAI.name, XAI.read_bytes())])
    run(at)
    assert table(at)
    bill = b"date,model,usd\n2026-11-24,gpt-realtime-mini,1\n2026-11-25,gpt-realtime-mini,x\n"
    put(at, "rec_exports", [("bill.csv", bill)])
    run(at)
    [error] = [e.value for e in at.error]
    assert "bill.csv:3: usd: expected a number" in error
    assert "costmodel-reconcile" not in error and "/tmp" not in error
    assert any("Stale" in w.value for w in at.warning)
    assert ("2026-11-24", GROK) in table(at)                       # the last good table


def test_two_ledgers_or_a_file_that_is_no_ledger_are_said_plainly(ledger):
    with pytest.raises(InputError, match="spend logs or one ledger .* not both: a.db, b.db"):
        reconcile_uploads([("a.db", ledger), ("b.db", ledger)], [], None)
    with pytest.raises(CostModelError, match="ledger notes.db: open: .*not a database"):
        reconcile_uploads([("notes.db", b"not sqlite" * 20)], [], None)


@pytest.mark.skipif(not spend_log_supported(), reason="PipecatBudget has no spend_log= yet")
def test_a_spend_log_against_a_bill_and_the_editors_scenario(tmp_path):
    log = tmp_path / "spend.jsonl"
    write_spend_log(TrueParams(seed=4, duration_mean_min=2.0, duration_p95_min=5.0), 4, log)
    # The bill: what was recorded per day and model (the library's split of each session by
    # re-pricing its usage trail, now one row per model of the chain), but the model that
    # cost most billed half as much again: over 5%, and over the one-cent floor.
    recorded = recorded_from_spend_logs([log]).days
    top = max(recorded, key=lambda d: d.usd)
    assert top.usd / 2 > Decimal("0.01")
    bill = "date,model,usd\n" + "".join(
        f"{d.day},{d.model},{d.usd * (Decimal('1.5') if d is top else 1)}\n" for d in recorded)
    at = open_view("support-line")                 # it has the chained stack of the log
    put(at, "rec_recorded", [("spend.jsonl", log.read_bytes())])
    put(at, "rec_exports", [("bill.csv", bill.encode())])
    run(at)
    assert not at.error, [e.value for e in at.error]
    rows = table(at)
    # one row per day and model the library's split gives, every one estimated from
    # support-line's chained stack for the 4 calls
    assert set(rows) == {(d.day.isoformat(), d.model) for d in recorded}
    assert {m for _, m in rows} <= set(CHAINED)
    for (_, model), r in rows.items():
        assert r["Calls"] == 4 and r["Estimate"] > 0
        if model == top.model:
            assert r["Billed − recorded (%)"] == pytest.approx(50.0)
            assert "billed" in r["Over the threshold"]
        else:
            # billed as recorded (up to the 28th digit of the amounts' text)
            assert r["Billed − recorded"] == pytest.approx(0, abs=1e-12)
            assert "billed" not in r["Over the threshold"]


def test_the_chart_has_a_bar_per_day_and_series_and_marks_flagged_days(ledger):
    result = reconcile_uploads([("spend.db", ledger)], exports(), None)
    mini = result.by_model()[MINI][0]
    df = day_frame(mini)
    # no scenario: no estimate; recorded and billed on each of the 3 days
    assert len(df) == 6 and set(df.series) == {SERIES["recorded"], SERIES["billed"]}
    assert list(df[df.flag != ""].day.unique()) == ["2026-11-25"]
    assert json.dumps(list(df.usd)) == json.dumps([15.204, 15.204, 15.41, 16.285, 14.6,
                                                   14.623])
