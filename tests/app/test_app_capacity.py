"""The Capacity view and the one self-hosting price in the dashboard (AppTest)."""

from __future__ import annotations

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

from .test_app import APP, FLAT, monthly, run

MOSHI = "selfhost/moshi"


@pytest.fixture
def app() -> AppTest:
    at = run(AppTest.from_file(APP, default_timeout=90))
    at.multiselect(key="w_singles").set_value([FLAT, MOSHI])
    at.multiselect(key="w_pipeline_sel").set_value([])
    return run(at)


def test_capacity_view_shows_hours_binding_limits_and_gpus(app):
    # support-line: 60,000 calls, business-hours; busy hour 11:00, P99 35 in progress:
    # Moshi (8 sessions per H100) needs ceil(35 / 8) = 5 GPUs, 5 x $2.79 x 730 h = $10,183.50.
    app.radio(key="view").set_value("Capacity")
    run(app)
    assert not app.error
    text = " ".join(m.value for m in app.markdown)
    assert "Busy hour 11:00" in text and "P99 35" in text
    df = app.dataframe[0].value  # the capacity table
    rows = {r["Stack id"]: r for r in df.to_dict("records")}
    assert rows[MOSHI]["GPUs"] == 5
    assert "always on: 5 GPUs" in rows[MOSHI]["Self-hosting"]
    assert "P99 35 concurrent, $10,184/month" in rows[MOSHI]["Self-hosting"]
    assert rows[FLAT]["Binding limit"] == "none known" and rows[FLAT]["Unknown limits"] > 0
    assert any("Erlang C" in c.value for c in app.caption)


def test_monthly_cost_and_break_even_show_one_self_host_price(app):
    assert monthly(app)[MOSHI] == pytest.approx(5 * 2.79 * 730)
    app.radio(key="view").set_value("Self-hosting break-even")
    run(app)
    shown = {m.label: m.value for m in app.metric}
    assert shown["Self-hosting GPUs at this volume"] == "$10,184/month"
